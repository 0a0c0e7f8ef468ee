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
    # Plain ADD COLUMN, no batch: rebuilding ``leads`` on SQLite would drop a table that every other
    # one references, which its foreign keys refuse once there are rows.
    for column in (
        sa.Column("intent", sa.String(length=30), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("named_date", sa.Date(), nullable=True),
    ):
        op.add_column("inbound_messages", column)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE leads ADD COLUMN referred_by_id INTEGER "
            "CONSTRAINT fk_leads_referred_by_id_leads REFERENCES leads (id)"
        )
    else:
        op.add_column("leads", sa.Column("referred_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_leads_referred_by_id_leads", "leads", "leads", ["referred_by_id"], ["id"])
    op.add_column("leads", sa.Column("snoozed_until", sa.DateTime(), nullable=True))
    op.add_column("leads", sa.Column("snooze_cadence", sa.String(length=63), nullable=True))
    op.create_index("ix_leads_snoozed_until", "leads", ["snoozed_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_leads_snoozed_until", table_name="leads")
    if op.get_bind().dialect.name != "sqlite":  # SQLite drops the column's constraint with it
        op.drop_constraint("fk_leads_referred_by_id_leads", "leads", type_="foreignkey")
    for name in ("snooze_cadence", "snoozed_until", "referred_by_id"):
        op.drop_column("leads", name)
    for name in ("named_date", "evidence", "confidence", "intent"):
        op.drop_column("inbound_messages", name)
