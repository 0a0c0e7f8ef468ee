"""reps' notes and outside contacts; the research task's findings on the lead

``lead_notes`` holds a rep's notes and the contacts made outside the cadence (a call from the rep's
own phone, a LinkedIn message, a meeting in person) with their outcome. ``leads.why_now`` and
``leads.topic`` keep what the research task found (null for existing rows: nothing was researched).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 21:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cadence.adapters.models

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_UTC = cadence.adapters.models.UTCDateTime


def upgrade() -> None:
    # Plain ADD COLUMN, no batch rebuild (see 0008).
    op.add_column("leads", sa.Column("why_now", sa.String(length=500), nullable=True))
    op.add_column("leads", sa.Column("topic", sa.String(length=200), nullable=True))
    op.create_table(
        "lead_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("created_at", _UTC(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_lead_notes_lead_id"), "lead_notes", ["lead_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lead_notes_lead_id"), table_name="lead_notes")
    op.drop_table("lead_notes")
    op.drop_column("leads", "topic")
    op.drop_column("leads", "why_now")
