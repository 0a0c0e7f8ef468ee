"""The users migration (0005): it upgrades a fresh database and downgrades cleanly."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from cadence.adapters.db import make_engine
from cadence.adapters.schema import alembic_config, current_revision, upgrade

TABLES = {"users", "web_sessions", "login_failures"}


def test_the_users_migration_follows_the_others_in_one_line() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "the migrations branch: set down_revision of the newest one"
    revision = script.get_revision("0005")
    assert revision is not None
    assert revision.down_revision == "0004"


def test_the_users_migration_upgrades_a_fresh_database_and_downgrades_cleanly(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        upgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("login_failures")}
        assert indexes == {"ix_login_failures_email_failed_at", "ix_login_failures_client_failed_at"}
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert current_revision(engine) == "0004"
        assert not TABLES & set(sa.inspect(engine).get_table_names())
        upgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
