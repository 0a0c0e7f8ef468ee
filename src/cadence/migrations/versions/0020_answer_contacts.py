"""answer contacts: a qualifying answer can name a contact of the lead's account

``qualifying_answers`` gains ``contact_id`` (the lead an answer such as "who decides" points at;
the answer text keeps the contact's name as it was then).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 21:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch rebuild (see 0008): SQLite takes the reference inline.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE qualifying_answers ADD COLUMN contact_id INTEGER "
            "CONSTRAINT fk_qualifying_answers_contact_id_leads REFERENCES leads (id)"
        )
    else:
        op.add_column("qualifying_answers", sa.Column("contact_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_qualifying_answers_contact_id_leads", "qualifying_answers", "leads", ["contact_id"], ["id"]
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":  # SQLite drops the column's constraint with it
        op.drop_constraint("fk_qualifying_answers_contact_id_leads", "qualifying_answers", type_="foreignkey")
    op.drop_column("qualifying_answers", "contact_id")
