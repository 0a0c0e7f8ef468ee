"""Small data for the managers' tests: two reps and leads they own."""

from __future__ import annotations

from datetime import UTC, datetime

from cadence.core.leads import make_lead
from cadence.services.context import Context
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
RITA, SAM = "rita@yourco.example", "sam@yourco.example"


def lead_row(number: int, email: str, owner: str, **extra: str) -> ImportRow:
    """An import row for a lead who fits and is interested (enrolled on import)."""
    first = email.split("@")[0].capitalize()
    values = {
        "email": email,
        "first_name": first,
        "last_name": "Example",
        "title": "VP Engineering",
        "company": f"{first} Ltd",
        "industry": "Software",
        "company_size": "500",
        "source": "webinar",
        "interactions": "3",
        "timezone": "America/New_York",
        "country": "US",
        "owner": owner,
    }
    values.update(extra)
    return ImportRow(number, make_lead(values))


def seed(ctx: Context, leads: dict[str, str]) -> None:
    """Rita and Sam, and ``leads`` (address: owner) imported at :data:`NOW`."""
    with ctx.sessions.begin() as s:
        add_rep(s, RITA, "Rita Alvarez", now=NOW)
        add_rep(s, SAM, "Sam Okafor", now=NOW)
        rows = [lead_row(n, email, owner) for n, (email, owner) in enumerate(leads.items(), start=2)]
        import_leads(s, rows, now=NOW, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences)
