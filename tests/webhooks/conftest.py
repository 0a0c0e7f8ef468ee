"""Fixtures of the webhook tests: a real HTTP endpoint, a context with a short timeout, leads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cadence.core.leads import make_lead
from cadence.services.context import Context
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.webhooks.receiver import Receiver, running_receiver

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
RITA = "rita@cadence.example"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP endpoint on 127.0.0.1."""
    with running_receiver() as state:
        yield state


@pytest.fixture
def hooks_ctx(database_url: str) -> Iterator[Context]:
    """A context whose webhook attempts time out after half a second."""
    context = Context(
        Settings(
            database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC", webhook_timeout_seconds=0.5
        )
    )
    yield context
    context.close()


def import_people(ctx: Context, emails: list[str], *, at: datetime = NOW) -> None:
    """Import leads (and the rep who owns them) as an import does."""
    rows = [
        ImportRow(
            row=i + 2,
            lead=make_lead(
                {
                    "email": email,
                    "first_name": f"Lead{i}",
                    "last_name": "Tester",
                    "title": "Director",
                    "industry": "Software",
                    "company_size": "300",
                    "source": "webinar",
                    "interactions": "3",
                    "timezone": "Europe/London",
                    "country": "GB",
                }
            ),
        )
        for i, email in enumerate(emails)
    ]
    with ctx.sessions() as s, s.begin():
        if not s.info.get("rep"):
            from sqlalchemy import select

            from cadence.adapters.models import Rep

            if s.scalar(select(Rep.id).where(Rep.email == RITA)) is None:
                add_rep(s, RITA, "Rita", now=at)
        import_leads(s, rows, now=at, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                     cadence_override="default")  # fmt: skip
