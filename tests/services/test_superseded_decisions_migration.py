"""Migration 0007 on SQLite and PostgreSQL: the decisions a lead had before it are kept as its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command

from cadence.adapters.db import make_engine
from cadence.adapters.models import Decision, Lead
from cadence.adapters.schema import alembic_config, current_revision, upgrade

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
OLD_DECISIONS = sa.table(
    "decisions",
    sa.column("id", sa.Integer),
    sa.column("lead_id", sa.Integer),
    sa.column("outcome", sa.String),
    sa.column("decided_at", sa.DateTime),
    sa.column("qualification_skipped", sa.Boolean),
)


def lead(email: str) -> Lead:
    return Lead(email=email, kind="lead", status="decided", source_rank=1, interactions=0, custom={},
                persona_fit=False, inbound=False, created_at=T0, updated_at=T0)  # fmt: skip


def test_every_decision_but_each_leads_latest_becomes_superseded_by_the_next(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config()
    try:
        with sa.orm.Session(engine) as s, s.begin():
            ada, bob = lead("ada@x.example"), lead("bob@x.example")
            s.add_all([ada, bob])
            s.flush()
            ids = (ada.id, bob.id)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0006")
        assert current_revision(engine) == "0006"
        naive = T0.replace(tzinfo=None)
        rows = [  # Ada: three decisions, given out of order; Bob: one
            {"id": 11, "lead_id": ids[0], "outcome": "no_response", "decided_at": naive},
            {"id": 13, "lead_id": ids[0], "outcome": "meeting_booked", "decided_at": naive + timedelta(days=9)},
            {"id": 12, "lead_id": ids[0], "outcome": "not_interested", "decided_at": naive + timedelta(days=2)},
            {"id": 21, "lead_id": ids[1], "outcome": "bounced", "decided_at": naive + timedelta(days=1)},
        ]
        with engine.begin() as connection:
            connection.execute(OLD_DECISIONS.insert(), [r | {"qualification_skipped": False} for r in rows])
    finally:
        upgrade(engine)
    try:
        with sa.orm.Session(engine) as s:
            found = {
                d.id: (d.outcome, d.superseded_at, d.superseded_by_id)
                for d in s.scalars(sa.select(Decision).order_by(Decision.id))
            }
        assert found == {
            11: ("no_response", T0 + timedelta(days=2), 12),
            12: ("not_interested", T0 + timedelta(days=9), 13),
            13: ("meeting_booked", None, None),
            21: ("bounced", None, None),
        }
    finally:
        engine.dispose()
