"""The migrations build exactly the schema the models declare, on SQLite and on PostgreSQL.

A model change without its migration (or the reverse) is caught here, not in production.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cadence.adapters.db import make_engine
from cadence.adapters.models import Base


def test_the_migrated_database_has_every_table_column_and_index_of_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
