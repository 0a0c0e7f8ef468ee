"""sending mailboxes, DKIM keys of sending domains, paused cadences

``sending_mailboxes``: a rep's own mailboxes (SMTP server, daily and per-minute caps, ramp-up,
pacing state, paused or not). ``enrollments.mailbox_id`` is the one mailbox a lead's emails leave
from for its whole cadence; ``touches.mailbox_id`` the mailbox an email went out from (what the caps
and the bounce guard count). ``sending_domains``: the DKIM selector and key source of each domain.
``cadence_pauses``: cadences the bounce guard stopped. ``leads.address_flag`` and
``address_warning``: a role address or a disposable domain, flagged at intake. Existing rows keep
nulls: they send through the global SMTP server as before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sending_mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("smtp_host", sa.String(length=253), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_tls", sa.String(length=10), nullable=False),
        sa.Column("smtp_username", sa.String(length=320), nullable=True),
        sa.Column("password_block", sa.String(length=200), nullable=True),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("per_minute", sa.Integer(), nullable=True),
        sa.Column("ramp_start", sa.Integer(), nullable=True),
        sa.Column("ramp_step", sa.Integer(), nullable=True),
        sa.Column("ramp_max", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("paused_at", sa.DateTime(), nullable=True),
        sa.Column("first_sent_on", sa.Date(), nullable=True),
        sa.Column("next_send_at", sa.DateTime(), nullable=True),
        sa.Column("guard_since", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("state IN ('active', 'paused', 'removed')", name=op.f("ck_sending_mailboxes_state")),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"], name=op.f("fk_sending_mailboxes_rep_id_reps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sending_mailboxes")),
        sa.UniqueConstraint("address", name=op.f("uq_sending_mailboxes_address")),
    )
    op.create_index("ix_sending_mailboxes_rep_id", "sending_mailboxes", ["rep_id"], unique=False)
    op.create_table(
        "sending_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("key_file", sa.Text(), nullable=True),
        sa.Column("key_block", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("(key_file IS NULL) <> (key_block IS NULL)", name=op.f("ck_sending_domains_one_key_source")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sending_domains")),
        sa.UniqueConstraint("domain", name=op.f("uq_sending_domains_domain")),
    )
    op.create_table(
        "cadence_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cadence_name", sa.String(length=63), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.Column("resumed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cadence_pauses")),
        sa.UniqueConstraint("cadence_name", name=op.f("uq_cadence_pauses_cadence_name")),
    )
    # Plain ADD COLUMN (see 0008): the new columns reference sending_mailboxes.
    for table in ("enrollments", "touches"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN mailbox_id INTEGER "
                f"CONSTRAINT fk_{table}_mailbox_id_sending_mailboxes REFERENCES sending_mailboxes (id)"
            )
        else:
            op.add_column(table, sa.Column("mailbox_id", sa.Integer(), nullable=True))
            op.create_foreign_key(
                f"fk_{table}_mailbox_id_sending_mailboxes", table, "sending_mailboxes", ["mailbox_id"], ["id"]
            )
    op.create_index("ix_touches_mailbox_id", "touches", ["mailbox_id"], unique=False)
    op.add_column("leads", sa.Column("address_flag", sa.String(length=20), nullable=True))
    op.add_column("leads", sa.Column("address_warning", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("leads", "address_warning")
    op.drop_column("leads", "address_flag")
    op.drop_index("ix_touches_mailbox_id", table_name="touches")
    for table in ("touches", "enrollments"):
        if op.get_bind().dialect.name != "sqlite":
            op.drop_constraint(f"fk_{table}_mailbox_id_sending_mailboxes", table, type_="foreignkey")
        op.drop_column(table, "mailbox_id")
    op.drop_table("cadence_pauses")
    op.drop_table("sending_domains")
    op.drop_index("ix_sending_mailboxes_rep_id", table_name="sending_mailboxes")
    op.drop_table("sending_mailboxes")
