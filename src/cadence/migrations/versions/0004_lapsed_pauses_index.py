"""lapsed pauses index: finding paused enrollments whose pause has ended costs O(lapsed), not O(enrollments)

Every advance batch looks for paused enrollments whose ``paused_until`` has passed; without an index
that is a sequential scan of all enrollments (benchmarks/scale.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollments_paused_until",
            ["paused_until"],
            unique=False,
            sqlite_where=sa.text("state = 'paused'"),
            postgresql_where=sa.text("state = 'paused'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollments", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_enrollments_paused_until",
            sqlite_where=sa.text("state = 'paused'"),
            postgresql_where=sa.text("state = 'paused'"),
        )
