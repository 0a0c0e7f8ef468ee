"""report indexes: a week's report reads the week, not every enrollment, lead, task and decision

``cadence report`` selects enrollments by ``enrolled_at``, names and leads by ``created_at``, tasks
and decisions tied to no enrollment by their time, counts open overdue tasks per owner, and counts
leads per stage with the median time in it. Without these indexes each is a sequential scan of its
table whatever the period (benchmarks/reports.py).

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0020"
branch_labels = None
depends_on = None

PARTIAL = {
    "ix_tasks_open_owner_due": ("tasks", ["owner_id", "due_at"], "status = 'open'"),
    "ix_tasks_unlinked_created_at": ("tasks", ["created_at"], "enrollment_id IS NULL"),
    "ix_decisions_unlinked_decided_at": ("decisions", ["decided_at"], "enrollment_id IS NULL"),
}
PLAIN = {
    "ix_enrollments_enrolled_at": ("enrollments", ["enrolled_at"]),
    "ix_leads_created_at_kind": ("leads", ["created_at", "kind"]),
    "ix_leads_kind_stage_created_at": ("leads", ["kind", "stage", "created_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in PLAIN.items():
        op.create_index(name, table, columns, unique=False)
    for name, (table, columns, where) in PARTIAL.items():
        op.create_index(
            name, table, columns, unique=False, sqlite_where=sa.text(where), postgresql_where=sa.text(where)
        )


def downgrade() -> None:
    for name, (table, _columns, _where) in PARTIAL.items():
        op.drop_index(name, table_name=table)
    for name, (table, _columns) in PLAIN.items():
        op.drop_index(name, table_name=table)
