"""reports at scale: the facts of settled enrollments, kept between reports

``report_settled_facts`` holds what became of each settled enrollment (ended long enough ago, no
open task, no step that may still change), as the report's facts table has it, so that a report
reads them instead of looking up every enrollment's touches, tasks, responses and decisions again.
``report_rollup_mark`` is one row: the largest touch, task, response and decision ids the last
roll-up saw (``seen_*``) and those of the roll-up before it, which reports check against (a later
row makes its enrollment's facts computed afresh).

``ix_tasks_enrollment_status_completed`` replaces ``ix_tasks_enrollment_id`` (0024): the facts look up
an enrollment's done tasks and the first one's completion time. Without statistics (no ``ANALYZE``)
SQLite read them through ``ix_tasks_status_completed`` by status alone, once per enrollment.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cadence.adapters.models import UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_enrollment_status_completed", "tasks", ["enrollment_id", "status", "completed_at"])
    op.drop_index("ix_tasks_enrollment_id", table_name="tasks")
    op.create_table(
        "report_settled_facts",
        sa.Column("enrollment_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=False),
        sa.Column("cadence", sa.String(63), nullable=False),
        sa.Column("contacted", sa.Integer(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("touched_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_report_settled_facts_enrolled_at", "report_settled_facts", ["enrolled_at"])
    op.create_table(
        "report_rollup_mark",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("touch_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("seen_touch_id", sa.Integer(), nullable=False),
        sa.Column("seen_task_id", sa.Integer(), nullable=False),
        sa.Column("seen_response_id", sa.Integer(), nullable=False),
        sa.Column("seen_decision_id", sa.Integer(), nullable=False),
        sa.Column("rolled_at", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("report_rollup_mark")
    op.drop_index("ix_report_settled_facts_enrolled_at", table_name="report_settled_facts")
    op.drop_table("report_settled_facts")
    op.create_index("ix_tasks_enrollment_id", "tasks", ["enrollment_id"])
    op.drop_index("ix_tasks_enrollment_status_completed", table_name="tasks")
