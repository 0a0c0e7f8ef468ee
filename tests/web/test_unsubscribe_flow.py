"""End to end: a lead unsubscribes with the link of an email the advance flow sent, and is never emailed again."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, Lead, Suppression, Task, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.advance import next_due
from cadence.settings import Settings
from cadence.web.app import create_app
from flows.advance import advance_cadences, flow_context
from tests.flows.conftest import lead_row, seed
from tests.web.conftest import one_click

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York
SEND = MONDAY + timedelta(days=1, hours=1)  # nurture's day-1 email is due
CLICKED = SEND + timedelta(hours=3)  # when the lead clicks
LINKS = "https://links.cadence.example"


def recipients(sink: SmtpSink) -> Counter[str]:
    return Counter(re.sub(r".*<(.+)>", r"\1", str(m["To"])) for m in sink.messages())


def test_a_lead_who_unsubscribes_by_the_emails_link_is_never_emailed_again(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch, serve: Callable[[FastAPI], str]
) -> None:
    monkeypatch.setenv("CADENCE_SECRET_KEY", "end-to-end-secret")
    monkeypatch.setenv("CADENCE_BASE_URL", LINKS)
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    assert asyncio.run(advance_cadences(now=SEND))["emails_sent"] == 2

    [message] = [m for m in flow_env.messages() if "lead0@acme.example" in str(m["To"])]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(message["List-Unsubscribe"])
    assert re.search(r"<mailto:[^>]+>", header)
    found = re.search(r"<(https://[^>]+)>", header)
    assert found is not None
    link = found.group(1)
    assert link.startswith(f"{LINKS}/unsubscribe/")
    # On the wire the URIs are as they are, folded only between them: mail providers do not decode
    # RFC 2047 encoded words in this header, and their unsubscribe button would find no link.
    [raw] = [r for r in flow_env.raw_messages() if re.search(rb"^To: .*lead0@acme\.example", r, re.MULTILINE)]
    wire = re.search(rb"^List-Unsubscribe: ([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", raw, re.MULTILINE)
    assert wire is not None
    assert re.sub(rb"\r?\n ", b" ", wire.group(1)).decode("ascii") == header
    assert b"=?" not in wire.group(1)

    app = create_app(Settings(), clock=lambda: CLICKED)  # the settings the flow used: same secret, same database
    url = serve(app) + link.removeprefix(LINKS)
    with httpx.Client(timeout=10) as http:
        page = http.get(url)
        assert page.status_code == 200
        assert "le•••@acme.example" in page.text
        response = one_click(http, url)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text

    # The rest of the cadence: run the flow at every time a step falls due, until nothing is left.
    for _ in range(20):
        due = next_due(ctx)
        if due is None:
            break
        asyncio.run(advance_cadences(now=due))
    assert next_due(ctx) is None

    assert recipients(flow_env) == Counter({"lead1@acme.example": 3, "lead0@acme.example": 1})
    with ctx.sessions() as s:
        rows = s.execute(select(Lead.email, Decision.outcome).join(Decision, Decision.lead_id == Lead.id))
        outcomes = dict(rows.tuples().all())
        assert outcomes == {"lead0@acme.example": "unsubscribed", "lead1@acme.example": "no_response"}
        lead0 = s.scalars(select(Lead).where(Lead.email == "lead0@acme.example")).one()
        decision = s.scalars(select(Decision).where(Decision.lead_id == lead0.id)).one()
        assert (decision.reason, decision.decided_at) == ("unsubscribed by link", CLICKED)
        enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == lead0.id)).one()
        assert (enrollment.state, enrollment.ended_at) == ("decided", CLICKED)
        assert [t.step_index for t in s.scalars(select(Touch).where(Touch.lead_id == lead0.id))] == [0]
        assert s.scalars(select(Task).where(Task.lead_id == lead0.id)).all() == []  # not even the LinkedIn step
        assert s.execute(select(Suppression.value, Suppression.reason)).all() == [
            ("lead0@acme.example", "unsubscribed by link")
        ]
