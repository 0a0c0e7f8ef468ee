"""phone-only leads: a contact known only by phone has no email address

``leads.email`` becomes nullable: a colleague a rep learned of on a call may have a phone number
and no address; ``#ID`` names such a lead. The unique constraint stays: both databases keep any
number of NULLs apart (PostgreSQL's default NULLS DISTINCT, SQLite's UNIQUE), so two addresses
still never make one lead twice.

SQLite cannot drop a NOT NULL with ALTER TABLE, and rebuilding ``leads`` is refused by the
foreign keys of every table that references it once there are rows (see 0008). SQLite documents a
procedure for exactly this change (https://www.sqlite.org/lang_altertable.html, "removing CHECK or
FOREIGN KEY or NOT NULL constraints"): the table's stored definition is edited in place and the
schema version bumped, in the migration's transaction; rows, indexes and references stay as they are.

A downgrade refuses while a lead has no address: restoring NOT NULL would need an invented
address, which the older version would try to send to.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 23:00:00.000000
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_NOT_NULL = re.compile(r"(\bemail\s+VARCHAR\(320\))\s+NOT NULL", re.IGNORECASE)
_NULLABLE = re.compile(r"(\bemail\s+VARCHAR\(320\))(?=\s*,)", re.IGNORECASE)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_sqlite_definition(lambda sql: _NOT_NULL.sub(r"\1", sql, count=1))
    else:
        op.alter_column("leads", "email", existing_type=sa.String(length=320), nullable=True)


def downgrade() -> None:
    bind = op.get_bind()
    missing = bind.execute(sa.text("SELECT count(*) FROM leads WHERE email IS NULL")).scalar() or 0
    if missing:
        raise RuntimeError(
            f"{missing} lead(s) have no email address (known by phone only): a version before 0021 "
            "cannot hold them without inventing an address it would send to; stay on this version"
        )
    if bind.dialect.name == "sqlite":
        _rewrite_sqlite_definition(lambda sql: _NULLABLE.sub(r"\1 NOT NULL", sql, count=1))
    else:
        op.alter_column("leads", "email", existing_type=sa.String(length=320), nullable=False)


def _rewrite_sqlite_definition(change: Callable[[str], str]) -> None:
    """Edit ``leads``' stored CREATE TABLE with ``change`` (SQLite's documented in-place procedure)."""
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'leads'")).scalar_one()
    new_sql = change(sql)
    if new_sql == sql:
        raise RuntimeError("leads.email is not defined as this migration expects: the schema was changed by hand")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    try:
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'leads'"), {"sql": new_sql}
        )
        bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    finally:
        bind.execute(sa.text("PRAGMA writable_schema = OFF"))
