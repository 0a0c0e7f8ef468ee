"""report indexes: a week's report reads the week, not every enrollment, lead, task and decision

``cadence report`` selects enrollments by ``enrolled_at``, names and leads by ``created_at``, tasks
and decisions tied to no enrollment by their time, counts open overdue tasks per owner, and counts
leads per stage with the median time in it. Without these indexes each is a sequential scan of its
table whatever the period (benchmarks/reports.py). On PostgreSQL, the columns a period's touches
and tasks are reached by get a bigger statistics sample (see :data:`SAMPLED`).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
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


# PostgreSQL estimates distinct values from a sample of 30,000 rows (statistics target 100). For
# touches.enrollment_id (about 8 rows per value, stored together) it saw 150,000 of 913,000 at 1M
# leads, expected 48 touches per enrollment, and planned a week's touches as a scan of all 7.2M
# (4.7 s) instead of 5,000 index look-ups (0.09 s). A bigger sample for these columns fixes the
# estimate; the planner still chooses (no override).
SAMPLED = {"touches": ("enrollment_id", "lead_id"), "tasks": ("lead_id",)}
STATISTICS = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, sampled in SAMPLED.items():
            for column in sampled:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS {STATISTICS}")
    for name, (table, columns) in PLAIN.items():
        op.create_index(name, table, columns, unique=False)
    for name, (table, columns, where) in PARTIAL.items():
        op.create_index(
            name, table, columns, unique=False, sqlite_where=sa.text(where), postgresql_where=sa.text(where)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, sampled in SAMPLED.items():
            for column in sampled:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS -1")
    for name, (table, _columns, _where) in PARTIAL.items():
        op.drop_index(name, table_name=table)
    for name, (table, _columns) in PLAIN.items():
        op.drop_index(name, table_name=table)
