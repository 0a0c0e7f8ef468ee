"""Reps receive their tasks: listing and completing them, postcards export, the morning digest."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cadence.adapters.models import Enrollment, Task
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.advance import run_until_idle
from flows.advance import flow_context, rep_digest
from tests.conftest import Cli
from tests.flows.conftest import lead_row, seed

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def test_reps_list_and_complete_their_tasks(flow_env: SmtpSink, run_cli: Cli) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1, source="contact_request", interactions="1")], now=MONDAY)
    asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=1, hours=1)))
    tasks = run_cli("tasks", "list", "--owner", "rita@cadence.example", "--json",
                    "--now", "2026-12-01T16:00:00Z").json()  # fmt: skip
    assert [t["channel"] for t in tasks] == ["call", "research"]  # the inbound call is older: first
    call = tasks[0]
    assert call["lead_email"] == "lead1@acme.example"
    assert "committed" in call["instructions"].lower() or "requirement" in call["instructions"].lower()
    bad = run_cli("tasks", "done", str(call["id"]), "--outcome", "accepted", expect=1)
    assert "connected" in bad.stderr
    no_answers = run_cli("tasks", "done", str(call["id"]), "--outcome", "connected",
                         "--decision", "meeting_booked", expect=1)  # fmt: skip
    assert "qualifying questions" in no_answers.stderr
    run_cli("tasks", "done", str(call["id"]), "--outcome", "connected", "--note", "wants a demo",
            "--decision", "meeting_booked", "--reason", "demo on Thursday", "--skip-qualification")  # fmt: skip
    shown = run_cli("leads", "show", "lead1@acme.example", "--json").json()
    assert shown["decision"]["outcome"] == "meeting_booked"
    assert shown["decision"]["qualification_skipped"] is True
    assert shown["enrollment"]["state"] == "decided"
    research = tasks[1]
    run_cli("tasks", "done", str(research["id"]), "--outcome", "done")
    assert "done already" in run_cli("tasks", "done", str(research["id"]), "--outcome", "done", expect=1).stderr
    open_now = run_cli("tasks", "list", "--due", "today", "--json", "--now", "2026-12-01T16:00:00Z").json()
    assert open_now == []
    everything = run_cli("tasks", "list", "--json").json()
    assert {t["status"] for t in everything} == {"done"}
    assert "no task" in run_cli("tasks", "done", "999", "--outcome", "done", expect=1).stderr


def test_a_decision_cancels_open_tasks(flow_env: SmtpSink, run_cli: Cli) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY)
    asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=1, hours=1)))
    run_cli("decide", "lead0@acme.example", "--outcome", "bad_fit", "--reason", "too small")
    statuses = {t["status"] for t in run_cli("tasks", "list", "--json").json()}
    assert statuses == {"cancelled"}


def test_postcards_are_exported_once_with_copy_and_address(flow_env: SmtpSink, run_cli: Cli) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0, company="=HYPERLINK(1)")], now=MONDAY)
    for day in range(1, 18):  # walk the cadence day by day, past the postcard on day 14
        asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=day, hours=1)))
    with ctx.sessions() as s:
        assert s.scalars(select(Enrollment)).one().next_step == 8  # research .. postcard done
    first = run_cli("postcards", "export", "--csv", "--now", "2026-12-31T00:00:00Z").stdout
    rows = list(csv.DictReader(io.StringIO(first)))
    assert len(rows) == 1
    assert "1 Main St" in rows[0]["address"]
    assert rows[0]["copy"]
    assert rows[0]["company"].startswith("'=")  # a formula is neutralised
    again = run_cli("postcards", "export", "--json", "--now", "2026-12-31T00:00:00Z").json()
    assert again == []


def test_each_rep_gets_one_digest_in_their_morning_with_overdue_first(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_MANAGER_EMAIL", "boss@cadence.example")
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY)
    asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=1, hours=1)))  # research tasks, Tuesday
    before = flow_env.count()
    # Thursday 07:xx in New York is 12:xx UTC: the research tasks are two days overdue.
    thursday_morning = datetime(2026, 12, 3, 12, 10, tzinfo=UTC)
    assert asyncio.run(rep_digest(now=thursday_morning - timedelta(hours=1)))["sent"] == 0  # 06:10 local
    sent = asyncio.run(rep_digest(now=thursday_morning))
    again = asyncio.run(rep_digest(now=thursday_morning + timedelta(minutes=20)))
    assert sent["sent"] == 1
    assert again["sent"] == 0
    digests = flow_env.messages()[before:]
    assert [m["To"] for m in digests] == ["Rita Alvarez <rita@cadence.example>"]
    body = digests[0].get_body(preferencelist=("plain",)).get_content()
    assert "overdue" in body.lower()
    assert "lead0@acme.example" in body or "Lead0" in body
    with ctx.sessions() as s:
        assert len(list(s.scalars(select(Task).where(Task.status == "open")))) == 2
