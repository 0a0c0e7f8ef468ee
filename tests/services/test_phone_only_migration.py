"""Migration 0021 on SQLite and PostgreSQL: ``leads.email`` becomes nullable with existing rows, and back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from cadence.adapters.db import make_engine
from cadence.adapters.schema import alembic_config, current_revision, upgrade

NAIVE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).replace(tzinfo=None)
LEADS = sa.table(
    "leads",
    *(sa.column(name, sa.String) for name in ("email", "phone", "kind", "status")),
    sa.column("custom", sa.JSON),
    *(sa.column(name, sa.Integer) for name in ("id", "source_rank", "interactions", "owner_id", "referred_by_id")),
    *(sa.column(name, sa.Boolean) for name in ("persona_fit", "inbound")),
    *(sa.column(name, sa.DateTime) for name in ("created_at", "updated_at")),
)
TASKS = sa.table("tasks", *(sa.column(n, sa.Integer) for n in ("id", "lead_id", "priority")),
                 *(sa.column(n, sa.String) for n in ("channel", "title", "status")),
                 *(sa.column(n, sa.DateTime) for n in ("due_at", "created_at")))  # fmt: skip


def person(lead_id: int, email: str | None, referred_by: int | None = None) -> dict[str, object]:
    return {"id": lead_id, "email": email, "phone": "+12125550100" if email is None else None, "kind": "lead",
            "status": "lead", "custom": {}, "source_rank": 1, "interactions": 0, "owner_id": None,
            "referred_by_id": referred_by, "persona_fit": False, "inbound": False, "created_at": NAIVE,
            "updated_at": NAIVE}  # fmt: skip


def migrate(engine: sa.Engine, revision: str, *, down: bool) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_upgrade_keeps_the_rows_and_lets_in_leads_without_an_address_and_downgrade_refuses_them(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine, "0020", down=True)
        with engine.begin() as connection:
            connection.execute(LEADS.insert(), [person(1, "ann@globex.example")])
            connection.execute(TASKS.insert(), [{"id": 1, "lead_id": 1, "priority": 1, "channel": "call",
                                                 "title": "Call Ann", "status": "open", "due_at": NAIVE,
                                                 "created_at": NAIVE}])  # fmt: skip
            with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():  # before 0021 an address is needed
                connection.execute(LEADS.insert(), [person(2, None)])
        migrate(engine, "0021", down=False)  # this migration alone: the later ones are not under test
        assert current_revision(engine) == "0021"
        with engine.begin() as connection:
            connection.execute(LEADS.insert(), [person(2, None, referred_by=1), person(3, None, referred_by=1)])
            with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():  # an address is still one lead
                connection.execute(LEADS.insert(), [person(4, "ann@globex.example")])
        with engine.connect() as connection:
            rows = connection.execute(sa.select(LEADS.c.id, LEADS.c.email).order_by(LEADS.c.id)).all()
            assert [tuple(r) for r in rows] == [(1, "ann@globex.example"), (2, None), (3, None)]
            assert connection.execute(sa.select(TASKS.c.lead_id)).scalar_one() == 1  # references kept
        with pytest.raises(RuntimeError, match=r"2 lead\(s\) have no email address"):
            migrate(engine, "0020", down=True)
        assert current_revision(engine) == "0021"  # nothing changed: the refusal rolled the downgrade back
        with engine.begin() as connection:
            connection.execute(LEADS.delete().where(LEADS.c.email.is_(None)))
        migrate(engine, "0020", down=True)
        assert current_revision(engine) == "0020"
        with engine.begin() as connection:
            assert connection.execute(sa.select(LEADS.c.email)).scalars().all() == ["ann@globex.example"]
            with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():  # NOT NULL is back
                connection.execute(LEADS.insert(), [person(5, None)])
    finally:
        upgrade(engine)
        engine.dispose()
