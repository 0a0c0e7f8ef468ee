"""Migration 0011 on SQLite and PostgreSQL: every existing lead gets its account, as an import would match it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from cadence.adapters.db import make_engine
from cadence.adapters.models import Account, Lead
from cadence.adapters.schema import alembic_config, current_revision, upgrade

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
OLD_LEADS = sa.table(
    "leads",
    *(sa.column(name, sa.String) for name in ("email", "company", "kind", "status")),
    sa.column("custom", sa.JSON),
    *(sa.column(name, sa.Integer) for name in ("source_rank", "interactions", "owner_id")),
    *(sa.column(name, sa.Boolean) for name in ("persona_fit", "inbound")),
    *(sa.column(name, sa.DateTime) for name in ("created_at", "updated_at")),
)
REPS = sa.table("reps", sa.column("id", sa.Integer), sa.column("email", sa.String), sa.column("name", sa.String),
                sa.column("active", sa.Boolean), sa.column("created_at", sa.DateTime))  # fmt: skip


def test_existing_leads_get_accounts_by_domain_then_company_name(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config()
    naive = T0.replace(tzinfo=None)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0008")
        assert current_revision(engine) == "0008"
        with engine.begin() as connection:
            connection.execute(REPS.insert(), [{"id": 1, "email": "rita@cadence.example", "name": "Rita",
                                                "active": True, "created_at": naive},
                                               {"id": 2, "email": "sam@cadence.example", "name": "Sam",
                                                "active": True, "created_at": naive}])  # fmt: skip
            leads = [
                ("ann@globex.example", "Globex", 1),
                ("bob@globex.example", "Globex Inc.", 2),  # another rep: kept, the account is Ann's owner's
                ("cy@gmail.com", "GLOBEX", 2),  # free mail: by the company's name
                ("dee@gmail.com", None, 1),  # nothing to go by: an account of its own
                ("eve@gmail.com", "Umbrella", 1),
            ]
            connection.execute(OLD_LEADS.insert(), [
                {"email": e, "company": c, "owner_id": o, "kind": "lead", "status": "lead", "custom": {},
                 "source_rank": 1, "interactions": 0, "persona_fit": False, "inbound": False,
                 "created_at": naive, "updated_at": naive} for e, c, o in leads])  # fmt: skip
    finally:
        upgrade(engine)
    try:
        with sa.orm.Session(engine) as s:
            account_of = {lead.email: lead.account_id for lead in s.scalars(sa.select(Lead))}
            globex = s.scalars(sa.select(Account).where(Account.domain == "globex.example")).one()
            owners = {lead.email: lead.owner_id for lead in s.scalars(sa.select(Lead))}
            assert s.scalar(sa.select(sa.func.count()).select_from(Account)) == 3
        assert account_of["ann@globex.example"] == account_of["bob@globex.example"] == account_of["cy@gmail.com"]
        assert account_of["cy@gmail.com"] == globex.id
        assert None not in account_of.values()
        assert len({account_of["dee@gmail.com"], account_of["eve@gmail.com"], globex.id}) == 3
        assert (globex.owner_id, globex.name) == (1, "Globex")
        assert owners["bob@globex.example"] == 2  # nobody's lead changes hands in a migration
    finally:
        engine.dispose()
