"""Booking notifications (Cal.com, Calendly) record the meeting, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cadence.adapters.models import Decision, Enrollment, Task
from cadence.core.questions import DEFAULT_QUESTIONS, Question
from cadence.errors import NotFound, ValidationError
from cadence.services.answers import record_answers
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.meetings import record_booking
from tests.conftest import Cli
from tests.services.test_events_applied import ADA, NOW, seed

START = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)  # 14:00 in London, the lead's time zone


def cal(trigger: str = "BOOKING_CREATED", start: str = "2026-12-10T14:00:00.000Z", **extra: Any) -> dict[str, Any]:
    attendees = [{"email": "colleague@elsewhere.example", "name": "C"}, {"email": ADA.upper(), "timeZone": "X"}]
    return {"triggerEvent": trigger, "createdAt": "2026-12-07T10:00:00Z",
            "payload": {"title": "Intro", "startTime": start, "attendees": attendees, **extra}}  # fmt: skip


def calendly(event: str = "invitee.created") -> dict[str, Any]:
    return {"event": event, "payload": {"email": ADA, "name": "Lead0",
                                        "scheduled_event": {"start_time": "2026-12-10T15:00:00+01:00"}}}  # fmt: skip


@pytest.mark.parametrize("body", [cal(), calendly()], ids=["cal.com", "calendly"])
def test_a_booking_notification_books_the_meeting_and_asks_to_qualify_first(ctx: Context, body: dict[str, Any]) -> None:
    seed(ctx)
    with ctx.sessions() as s, s.begin():
        booked = record_booking(s, body, NOW, settings=ctx.settings)
    assert (booked.recorded, booked.lead_email, booked.start) == (True, ADA, START)
    with ctx.sessions() as s:
        decision = s.scalars(sa.select(Decision)).one()
        assert (decision.outcome, decision.meeting_at) == ("meeting_booked", START)
        assert decision.decided_by == booked.via
        assert s.scalars(sa.select(Enrollment)).one().state == "decided"
        task = s.get(Task, booked.task_id)
        assert task is not None
        assert task.title == "Qualify Lead0 Tester before the meeting on Thu 10 Dec 2026 14:00 (Europe/London)"


def test_the_task_lists_only_what_earlier_conversations_left_unanswered(ctx: Context) -> None:
    seed(ctx)
    with ctx.sessions() as s, s.begin():
        record_answers(s, get_lead(s, ADA), {"committed": "yes", "approves": "the CFO"}, at=NOW, by="rita")
    questions = (*DEFAULT_QUESTIONS[:2], Question("budget", "Is there a budget?"), DEFAULT_QUESTIONS[4])
    with ctx.sessions() as s, s.begin():
        booked = record_booking(s, cal(), NOW, questions=questions)
        task = s.get(Task, booked.task_id)
        decision = s.scalars(sa.select(Decision)).one()
    assert task is not None
    assert task.instructions == (
        "Ask before the meeting (2 of 4 unanswered):\n- What is the requirement?\n- Is there a budget?\n\n"
        "Known:\n- Are they committed to finding a solution? yes\n- Who approves the purchase? the CFO"
    )
    assert decision.answers == {"committed": "yes", "approves": "the CFO"}


def test_the_same_booking_twice_records_one_meeting_and_a_cancellation_none(ctx: Context) -> None:
    seed(ctx)
    for body in (cal(), cal(), cal("BOOKING_CANCELLED"), calendly("invitee.canceled")):
        with ctx.sessions() as s, s.begin():
            record_booking(s, body, NOW)
    with ctx.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(Task).where(Task.status == "open")) == 1


BAD = [
    ("not an object", [1, 2], "a booking notification is a JSON object"),
    ("neither kind", {"type": "x"}, "expected Cal.com's triggerEvent or Calendly's event"),
    ("no start", {"triggerEvent": "BOOKING_CREATED", "payload": {"attendees": [{"email": ADA}]}},
     "payload.startTime: Field required"),
    ("naive start", cal(start="2026-12-10T14:00:00"), "payload.startTime: Input should have timezone info"),
    ("no attendee", cal(attendees=[]), "payload.attendees: List should have at least 1 item"),
    ("other trigger", cal("MEETING_ENDED"), "triggerEvent: Input should be 'BOOKING_CREATED'"),
    ("calendly without time", {"event": "invitee.created", "payload": {"email": ADA}},
     "payload.scheduled_event: Field required"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_malformed_notification_is_refused_saying_what_is_wrong(ctx: Context, body: Any, message: str) -> None:
    seed(ctx)
    with ctx.sessions() as s, s.begin(), pytest.raises(ValidationError) as caught:
        record_booking(s, body, NOW)
    assert message in str(caught.value)


def test_a_booking_for_nobody_we_know_is_refused(ctx: Context) -> None:
    seed(ctx)
    body = cal(attendees=[{"email": "stranger@elsewhere.example"}, {"email": "not an address"}])
    with ctx.sessions() as s, s.begin(), pytest.raises(NotFound, match="no lead has the address"):
        record_booking(s, body, NOW)


def test_cadence_inbound_booking_records_it_from_a_file(ctx: Context, run_cli: Cli, tmp_path: Path) -> None:
    seed(ctx)
    path = tmp_path / "booking.json"
    path.write_text(json.dumps(calendly()))
    out = run_cli("inbound", "booking", str(path), "--json", "--now", NOW.isoformat()).json()
    assert (out["recorded"], out["lead"], out["start"]) == (True, ADA, START.isoformat())
    path.write_text("{not json")
    failed = run_cli("inbound", "booking", str(path), expect=1)
    assert failed.stderr.startswith(f"error: {path}: not JSON")


def test_the_task_asks_the_questions_ops_configured(database_url: str, tmp_path: Path) -> None:
    import shutil

    from cadence.settings import Settings
    from tests.conftest import TEMPLATES

    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    (folder / "questions.yaml").write_text(
        "questions:\n  - key: budget\n    question: Is there a budget this year?\n"
        "  - key: timing\n    question: When do they need it?\n"
    )
    ctx = Context(Settings(database_url=database_url, templates_dir=folder, default_timezone="UTC"))
    try:
        seed(ctx)
        with ctx.sessions() as s, s.begin():
            booked = record_booking(s, calendly(), NOW, settings=ctx.settings)
            task = s.get(Task, booked.task_id)
            assert task is not None
            assert task.instructions == (
                "Ask before the meeting (2 of 2 unanswered):\n- Is there a budget this year?\n- When do they need it?"
            )
    finally:
        ctx.close()
