"""Fixtures for flow tests: settings pointing at real servers (the session's Prefect server, the SMTP sink)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.leads import make_lead
from cadence.services.context import Context
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep
from tests.conftest import TEMPLATES


@pytest.fixture
def flow_env(
    prefect_harness: None, database_url: str, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> SmtpSink:
    """Environment for flows: the test database, the shipped templates and the SMTP sink."""
    monkeypatch.setenv("CADENCE_DATABASE_URL", database_url)
    monkeypatch.setenv("CADENCE_TEMPLATES_DIR", str(TEMPLATES))
    monkeypatch.setenv("CADENCE_SMTP_HOST", smtp_sink.host)
    monkeypatch.setenv("CADENCE_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("CADENCE_SMTP_CONNECTIONS", "3")
    monkeypatch.setenv("CADENCE_MAIL_DOMAIN", "mail.cadence.example")
    monkeypatch.setenv("CADENCE_BATCH_SIZE", "7")
    return smtp_sink


def templates_with_subject(folder: Path, subject: str) -> Path:
    """A copy of the shipped templates in ``folder`` whose introduction email's subject starts with ``subject``."""
    templates = folder / "templates"
    shutil.copytree(TEMPLATES, templates)
    intro = templates / "email" / "introduction.j2"
    intro.write_text(intro.read_text().replace("{% block subject %}", "{% block subject %}" + subject, 1))
    return templates


def lead_row(i: int, email: str | None = None, **extra: str) -> ImportRow:
    """A lead that fits the persona and is class A (default cadence) unless ``extra`` says otherwise."""
    values = {
        "email": email or f"lead{i}@acme.example",
        "first_name": f"Lead{i}",
        "last_name": "Tester",
        "title": "VP Engineering",
        "company": "Acme",
        "industry": "Software",
        "company_size": "500",
        "source": "webinar",
        "interactions": "3",
        "timezone": "America/New_York",
        "country": "US",
        "address_line1": "1 Main St",
        "city": "New York",
        "postal_code": "10001",
    }
    values["account"] = values["email"]  # each test lead its own account, unless a test puts colleagues together
    values.update(extra)
    return ImportRow(i + 2, make_lead(values))


def seed(
    ctx: Context, rows: list[ImportRow], *, now: datetime, cap: int | None = None, cadence: str | None = None
) -> None:
    """One rep (Rita, New York) owning ``rows``, enrolled at ``now``."""
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@cadence.example", "Rita Alvarez", now=now, timezone="America/New_York",
                daily_email_cap=cap, signature="Rita | Acme Sales")  # fmt: skip
        import_leads(s, rows, now=now, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                     cadence_override=cadence)  # fmt: skip
