"""replies read from each sending mailbox: its IMAP settings, and a read state per IMAP account

``sending_mailboxes`` gains the IMAP settings of its own inbox (host, port, TLS mode, user name,
folder, and the Prefect Secret block holding the password); a mailbox without ``imap_host`` is not
read. ``mailbox_states`` and ``inbound_messages`` gain ``account``: ``''`` for the shared replies
mailbox (``CADENCE_IMAP_*``, every existing row), else the address of the sending mailbox the folder
belongs to. Their unique keys include it, so two inboxes with an ``INBOX`` each keep their own
UIDVALIDITY and last UID.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 23:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_IMAP_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("imap_host", sa.String(length=253)),
    ("imap_port", sa.Integer()),
    ("imap_tls", sa.String(length=10)),
    ("imap_username", sa.String(length=320)),
    ("imap_folder", sa.String(length=500)),
    ("imap_password_block", sa.String(length=200)),
)


def upgrade() -> None:
    for name, type_ in _IMAP_COLUMNS:
        op.add_column("sending_mailboxes", sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("mailbox_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(length=320), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_mailbox_states_folder", type_="unique")
        batch_op.create_unique_constraint("uq_mailbox_states_account_folder", ["account", "folder"])
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(length=320), nullable=False, server_default=""))
        batch_op.drop_constraint("uq_inbound_messages_folder_uidvalidity_uid", type_="unique")
        batch_op.create_unique_constraint(
            "uq_inbound_messages_account_folder_uidvalidity_uid", ["account", "folder", "uidvalidity", "uid"]
        )


def downgrade() -> None:
    # Only the shared mailbox's rows fit the old keys: the sending mailboxes' read state goes.
    op.execute("DELETE FROM mailbox_states WHERE account <> ''")
    op.execute("DELETE FROM inbound_messages WHERE account <> ''")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbound_messages_account_folder_uidvalidity_uid", type_="unique")
        batch_op.create_unique_constraint(
            "uq_inbound_messages_folder_uidvalidity_uid", ["folder", "uidvalidity", "uid"]
        )
        batch_op.drop_column("account")
    with op.batch_alter_table("mailbox_states", schema=None) as batch_op:
        batch_op.drop_constraint("uq_mailbox_states_account_folder", type_="unique")
        batch_op.create_unique_constraint("uq_mailbox_states_folder", ["folder"])
        batch_op.drop_column("account")
    for name, _type in reversed(_IMAP_COLUMNS):
        op.drop_column("sending_mailboxes", name)
