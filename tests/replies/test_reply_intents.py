"""What a reply says decides what happens, end to end: real messages over IMAP (Dovecot), on SQLite and PostgreSQL.

Each message is one of ``tests/fixtures/replies/`` (the classifier's labelled corpus), sent from the
lead's address. The rule itself is tested by tables in ``tests/core/test_reply_intents.py``; here the
shell: the message read from the mailbox, its reading kept, the rows the rule's consequences write.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, InboundMessage, Lead, Suppression, Task, Touch
from cadence.services.context import Context
from cadence.services.lead_views import show_lead
from cadence.services.replies import sync_replies
from cadence.services.snoozes import wake_snoozed
from cadence.services.stuck import stuck_leads
from cadence.services.template_preview import preview_template
from cadence.services.workspace.dashboard import overview
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed
from tests.replies.test_sync_replies import MONDAY, Service, count, new_mailbox, plain
from tests.support.dovecot import DovecotServer

CORPUS = Path(__file__).parents[1] / "fixtures" / "replies"
AT = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York, the leads' time zone
LEAD = "lead0@acme.example"


@pytest.fixture
def service(database_url: str, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    box = new_mailbox(dovecot, monkeypatch)
    context = Context(Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC"))
    seed(context, [lead_row(0)], now=MONDAY, cadence="nurture")
    yield Service(context, box)
    context.close()


def from_lead(fixture: str, sender: str = f"Lead0 Tester <{LEAD}>") -> bytes:
    """The corpus message ``fixture`` as the lead sent it (its own address, a Message-ID of its own)."""
    message = email.message_from_bytes((CORPUS / fixture).read_bytes(), policy=email.policy.default)
    del message["From"], message["Message-ID"]
    message["From"] = sender
    message["Message-ID"] = f"<{secrets.token_hex(8)}@acme.example>"
    return message.as_bytes()


def read_one(service: Service, fixture: str, *, now: datetime = AT) -> dict[str, object]:
    service.box.put(from_lead(fixture))
    report = asyncio.run(sync_replies(service.ctx, now=now))
    assert report.errors == []
    return report.as_dict()


def lead_tasks(ctx: Context, email_address: str = LEAD) -> list[Task]:
    with ctx.sessions() as s:
        return list(s.scalars(select(Task).join(Lead).where(Lead.email == email_address).order_by(Task.id)))


def kept(ctx: Context) -> InboundMessage:
    with ctx.sessions() as s:
        return s.scalars(select(InboundMessage)).one()


# -- intents that ask a person to act: a task of its own, nothing decided -----------------------------------

TASKS = [
    # 10:00 in New York plus the response SLA of 4 business hours
    ("001-en-interested.eml", "interested", "Answer Lead0 Tester and book a meeting", AT + timedelta(hours=4)),
    ("040-en-not-now.eml", "not_now", "Ask Lead0 Tester when to get back in touch", AT),
    ("065-en-referral.eml", "referral", "Add the person Lead0 Tester named, then record a decision", AT),
    ("081-en-wrong-person.eml", "wrong_person", "Find the right person: Lead0 Tester says it is not them", AT),
    ("156-en-unclear.eml", "unclear", "Review Lead0 Tester's reply: what it says is unclear", AT),
]  # fmt: skip


@pytest.mark.parametrize(("fixture", "intent", "title", "due"), TASKS, ids=[t[1] for t in TASKS])
def test_a_reply_that_needs_a_person_gives_the_owner_its_task_with_the_evidence(
    service: Service, fixture: str, intent: str, title: str, due: datetime
) -> None:
    report = read_one(service, fixture)
    assert report["intents"] == {intent: 1}
    message = kept(service.ctx)
    assert (message.kind, message.intent) == ("reply", intent)
    assert message.confidence is not None
    assert message.evidence
    [task] = lead_tasks(service.ctx)
    assert (task.title, task.due_at, task.status, task.channel) == (title, due, "open", "reply")
    assert task.owner is not None
    assert task.owner.email == "rita@cadence.example"
    assert task.instructions is not None
    assert task.instructions.startswith(f"Read as {intent}, confidence {message.confidence:.2f}: {message.evidence[0]}")
    assert count(service.ctx, Decision) == count(service.ctx, Suppression) == 0
    with service.ctx.sessions() as s:
        shown = show_lead(s, LEAD, settings=service.ctx.settings)
        assert shown["enrollment"]["state"] == "responded"
        [answer] = [t for t in shown["timeline"] if t["state"] == "reply"]
        assert (answer["intent"], answer["confidence"], answer["evidence"]) == (
            intent,
            message.confidence,
            message.evidence,
        )
        assert stuck_leads(s) == []  # the task is its next step


# -- refusals: decided and suppressed, with the reply as the reason -----------------------------------------


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [("093-en-not-interested.eml", "not_interested"), ("115-en-unsubscribe-request.eml", "unsubscribed")],
    ids=["not_interested", "unsubscribe_request"],
)
def test_a_refusal_decides_and_suppresses_the_address(service: Service, fixture: str, outcome: str) -> None:
    read_one(service, fixture)
    with service.ctx.sessions() as s:
        decision = s.scalars(select(Decision)).one()
        assert decision.outcome == outcome
        assert decision.reason
        [suppression] = s.scalars(select(Suppression)).all()
        assert suppression.value == LEAD
        assert suppression.reason
        enrollment = s.scalars(select(Enrollment)).one()
        assert enrollment.state == "decided"
    assert lead_tasks(service.ctx) == []


def test_a_not_interested_reply_is_the_reason_of_its_decision_and_suppression(service: Service) -> None:
    read_one(service, "093-en-not-interested.eml")
    message = kept(service.ctx)
    with service.ctx.sessions() as s:
        decision = s.scalars(select(Decision)).one()
        suppression = s.scalars(select(Suppression)).one()
    assert message.intent == "not_interested"
    assert decision.decided_by == "reply"
    assert decision.reason is not None
    assert decision.reason == "Not interested, thanks.\n\nDana"
    assert suppression.reason == "not_interested (reply): Not interested, thanks. Dana"


# -- not now, with a date: snoozed, then enrolled again in re-engage ---------------------------------------------


def test_not_now_with_a_date_snoozes_the_lead_and_wakes_it_in_the_re_engage_cadence(service: Service) -> None:
    ctx = service.ctx
    report = read_one(service, "035-en-not-now.eml")
    assert (report["intents"], report["snoozed"], report["tasks_created"]) == ({"not_now": 1}, 1, 0)
    until = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # March 1st, 09:00 in New York: nurture's window opens
    assert kept(ctx).named_date == date(2027, 3, 1)
    with ctx.sessions() as s:
        lead = s.scalars(select(Lead).where(Lead.email == LEAD)).one()
        assert (lead.snoozed_until, lead.snooze_cadence, lead.status) == (until, "re-engage", "responded")
        assert stuck_leads(s) == []  # the snooze is its next step
        assert show_lead(s, LEAD, settings=ctx.settings)["snoozed_until"] == until.isoformat()
    assert lead_tasks(ctx) == []

    early = wake_snoozed(ctx, now=until - timedelta(minutes=1))
    assert (early.enrolled, early.refused, early.postponed) == ([], [], [])
    woken = wake_snoozed(ctx, now=until)
    assert (woken.enrolled, woken.errors) == ([LEAD], [])
    with ctx.sessions() as s:
        enrollments = s.scalars(select(Enrollment).order_by(Enrollment.id)).all()
        assert [(e.cadence_name, e.state) for e in enrollments] == [("nurture", "completed"), ("re-engage", "active")]
        assert enrollments[0].ended_at == until
        assert enrollments[1].next_due_at is not None
        lead = s.scalars(select(Lead).where(Lead.email == LEAD)).one()
        assert (lead.snoozed_until, lead.status) == (None, "active")
    assert count(ctx, Decision) == 0
    assert wake_snoozed(ctx, now=until + timedelta(days=1)).enrolled == []  # nothing wakes twice


def test_a_snoozed_lead_over_its_cap_gets_a_task_instead_of_an_enrollment(service: Service) -> None:
    ctx = service.ctx
    read_one(service, "035-en-not-now.eml")
    until = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    with ctx.sessions() as s, s.begin():
        lead = s.scalars(select(Lead).where(Lead.email == LEAD)).one()
        first = s.scalars(select(Enrollment)).one()
        for months in (4, 6):  # re-engage allows 3 enrollments a year: with these, the lead had 3
            s.add(
                Enrollment(
                    lead_id=lead.id, cadence_name=first.cadence_name, cadence_version=first.cadence_version,
                    state="decided", enrolled_at=until - timedelta(days=30 * months), anchor_at=first.anchor_at,
                    next_step=0, priority=2,
                )
            )  # fmt: skip
    woken = wake_snoozed(ctx, now=until)
    assert (woken.enrolled, woken.refused) == ([], [LEAD])
    [task] = lead_tasks(ctx)
    assert task.title == "Re-engage Lead0 Tester by hand: the snooze is over"
    assert task.instructions == "Not enrolled in re-engage: enrolled 3 times in the past year (at most 3)"
    with ctx.sessions() as s:
        assert s.scalars(select(Lead.snoozed_until).where(Lead.email == LEAD)).one() is None


# -- a referral: a new lead of the same owner, whose first email names who sent us --------------------------------


def test_a_referral_adds_the_person_named_enrolled_in_the_referral_cadence(service: Service) -> None:
    ctx = service.ctx
    report = read_one(service, "061-en-referral.eml")
    assert (report["intents"], report["referred"]) == ({"referral": 1}, 1)
    with ctx.sessions() as s:
        referrer = s.scalars(select(Lead).where(Lead.email == LEAD)).one()
        named = s.scalars(select(Lead).where(Lead.email == "jane.doe@acme.example")).one()
        assert (named.first_name, named.last_name, named.referred_by_id, named.owner_id) == (
            "Jane",
            "Doe",
            referrer.id,
            referrer.owner_id,
        )
        assert (named.company, named.timezone, named.source, named.status) == (
            "Acme",
            "America/New_York",
            "referral",
            "active",
        )
        assert named.custom["referred_by"] == "Lead0 Tester"
        enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == named.id)).one()
        assert (enrollment.cadence_name, enrollment.state) == ("referral", "active")
        assert show_lead(s, "jane.doe@acme.example", settings=ctx.settings)["referred_by"] == LEAD
    [thanks] = lead_tasks(ctx)
    assert thanks.title == "Thank Lead0 Tester for the referral and record a decision"
    first_email = preview_template(ctx, "jane.doe@acme.example", "email/referral", now=AT)
    assert ("Subject", "Lead0 Tester suggested I get in touch") in first_email.headers
    assert first_email.text is not None
    assert first_email.text.startswith("Hi Jane,\n\nLead0 Tester suggested that you are the right person")

    service.box.put(from_lead("061-en-referral.eml"))  # the same person named again: never a second lead
    assert asyncio.run(sync_replies(ctx, now=AT + timedelta(hours=1))).referred == 0
    assert count(ctx, Lead, Lead.email == "jane.doe@acme.example") == 1


# -- nothing waits unseen ------------------------------------------------------------------------------------------


def test_a_lead_that_answered_and_whose_task_is_done_without_a_decision_is_stuck(service: Service) -> None:
    ctx = service.ctx
    read_one(service, "001-en-interested.eml")
    with ctx.sessions() as s, s.begin():
        assert stuck_leads(s) == []
        for task in s.scalars(select(Task)):
            task.status = "done"
    with ctx.sessions() as s:
        [stuck] = stuck_leads(s)
    assert (stuck["email"], stuck["enrollment"], stuck["reason"]) == (
        LEAD,
        "responded",
        "answered: no open task and no decision",
    )
    numbers = overview(ctx, now=MONDAY)
    assert (numbers.stuck_total, [lead["email"] for lead in numbers.stuck]) == (1, [LEAD])


def test_an_automatic_reply_saying_the_lead_left_refers_to_the_person_it_names(service: Service) -> None:
    ctx = service.ctx
    report = read_one(service, "079-en-referral.eml")  # Auto-Submitted: "I have left Acme ... contact Grace Liu"
    assert (report["intents"], report["referred"], report["paused"]) == ({"referral": 1}, 1, 0)
    with ctx.sessions() as s:
        named = s.scalars(select(Lead).where(Lead.email == "grace.liu@acme.example")).one()
        assert (named.first_name, named.last_name, named.cadence) == ("Grace", "Liu", "referral")
        enrollment = s.scalars(select(Enrollment).join(Lead).where(Lead.email == LEAD)).one()
        assert (enrollment.state, enrollment.paused_until) == ("responded", None)
    [task] = lead_tasks(ctx)
    assert task.title == "Thank Lead0 Tester for the referral and record a decision"


def test_a_referral_to_one_of_our_reps_adds_no_lead(service: Service) -> None:
    text = "I'm not the right person for this. Please contact Rita Alvarez: rita@cadence.example"
    service.box.put(plain(f"Lead0 Tester <{LEAD}>", "Re: hello", text))
    report = asyncio.run(sync_replies(service.ctx, now=AT))
    assert (report.intents, report.referred, report.errors) == ({"referral": 1}, 0, [])
    assert count(service.ctx, Lead, Lead.email == "rita@cadence.example") == 0
    assert "one of our reps, not a lead" in (kept(service.ctx).detail or "")


def test_a_snoozed_lead_touched_within_the_cooldown_waits_until_it_is_over(service: Service) -> None:
    ctx = service.ctx
    read_one(service, "035-en-not-now.eml")
    until = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    touched = until - timedelta(days=10)  # re-engage's cooldown is 30 days: not before March 21st
    with ctx.sessions() as s, s.begin():
        enrollment = s.scalars(select(Enrollment)).one()
        s.add(
            Touch(
                enrollment_id=enrollment.id, lead_id=enrollment.lead_id, step_index=0, day=0, channel="call",
                state="done", due_at=touched, executed_at=touched, attempts=1,
            )
        )  # fmt: skip
    woken = wake_snoozed(ctx, now=until)
    assert (woken.enrolled, woken.postponed, woken.refused) == ([], [LEAD], [])
    with ctx.sessions() as s:
        assert s.scalars(select(Lead.snoozed_until).where(Lead.email == LEAD)).one() == touched + timedelta(days=30)
    assert wake_snoozed(ctx, now=touched + timedelta(days=30)).enrolled == [LEAD]
