"""inbound mail: the replies mailbox's read state and the messages read from it

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cadence.adapters.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailbox_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", cadence.adapters.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_states")),
        sa.UniqueConstraint("folder", name=op.f("uq_mailbox_states_folder")),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("touch_id", sa.Integer(), nullable=True),
        sa.Column("received_at", cadence.adapters.models.UTCDateTime(), nullable=True),
        sa.Column("processed_at", cadence.adapters.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name=op.f("fk_inbound_messages_lead_id_leads")),
        sa.ForeignKeyConstraint(["touch_id"], ["touches.id"], name=op.f("fk_inbound_messages_touch_id_touches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("folder", "uidvalidity", "uid", name=op.f("uq_inbound_messages_folder_uidvalidity_uid")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_messages_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_messages_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_message_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_messages_lead_id"))
    op.drop_table("inbound_messages")
    op.drop_table("mailbox_states")
