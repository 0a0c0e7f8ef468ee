"""A lead of Rita's on the default cadence, for the stage, pass-back, undo and response-SLA tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cadence.adapters.models import Lead
from cadence.core.events import Responded
from cadence.core.intent import Reading, Referral
from cadence.services.context import Context
from cadence.services.enrollments import Applied, handle
from tests.flows.conftest import lead_row, seed

MONDAY = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 in New York
LEAD = "lead0@acme.example"


@pytest.fixture
def seeded(ctx: Context) -> Context:
    """The context, with Rita owning lead0 on the default cadence since Monday."""
    seed(ctx, [lead_row(0)], now=MONDAY)
    return ctx


def lead_of(session: object, email: str = LEAD) -> Lead:
    """The lead with ``email``."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    return session.scalars(select(Lead).where(Lead.email == email)).one()


def reply(
    ctx: Context,
    intent: str,
    *,
    at: datetime,
    confidence: float = 0.95,
    note: str = "a reply",
    referral: Referral | None = None,
    named: object = None,
    email: str = LEAD,
) -> Applied:
    """A reply from the lead read as ``intent``, applied through the one rule."""
    from datetime import date

    reading = Reading(
        intent=intent,  # type: ignore[arg-type]
        confidence=confidence,
        date=named if isinstance(named, date) else None,
        referral=referral,
        evidence=(f"words of {intent}",),
    )
    with ctx.sessions() as s, s.begin():
        event = Responded(kind="reply", channel="email", note=note, reading=reading)
        return handle(s, lead_of(s, email), event, at=at, settings=ctx.settings)
