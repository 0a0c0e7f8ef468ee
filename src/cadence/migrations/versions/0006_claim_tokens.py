"""claim tokens: each claim of a step carries a random token that every later write of its runner checks

A runner that outlives its lease (a stalled SMTP server, a paused process) must not send a step that
another runner has claimed since: the hand-off to SMTP only happens while the touch still carries
the token of the claim that marked it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
