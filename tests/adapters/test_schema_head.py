"""The schema check every command makes reads the revisions without Alembic, and agrees with it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cadence.adapters.schema import alembic_config, current_revision, head_revision


def test_the_head_read_from_the_migrations_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_the_current_revision_is_alembics_and_none_for_an_empty_database(database_url: str, tmp_path: object) -> None:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        assert (
            current_revision(engine) == MigrationContext.configure(connection).get_current_revision() == head_revision()
        )
    engine.dispose()
    empty = sa.create_engine(f"sqlite:///{tmp_path}/empty.db")
    assert current_revision(empty) is None
    empty.dispose()
