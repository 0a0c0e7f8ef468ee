"""pages at scale: indexes for the leads list and the task boards; the dashboard's snapshots

``leads`` gains (priority, email), (status, priority, email) and (owner_id, priority, email): the
workspace's list reads its first rows in that order, whatever the number of leads; (status,
created_at) gives the newest names and unfit contacts to review. ``tasks`` gains
(status, due_at), everyone's open tasks by due time, (status, completed_at), the tasks done lately,
(owner_id, due_at), one rep's tasks of every status, and (enrollment_id), an enrollment's tasks
(time to first touch, on the dashboard, reads them for the last 30 days' enrollments).
``dashboard_snapshots`` keeps the managers' dashboard's numbers, computed in the background.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cadence.adapters.models import UTCDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_leads_priority_email", "leads", ["priority", "email"]),
    ("ix_leads_status_priority_email", "leads", ["status", "priority", "email"]),
    ("ix_leads_owner_priority_email", "leads", ["owner_id", "priority", "email"]),
    ("ix_leads_status_created", "leads", ["status", "created_at"]),
    ("ix_tasks_status_due", "tasks", ["status", "due_at"]),
    ("ix_tasks_status_completed", "tasks", ["status", "completed_at"]),
    ("ix_tasks_owner_due", "tasks", ["owner_id", "due_at"]),
    ("ix_tasks_enrollment_id", "tasks", ["enrollment_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "dashboard_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
    )
    op.create_index("ix_dashboard_snapshots_taken_at", "dashboard_snapshots", ["taken_at"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_snapshots_taken_at", table_name="dashboard_snapshots")
    op.drop_table("dashboard_snapshots")
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
