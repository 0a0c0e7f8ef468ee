"""accounts: the companies leads work at, one owner each, merges and splits recorded

``accounts`` (its ``key`` matches leads: an explicit key, the address's company domain, else the
normalized company name) and ``account_changes`` (merges, splits, reassignments, as decided).
``leads`` gains ``account_id`` and ``buying_role``; ``enrollments`` gains ``held_by_lead_id`` (paused
because that colleague answered). Existing leads get their accounts here, matched as an import
matches them; an account's owner is the owner of its earliest lead (colleagues owned by other reps
keep their owner until a manager reassigns the account).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from cadence.core.accounts import account_match

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_LEADS = sa.table(
    "leads",
    sa.column("id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("company", sa.String),
    sa.column("owner_id", sa.Integer),
    sa.column("account_id", sa.Integer),
)
_ACCOUNTS = sa.table(
    "accounts",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("name", sa.String),
    sa.column("domain", sa.String),
    sa.column("name_key", sa.String),
    sa.column("owner_id", sa.Integer),
    sa.column("created_at", sa.DateTime),
)


def _add_reference(table: str, column: str, target: str) -> None:
    # Plain ADD COLUMN, no batch: rebuilding ``leads`` on SQLite would drop a table that every other
    # one references, which its foreign keys refuse once there are rows (see 0008).
    name = f"fk_{table}_{column}_{target}"
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, target, [column], ["id"])


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=220), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("name_key", sa.String(length=220), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["reps.id"], name=op.f("fk_accounts_owner_id_reps")),
        sa.ForeignKeyConstraint(["merged_into_id"], ["accounts.id"], name=op.f("fk_accounts_merged_into_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("key", name=op.f("uq_accounts_key")),
    )
    op.create_index(op.f("ix_accounts_domain"), "accounts", ["domain"], unique=False)
    op.create_index(op.f("ix_accounts_name_key"), "accounts", ["name_key"], unique=False)
    op.create_table(
        "account_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("other_account_id", sa.Integer(), nullable=True),
        sa.Column("lead_ids", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=320), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_changes_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["other_account_id"], ["accounts.id"], name=op.f("fk_account_changes_other_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_changes")),
    )
    op.create_index(op.f("ix_account_changes_account_id"), "account_changes", ["account_id"], unique=False)
    _add_reference("leads", "account_id", "accounts")
    op.add_column("leads", sa.Column("buying_role", sa.String(length=20), nullable=True))
    op.create_index(op.f("ix_leads_account_id"), "leads", ["account_id"], unique=False)
    # No foreign key: a second reference to leads would make every join of the two tables ambiguous.
    op.add_column("enrollments", sa.Column("held_by_lead_id", sa.Integer(), nullable=True))
    _backfill()


def _backfill() -> None:
    """Every existing lead gets its account (by domain, else company name, else its own address)."""
    bind = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    accounts: dict[str, int] = {}
    by_name: dict[str, int] = {}
    rows = bind.execute(
        sa.select(_LEADS.c.id, _LEADS.c.email, _LEADS.c.company, _LEADS.c.owner_id).order_by(_LEADS.c.id)
    ).all()
    for lead_id, email, company, owner_id in rows:
        match = account_match(email, company)
        account_id = accounts.get(match.key)
        if account_id is None and match.domain is None and match.name_key is not None:
            account_id = by_name.get(match.name_key)  # a free-mail colleague of a company we know by name
        if account_id is None:
            account_id = bind.execute(
                sa.insert(_ACCOUNTS)
                .values(
                    key=match.key,
                    name=company,
                    domain=match.domain,
                    name_key=match.name_key,
                    owner_id=owner_id,
                    created_at=now,
                )
                .returning(_ACCOUNTS.c.id)
            ).scalar_one()
            accounts[match.key] = account_id
            if match.name_key is not None:
                by_name.setdefault(match.name_key, account_id)
        bind.execute(sa.update(_LEADS).where(_LEADS.c.id == lead_id).values(account_id=account_id))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":  # SQLite drops the column's constraint with it
        op.drop_constraint("fk_leads_account_id_accounts", "leads", type_="foreignkey")
    op.drop_column("enrollments", "held_by_lead_id")
    op.drop_index(op.f("ix_leads_account_id"), table_name="leads")
    op.drop_column("leads", "buying_role")
    op.drop_column("leads", "account_id")
    op.drop_index(op.f("ix_account_changes_account_id"), table_name="account_changes")
    op.drop_table("account_changes")
    op.drop_index(op.f("ix_accounts_name_key"), table_name="accounts")
    op.drop_index(op.f("ix_accounts_domain"), table_name="accounts")
    op.drop_table("accounts")
