"""superseded decisions: a lead has one current decision; a later one supersedes it, kept as history

``decisions.superseded_at`` and ``superseded_by_id`` are set on the decision a later one replaced.
Existing rows: every decision of a lead but its latest (by ``decided_at``, then id) is marked
superseded by the one that followed it, which is what lists and ``leads show`` showed already.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

from itertools import pairwise

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_DECISIONS = sa.table(
    "decisions",
    sa.column("id", sa.Integer),
    sa.column("lead_id", sa.Integer),
    sa.column("decided_at", sa.DateTime),
    sa.column("superseded_at", sa.DateTime),
    sa.column("superseded_by_id", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("superseded_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_decisions_superseded_by_id_decisions", "decisions", ["superseded_by_id"], ["id"]
        )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_DECISIONS.c.id, _DECISIONS.c.lead_id, _DECISIONS.c.decided_at).order_by(
            _DECISIONS.c.lead_id, _DECISIONS.c.decided_at, _DECISIONS.c.id
        )
    ).all()
    updates = [
        {"target": earlier.id, "at": later.decided_at, "by": later.id}
        for earlier, later in pairwise(rows)
        if earlier.lead_id == later.lead_id
    ]
    if updates:
        connection.execute(
            _DECISIONS.update()
            .where(_DECISIONS.c.id == sa.bindparam("target"))
            .values(superseded_at=sa.bindparam("at"), superseded_by_id=sa.bindparam("by")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_decisions_superseded_by_id_decisions", type_="foreignkey")
        batch_op.drop_column("superseded_by_id")
        batch_op.drop_column("superseded_at")
