"""meetings and qualifying answers: a meeting's start time, the answers gathered along the way

``decisions`` gains ``meeting_at``: when the meeting a ``meeting_booked`` decision records starts
(from a calendar invitation or a booking notification; null for meetings recorded by hand).
``qualifying_answers`` keeps each answer to a qualifying question as it is given (a connected call
may answer three of seven), with who gave it and when; the lead's latest answer to each question
counts. Existing rows keep nulls.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cadence.adapters.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("meeting_at", cadence.adapters.models.UTCDateTime(), nullable=True))
    op.create_table(
        "qualifying_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=63), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=320), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", cadence.adapters.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name="fk_qualifying_answers_lead_id_leads"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_qualifying_answers_task_id_tasks"),
        sa.PrimaryKeyConstraint("id", name="pk_qualifying_answers"),
    )
    op.create_index("ix_qualifying_answers_lead_id", "qualifying_answers", ["lead_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_qualifying_answers_lead_id", table_name="qualifying_answers")
    op.drop_table("qualifying_answers")
    op.drop_column("decisions", "meeting_at")
