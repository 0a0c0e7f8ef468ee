"""reply intents: what each inbound message says, snoozed leads and referrals

``inbound_messages`` keeps the intent of each message read (:mod:`cadence.core.intent`), its
confidence, the evidence and the date it names. ``leads`` gains ``snoozed_until`` and
``snooze_cadence`` (a lead that said "not now, in March" is enrolled again then) and
``referred_by_id`` (the lead whose reply named it). Existing rows keep nulls: nothing was read by
intent before.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("named_date", sa.Date(), nullable=True))
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("snooze_cadence", sa.String(length=63), nullable=True))
        batch_op.create_foreign_key("fk_leads_referred_by_id_leads", "leads", ["referred_by_id"], ["id"])
        batch_op.create_index("ix_leads_snoozed_until", ["snoozed_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_snoozed_until")
        batch_op.drop_constraint("fk_leads_referred_by_id_leads", type_="foreignkey")
        batch_op.drop_column("snooze_cadence")
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("referred_by_id")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("named_date")
        batch_op.drop_column("evidence")
        batch_op.drop_column("confidence")
        batch_op.drop_column("intent")
