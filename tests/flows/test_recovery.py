"""Crashes and operations: uncertain sends, Prefect secrets, escalations, the served deployments."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from prefect.blocks.system import Secret
from sqlalchemy import select

from cadence.adapters.models import Enrollment, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.advance import run_until_idle
from cadence.services.claims import TouchState, claim_due
from flows.advance import advance_cadences, flow_context, rep_digest, smtp_password
from flows.serve import deployments
from tests.conftest import Cli
from tests.flows.conftest import lead_row, seed

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
SEND = MONDAY + timedelta(days=1, hours=1)


def test_an_email_cut_off_after_handing_to_smtp_is_uncertain_and_never_resent(flow_env: SmtpSink, run_cli: Cli) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    # A runner claims both emails, hands one to SMTP (`handing`), and dies before recording the reply.
    with ctx.sessions() as s, s.begin():
        claims = claim_due(s, now=SEND, limit=10, settings=ctx.settings).claims
        stuck = s.get_one(Touch, claims[0].touch_id)
        stuck.state = TouchState.HANDING
        stuck.message_id = "<c.stuck@mail.cadence.example>"
    assert asyncio.run(advance_cadences(now=SEND + timedelta(seconds=10)))["claimed"] == 0  # leases still held
    lapsed = SEND + timedelta(seconds=ctx.settings.lease_seconds + 1)
    report = asyncio.run(advance_cadences(now=lapsed))
    assert report["uncertain"] == 1
    assert report["uncertain_touches"] == [stuck.id]
    assert report["emails_sent"] == 1  # the claim that never reached SMTP is taken up again
    assert flow_env.count() == 1
    listed = run_cli("due", "--uncertain", "--json").json()
    assert [(u["touch"], u["message_id"]) for u in listed] == [(stuck.id, "<c.stuck@mail.cadence.example>")]
    with ctx.sessions() as s:
        enrollment = s.get_one(Enrollment, claims[0].enrollment_id)
        assert enrollment.next_step == 1  # the cadence goes on; the uncertain email is not re-sent
    asyncio.run(advance_cadences(now=lapsed + timedelta(days=7)))
    with ctx.sessions() as s:
        states = [t.state for t in s.scalars(select(Touch).where(Touch.id == stuck.id))]
        assert states == ["uncertain"]


def test_an_email_marked_sending_whose_runner_died_before_handing_it_over_is_sent_once(flow_env: SmtpSink) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    with ctx.sessions() as s, s.begin():
        [claim] = claim_due(s, now=SEND, limit=10, settings=ctx.settings).claims
        marked = s.get_one(Touch, claim.touch_id)
        marked.state = TouchState.SENDING
        marked.attempts = 1
    lapsed = SEND + timedelta(seconds=ctx.settings.lease_seconds + 1)
    report = asyncio.run(advance_cadences(now=lapsed))
    assert (report["emails_sent"], report["uncertain"]) == (1, 0)
    [message] = flow_env.messages()
    assert message["X-Cadence-Touch"] == str(claim.touch_id)
    with ctx.sessions() as s:
        touch = s.get_one(Touch, claim.touch_id)
        assert (touch.state, touch.attempts) == ("sent", 2)
        assert s.get_one(Enrollment, claim.enrollment_id).next_step == 1


@pytest.mark.one_database
def test_the_smtp_password_can_come_from_a_prefect_secret_block(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    Secret(value="s3cret-from-block").save("cadence-smtp-password", overwrite=True)
    monkeypatch.setenv("CADENCE_SMTP_PASSWORD_BLOCK", "cadence-smtp-password")
    assert asyncio.run(smtp_password(flow_context())) == "s3cret-from-block"
    monkeypatch.delenv("CADENCE_SMTP_PASSWORD_BLOCK")
    assert asyncio.run(smtp_password(flow_context())) is None


def test_long_overdue_tasks_are_escalated_to_the_manager_once_a_day(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_MANAGER_EMAIL", "boss@cadence.example")
    monkeypatch.setenv("CADENCE_DIGEST_HOUR", "12")  # the manager's digest hour, in the default zone (UTC)
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY)
    asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=1, hours=1)))  # a research task, Tuesday
    before = flow_env.count()
    friday_noon = datetime(2026, 12, 4, 12, 30, tzinfo=UTC)  # the task is three days overdue
    first = asyncio.run(rep_digest(now=friday_noon))
    again = asyncio.run(rep_digest(now=friday_noon + timedelta(minutes=10)))
    assert first["sent"] == 1  # Rita's digest hour is 12:00 in New York, not now: only the manager's
    assert again["sent"] == 0
    [escalation] = flow_env.messages()[before:]
    assert escalation["To"] == "Manager <boss@cadence.example>"
    body = escalation.get_body(preferencelist=("plain",)).get_content()
    assert "lead0@acme.example" in body or "Lead0" in body
    assert "rita@cadence.example" in body


def test_cadence_serve_serves_advance_every_five_minutes_and_the_digest_hourly(prefect_harness: None) -> None:
    served = {d.name: d for d in deployments()}
    assert set(served) == {
        "advance",
        "rep-digest",
        "follow-up-lead",
        "sync-replies",
        "weekly-report",
        "deliver-webhooks",
        "first-touch-sla",
    }
    assert served["deliver-webhooks"].schedules[0].schedule.interval == timedelta(seconds=15)  # type: ignore[union-attr]
    advance_schedule = served["advance"].schedules[0].schedule
    assert advance_schedule.interval == timedelta(minutes=5)  # type: ignore[union-attr]
    assert served["rep-digest"].schedules[0].schedule.cron == "5 * * * *"  # type: ignore[union-attr]
    assert served["follow-up-lead"].schedules == []
    assert served["sync-replies"].schedules[0].schedule.interval == timedelta(minutes=5)  # type: ignore[union-attr]


def test_an_enrollment_paused_and_resumed_while_its_email_goes_out_is_moved_on_from_its_new_anchor(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadence.services.advance.ledger import Ledger
    from cadence.services.advance.work import WorkItem
    from cadence.services.cadence_versions import pinned_cadence
    from cadence.services.context import Context
    from cadence.services.enrollments import get_lead, pause, resume, schedule_next

    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    other = Context(ctx.settings)  # the rep's side, with connections of its own
    original = Ledger.hand

    def hand(ledger: Ledger, item: WorkItem) -> bool:
        if item.lead_email == "lead0@acme.example":  # a rep pauses and resumes the lead meanwhile
            with other.sessions() as s, s.begin():
                pause(s, get_lead(s, item.lead_email), now=SEND)
            with other.sessions() as s, s.begin():
                resume(s, get_lead(s, item.lead_email), now=SEND + timedelta(days=2), settings=ctx.settings)
        return original(ledger, item)

    monkeypatch.setattr(Ledger, "hand", hand)
    report = asyncio.run(run_until_idle(ctx, now=SEND))
    other.close()
    assert report.emails_sent == 2
    with ctx.sessions() as s:
        for email in ("lead0@acme.example", "lead1@acme.example"):
            enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == get_lead(s, email).id)).one()
            stored = enrollment.next_due_at
            assert enrollment.next_step == 1
            schedule_next(enrollment, pinned_cadence(s, enrollment.cadence_name, enrollment.cadence_version),
                          ctx.settings, reply_grace_days=ctx.settings.reply_grace_days)  # fmt: skip
            assert stored == enrollment.next_due_at, email  # scheduled from the enrollment as it is now
            s.rollback()
        moved = s.scalars(select(Enrollment).where(Enrollment.lead_id == get_lead(s, "lead0@acme.example").id)).one()
        still = s.scalars(select(Enrollment).where(Enrollment.lead_id == get_lead(s, "lead1@acme.example").id)).one()
        assert moved.next_due_at is not None
        assert still.next_due_at is not None
        assert moved.next_due_at > still.next_due_at  # two days of pause later
