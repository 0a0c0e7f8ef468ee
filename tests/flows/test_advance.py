"""The advance flow against a real SMTP server (aiosmtpd) and a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, Lead, Suppression, Task, Touch
from cadence.adapters.smtp_sink import SinkFaults, SmtpSink
from cadence.core.decisions import Outcome
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead
from flows.advance import advance_cadences, flow_context, follow_up_lead, simulate_cadences
from tests.flows.conftest import lead_row, seed

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York
SEND = MONDAY + timedelta(days=1, hours=1)  # Tuesday 10:00 in New York: nurture's day-1 email is due
NEW_YORK = ZoneInfo("America/New_York")


def context() -> Context:
    return flow_context()


def test_a_lead_gets_its_whole_cadence_exactly_as_planned(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(0)], now=MONDAY)
    result = asyncio.run(simulate_cadences(MONDAY, MONDAY + timedelta(days=35), every_seconds=4 * 3600))
    messages = flow_env.messages()
    # Seed 002's emails: days 2, 5, 10, 12 and 21, each at 08:00 on a business day in New York.
    assert result["emails_sent"] == 5
    assert len(messages) == 5
    local = [datetime.strptime(m["Date"], "%a, %d %b %Y %H:%M:%S %z").astimezone(NEW_YORK) for m in messages]
    assert [d.date().isoformat() for d in local] == [
        "2026-12-02",
        "2026-12-07",
        "2026-12-10",
        "2026-12-14",
        "2026-12-21",
    ]
    assert {d.strftime("%H:%M") for d in local} == {"08:00"}
    ids = [m["Message-ID"] for m in messages]
    assert len(set(ids)) == 5
    assert all(i.endswith("@mail.cadence.example>") for i in ids)
    first = messages[0]
    assert first["To"] == "Lead0 Tester <lead0@acme.example>"
    assert first["From"] == "Rita Alvarez <rita@cadence.example>"
    assert first["Reply-To"] == "rita@cadence.example"
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in first["List-Unsubscribe"]
    assert len({m["Subject"] for m in messages}) == 5  # successive emails differ
    assert "Lead0" in first.get_body(preferencelist=("plain",)).get_content()
    with ctx.sessions() as s:
        tasks = Counter(t.channel for t in s.scalars(select(Task)))
        assert tasks == Counter({"research": 1, "linkedin": 1, "call": 2, "postcard": 1})
        touches = list(s.scalars(select(Touch).order_by(Touch.step_index)))
        assert [t.state for t in touches] == ["done", "sent", "sent", "done", "done", "sent", "sent", "done", "done",
                                               "sent"]  # fmt: skip
        assert all(t.template_version for t in touches)
        assert [t.message_id for t in touches if t.channel == "email"] == ids
        decision = s.scalars(select(Decision)).one()
        assert decision.outcome == "no_response"
        # The grace period: 3 business days after the last email (Mon 21st) is Thu 24th.
        assert decision.decided_at.astimezone(NEW_YORK).date().isoformat() == "2026-12-24"
        assert s.scalars(select(Enrollment)).one().state == "completed"


def test_a_rerun_at_the_same_time_sends_nothing_twice(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(i) for i in range(10)], now=MONDAY, cadence="nurture")
    first = asyncio.run(advance_cadences(now=SEND))
    again = asyncio.run(advance_cadences(now=SEND))
    assert first["emails_sent"] == 10
    assert again["claimed"] == 0
    assert flow_env.count() == 10
    headers = Counter(m["X-Cadence-Touch"] for m in flow_env.messages())
    assert max(headers.values()) == 1


def test_overlapping_runs_split_the_work_without_duplicates(flow_env: SmtpSink, database_url: str) -> None:
    ctx = context()
    seed(ctx, [lead_row(i) for i in range(40)], now=MONDAY, cadence="nurture")
    when = SEND
    other = Context(ctx.settings)  # a second runner with its own connections

    async def both() -> list[int]:
        reports = await asyncio.gather(
            asyncio.to_thread(lambda: asyncio.run(run_until_idle(ctx, now=when, batch_size=5))),
            asyncio.to_thread(lambda: asyncio.run(run_until_idle(other, now=when, batch_size=5))),
        )
        return [r.emails_sent for r in reports]

    sent = asyncio.run(both())
    other.close()
    assert sum(sent) == 40
    assert flow_env.count() == 40
    assert len({m["X-Cadence-Touch"] for m in flow_env.messages()}) == 40
    assert sorted(m["To"] for m in flow_env.messages()) == sorted({m["To"] for m in flow_env.messages()})


def test_a_transient_smtp_failure_is_retried_later(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    when = SEND
    flow_env.faults = SinkFaults(temp_fail_rate=1.0)
    failed = asyncio.run(advance_cadences(now=when))
    assert failed["retried"] == 1
    assert failed["emails_sent"] == 0
    with ctx.sessions() as s:
        touch = s.scalars(select(Touch).where(Touch.channel == "email")).one()
        assert (touch.state, touch.attempts) == ("retry", 1)
        assert s.scalars(select(Enrollment)).one().next_due_at == when + timedelta(seconds=300)
    flow_env.faults = None
    assert asyncio.run(advance_cadences(now=when + timedelta(seconds=60)))["claimed"] == 0  # backing off
    later = asyncio.run(advance_cadences(now=when + timedelta(seconds=301)))
    assert later["emails_sent"] == 1
    assert flow_env.count() == 1
    with ctx.sessions() as s:
        touch = s.scalars(select(Touch).where(Touch.channel == "email")).one()
        assert (touch.state, touch.attempts) == ("sent", 2)


def test_a_permanent_rejection_bounces_and_suppresses_the_address(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    flow_env.faults = SinkFaults(reject_recipients={"lead0@acme.example"})
    report = asyncio.run(advance_cadences(now=SEND))
    assert report["bounced"] == 1
    assert report["emails_sent"] == 1  # the other lead is not held up
    with ctx.sessions() as s:
        decision = s.scalars(select(Decision)).one()
        assert decision.outcome == "bounced"
        assert "550" in (decision.reason or "")
        assert s.scalars(select(Suppression.value)).all() == ["lead0@acme.example"]
        assert get_lead(s, "lead0@acme.example").status == "decided"


def test_a_daily_cap_moves_the_overflow_to_the_next_day(flow_env: SmtpSink) -> None:
    ctx = context()
    rows = [lead_row(i) for i in range(5)]
    seed(ctx, rows, now=MONDAY, cap=2, cadence="nurture")
    report = asyncio.run(advance_cadences(now=SEND))  # Tuesday
    assert report["emails_sent"] == 2
    assert report["capped"] == 3
    assert asyncio.run(advance_cadences(now=SEND + timedelta(hours=3)))["emails_sent"] == 0
    wednesday = asyncio.run(advance_cadences(now=SEND + timedelta(days=1)))
    assert wednesday["emails_sent"] == 2
    thursday = asyncio.run(advance_cadences(now=SEND + timedelta(days=2)))
    assert thursday["emails_sent"] == 1
    assert flow_env.count() == 5


@pytest.mark.parametrize("leads", [23, 20, 4])
def test_a_run_of_batches_sends_every_email_once(flow_env: SmtpSink, leads: int) -> None:
    ctx = context()
    seed(ctx, [lead_row(i) for i in range(1, leads + 1)], now=MONDAY, cadence="nurture")
    report = asyncio.run(advance_cadences(now=SEND, batch_size=5))
    assert report["claimed"] == leads
    assert report["emails_sent"] == leads
    assert report["batches"] == -(-leads // 5) + 1  # the run ends on a batch with nothing to do
    assert flow_env.count() == leads
    assert Counter(m["X-Cadence-Touch"] for m in flow_env.messages()).most_common(1)[0][1] == 1
    with ctx.sessions() as s:
        assert Counter(s.scalars(select(Touch.state))) == Counter({"sent": leads})


def test_a_daily_cap_counts_every_batch_of_the_run(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(i) for i in range(1, 13)], now=MONDAY, cap=7, cadence="nurture")
    report = asyncio.run(advance_cadences(now=SEND, batch_size=5))
    assert (report["emails_sent"], report["capped"]) == (7, 5)
    assert flow_env.count() == 7


def test_a_batch_weighs_its_capped_emails_by_priority(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(i) for i in range(6)], now=MONDAY, cap=2, cadence="nurture")
    with ctx.sessions() as s, s.begin():
        for enrollment in s.scalars(select(Enrollment)):
            lead = s.get_one(Lead, enrollment.lead_id)
            first_four = int(lead.email.removeprefix("lead").split("@")[0]) < 4
            # The first four fall due first but matter least.
            lead.priority = 5 if first_four else 1
            enrollment.next_due_at = SEND - timedelta(hours=1 if first_four else 0)
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=6))
    assert (report.emails_sent, report.capped) == (2, 4)
    assert sorted(m["To"] for m in flow_env.messages()) == [
        "Lead4 Tester <lead4@acme.example>",
        "Lead5 Tester <lead5@acme.example>",
    ]


def test_a_decision_before_the_send_stops_it(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    with ctx.sessions() as s, s.begin():
        decide(s, get_lead(s, "lead0@acme.example"), Outcome.NOT_INTERESTED, now=MONDAY, reason="said no at a fair")
    report = asyncio.run(advance_cadences(now=SEND))
    assert report["emails_sent"] == 1
    assert [m["To"] for m in flow_env.messages()] == ["Lead1 Tester <lead1@acme.example>"]


def test_follow_up_lead_runs_only_that_leads_due_steps(flow_env: SmtpSink) -> None:
    ctx = context()
    seed(ctx, [lead_row(0), lead_row(1, source="contact_request", interactions="1")], now=MONDAY)
    report = asyncio.run(follow_up_lead("lead1@acme.example", now=MONDAY + timedelta(minutes=5)))
    assert report["tasks_created"] == {"call": 1}
    assert report["emails_sent"] == 1  # inbound: a call and an email the same day
    assert [m["To"] for m in flow_env.messages()] == ["Lead1 Tester <lead1@acme.example>"]
