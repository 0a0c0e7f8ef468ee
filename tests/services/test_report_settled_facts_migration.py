"""Migration 0025 on SQLite and PostgreSQL: down to 0024 and up again, tables, columns and indexes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from cadence.adapters.db import make_engine
from cadence.adapters.schema import alembic_config, current_revision, upgrade


def shape(engine: sa.Engine) -> tuple[set[str], set[str]]:
    """The report tables' columns (``table.column``) and the tasks' index names."""
    inspector = sa.inspect(engine)
    columns = {
        f"{table}.{column['name']}"
        for table in ("report_settled_facts", "report_rollup_mark")
        if inspector.has_table(table)
        for column in inspector.get_columns(table)
    }
    return columns, {str(index["name"]) for index in inspector.get_indexes("tasks")}


def test_0025_goes_down_and_up(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config()
    try:
        columns, indexes = shape(engine)
        assert {f"report_rollup_mark.seen_{n}_id" for n in ("touch", "task", "response", "decision")} <= columns
        assert "report_settled_facts.touched_at" in columns
        assert "ix_tasks_enrollment_status_completed" in indexes
        assert "ix_tasks_enrollment_id" not in indexes
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0024")
        assert current_revision(engine) == "0024"
        columns, indexes = shape(engine)
        assert columns == set()
        assert "ix_tasks_enrollment_id" in indexes
        assert "ix_tasks_enrollment_status_completed" not in indexes
    finally:
        upgrade(engine)
    try:
        assert current_revision(engine) == "0025"
        assert shape(engine)[1] >= {"ix_tasks_enrollment_status_completed"}
    finally:
        engine.dispose()
