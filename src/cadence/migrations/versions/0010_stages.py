"""stages of maturation, pass-back to lead development, undoable intent actions

``leads`` gains ``stage`` and ``stage_entered_at`` (None: the first stage, since the lead was
created) and ``home_owner_id`` (the owner a passed-back lead returns to); ``reps`` gains ``role``
(None: a rep; ``developer``: works the lead-development queue). ``stage_changes`` is each lead's
stage history; ``lead_actions`` what a reply's intent did on its own, and whether its owner undid it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch rebuild of ``leads`` (see 0008).
    op.add_column("leads", sa.Column("stage", sa.String(length=63), nullable=True))
    op.add_column("leads", sa.Column("stage_entered_at", sa.DateTime(), nullable=True))
    op.create_index("ix_leads_stage", "leads", ["stage"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE leads ADD COLUMN home_owner_id INTEGER "
            "CONSTRAINT fk_leads_home_owner_id_reps REFERENCES reps (id)"
        )
    else:
        op.add_column("leads", sa.Column("home_owner_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_leads_home_owner_id_reps", "leads", "reps", ["home_owner_id"], ["id"])
    op.add_column("reps", sa.Column("role", sa.String(length=20), nullable=True))
    op.create_table(
        "stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=63), nullable=False),
        sa.Column("previous", sa.String(length=63), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_stage_changes_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_changes")),
    )
    op.create_index(op.f("ix_stage_changes_lead_id"), "stage_changes", ["lead_id"], unique=False)
    op.create_table(
        "lead_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("undo", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by", sa.String(length=320), nullable=True),
        sa.Column("undo_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_lead_actions_lead_id_leads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_actions")),
    )
    op.create_index(op.f("ix_lead_actions_lead_id"), "lead_actions", ["lead_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lead_actions_lead_id"), table_name="lead_actions")
    op.drop_table("lead_actions")
    op.drop_index(op.f("ix_stage_changes_lead_id"), table_name="stage_changes")
    op.drop_table("stage_changes")
    op.drop_column("reps", "role")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_leads_home_owner_id_reps", "leads", type_="foreignkey")
    op.drop_column("leads", "home_owner_id")
    op.drop_index("ix_leads_stage", table_name="leads")
    op.drop_column("leads", "stage_entered_at")
    op.drop_column("leads", "stage")
