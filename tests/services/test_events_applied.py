"""Every path applies the same rule (cadence.core.events), on SQLite and PostgreSQL.

However a response arrives, the owner gets a task to act on; a lead has one current decision, the
earlier ones kept as history; a meeting booked counts as a response in the report's funnel.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from cadence.adapters.models import Decision, Enrollment, Response, Task, Touch
from cadence.core.decisions import QUALIFYING_QUESTIONS, Outcome
from cadence.core.leads import make_lead
from cadence.services.claims import TouchState, claim_due
from cadence.services.context import Context
from cadence.services.enrollments import current_decision, decide, get_lead, record_response
from cadence.services.lead_views import list_decisions, show_lead
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reports import build_report
from cadence.services.reps import add_rep
from cadence.services.suppression import is_suppressed
from cadence.services.tasks import complete_task
from tests.conftest import Cli

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
RITA = "rita@cadence.example"
ADA = "lead0@acme.example"
ANSWERS = {key: "yes" for key, _ in QUALIFYING_QUESTIONS}


def seed(ctx: Context, count: int = 1) -> None:
    rows = [
        ImportRow(
            row=i + 2,
            lead=make_lead(
                {
                    "email": f"lead{i}@acme.example",
                    "account": f"lead{i}@acme.example",  # independent leads: each its own account
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
        for i in range(count)
    ]
    with ctx.sessions() as s, s.begin():
        add_rep(s, RITA, "Rita", now=NOW)
        import_leads(s, rows, now=NOW, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                     cadence_override="default")  # fmt: skip


def open_tasks(ctx: Context, email: str = ADA) -> list[tuple[str, str, str | None]]:
    """(channel, title, owner) of the lead's open tasks."""
    with ctx.sessions() as s:
        lead = get_lead(s, email)
        tasks = s.scalars(select_tasks(lead.id)).all()
        return [(t.channel, t.title, t.owner.email if t.owner else None) for t in tasks]


def select_tasks(lead_id: int) -> sa.Select[tuple[Task]]:
    return sa.select(Task).where(Task.lead_id == lead_id, Task.status == "open").order_by(Task.id)


def add_call_task(ctx: Context, email: str = ADA) -> int:
    with ctx.sessions() as s, s.begin():
        lead = get_lead(s, email)
        task = Task(lead_id=lead.id, owner_id=lead.owner_id, channel="call", title="Call Lead0 Tester",
                    due_at=NOW, priority=2, status="open", created_at=NOW)  # fmt: skip
        s.add(task)
        s.flush()
        return task.id


def enrollment_state(ctx: Context, email: str = ADA) -> str:
    with ctx.sessions() as s:
        lead = get_lead(s, email)
        return s.scalars(sa.select(Enrollment.state).where(Enrollment.lead_id == lead.id)).one()


# -- 1. every response gives the owner a task -------------------------------------------------------------


def test_a_response_recorded_by_hand_gives_the_owner_a_task(ctx: Context) -> None:
    seed(ctx)
    with ctx.sessions() as s, s.begin():
        record_response(s, get_lead(s, ADA), now=LATER, channel="phone", note="called back, wants a demo")
    assert enrollment_state(ctx) == "responded"
    assert open_tasks(ctx) == [("reply", "Follow up Lead0 Tester's response: record the decision", RITA)]
    with ctx.sessions() as s:
        task = s.scalars(select_tasks(get_lead(s, ADA).id)).one()
        assert (task.instructions, task.due_at) == ("called back, wants a demo", LATER)


def test_cadence_reply_gives_the_owner_a_task(ctx: Context, run_cli: Cli) -> None:
    seed(ctx)
    run_cli("reply", ADA, "--note", "call me", "--now", LATER.isoformat())
    assert open_tasks(ctx) == [("reply", "Follow up Lead0 Tester's response: record the decision", RITA)]


def test_a_connected_call_gives_the_owner_a_task_to_record_what_comes_next(ctx: Context) -> None:
    seed(ctx)
    call = add_call_task(ctx)
    with ctx.sessions() as s, s.begin():
        complete_task(s, call, "connected", now=LATER, note="interested, call again Friday")
    assert enrollment_state(ctx) == "responded"
    assert open_tasks(ctx) == [("reply", "Follow up the call with Lead0 Tester: record the decision", RITA)]


def test_a_connected_call_recorded_with_its_decision_leaves_nothing_to_do(ctx: Context) -> None:
    seed(ctx)
    call = add_call_task(ctx)
    with ctx.sessions() as s, s.begin():
        complete_task(s, call, "connected", now=LATER, decision=Outcome.NOT_INTERESTED, reason="has a vendor")
    assert enrollment_state(ctx) == "decided"
    assert open_tasks(ctx) == []
    with ctx.sessions() as s:
        kinds = s.scalars(sa.select(Response.kind).where(Response.lead_id == get_lead(s, ADA).id)).all()
        assert kinds == ["call"]


def test_a_call_not_answered_is_no_response(ctx: Context) -> None:
    seed(ctx)
    call = add_call_task(ctx)
    with ctx.sessions() as s, s.begin():
        complete_task(s, call, "voicemail", now=LATER)
    assert enrollment_state(ctx) == "active"
    assert open_tasks(ctx) == []


# -- 2. one current decision, the earlier ones as history ------------------------------------------------------


def test_a_later_decision_supersedes_the_earlier_one_which_stays_as_history(ctx: Context) -> None:
    seed(ctx)
    with ctx.sessions() as s, s.begin():
        first = decide(s, get_lead(s, ADA), Outcome.NOT_INTERESTED, now=LATER, reason="no budget")
        first_id = first.id
    with ctx.sessions() as s, s.begin():
        second = decide(s, get_lead(s, ADA), Outcome.MEETING_BOOKED, now=LATER + timedelta(days=3), answers=ANSWERS)
        second_id = second.id
    with ctx.sessions() as s:
        lead = get_lead(s, ADA)
        current = current_decision(s, lead.id)
        assert current is not None
        assert (current.id, current.outcome) == (second_id, "meeting_booked")
        earlier = s.get_one(Decision, first_id)
        assert (earlier.superseded_at, earlier.superseded_by_id) == (LATER + timedelta(days=3), second_id)
        assert current.enrollment_id == earlier.enrollment_id  # both on the lead's enrollment
        assert [d["outcome"] for d in list_decisions(s) if d["email"] == ADA] == ["meeting_booked"]
        assert [d["outcome"] for d in list_decisions(s, history=True) if d["email"] == ADA] == [
            "meeting_booked",
            "not_interested",
        ]
        shown = show_lead(s, ADA, settings=ctx.settings)
    assert shown["decision"]["outcome"] == "meeting_booked"
    assert [(d["outcome"], d["superseded_at"] is not None) for d in shown["decisions"]] == [
        ("meeting_booked", False),
        ("not_interested", True),
    ]


def test_a_bounced_touch_recovered_after_a_crash_suppresses_and_decides_once(ctx: Context) -> None:
    seed(ctx)
    due = NOW + timedelta(days=3)
    with ctx.sessions() as s, s.begin():
        claim = claim_due(s, now=due, limit=10, settings=ctx.settings).claims[0]
        touch = s.get_one(Touch, claim.touch_id)
        touch.state, touch.executed_at, touch.error = TouchState.BOUNCED, due, "550 no such user"
    lapsed = due + timedelta(seconds=ctx.settings.lease_seconds + 1)
    with ctx.sessions() as s, s.begin():
        enrollment = s.scalars(sa.select(Enrollment)).one()
        enrollment.next_due_at = lapsed  # the lease lapsed: the step is due again
    with ctx.sessions() as s, s.begin():
        batch = claim_due(s, now=lapsed, limit=10, settings=ctx.settings)
    assert (batch.claims, batch.recovered) == ([], 1)
    with ctx.sessions() as s:
        assert is_suppressed(s, ADA)
        outcomes = s.scalars(sa.select(Decision.outcome)).all()
        assert outcomes == ["bounced"]
    assert enrollment_state(ctx) == "decided"


# -- 3. a meeting booked counts as a response ------------------------------------------------------------------


def test_a_meeting_booked_counts_as_a_response_so_the_funnel_is_nested(ctx: Context) -> None:
    seed(ctx, 3)
    with ctx.sessions() as s, s.begin():
        decide(s, get_lead(s, "lead0@acme.example"), Outcome.MEETING_BOOKED, now=LATER, answers=ANSWERS)
        decide(s, get_lead(s, "lead1@acme.example"), Outcome.QUALIFIED_HANDOFF, now=LATER, qualification_skipped=True)
        record_response(s, get_lead(s, "lead2@acme.example"), now=LATER, kind="reply", channel="email", note="yes")
    with ctx.sessions() as s, s.begin():
        decide(s, get_lead(s, "lead2@acme.example"), Outcome.MEETING_BOOKED, now=LATER, answers=ANSWERS)
    with ctx.sessions() as s, s.begin():
        funnel = build_report(s, since=None, until=None, now=LATER + timedelta(days=1))["funnel"]
        responses = s.scalars(sa.select(Response.kind).order_by(Response.lead_id)).all()
    assert (funnel["enrolled"], funnel["responded"], funnel["meetings_booked"], funnel["handed_off"]) == (3, 3, 3, 1)
    assert responses == ["manual", "manual", "reply"]  # the reply counted already: no second response
