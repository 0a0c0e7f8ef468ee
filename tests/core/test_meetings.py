"""What a calendar means for a lead, and the rule's answer to a meeting booked: tables of plain values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cadence.adapters.calendar import parse_calendar
from cadence.core.decisions import Outcome
from cadence.core.enrollment import State
from cadence.core.events import Facts, MeetingBooked, Position, consequences
from cadence.core.meetings import Attendee, CalendarEvent, meeting_with
from cadence.core.questions import DEFAULT_QUESTIONS, pairs

LEAD = "ada@analytical.example"
REP = "rita@yourco.example"
START = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)


def event(method: str, *, organizer: str = REP, attendee: str = LEAD, partstat: str = "ACCEPTED",
          status: str = "", start: datetime | None = START) -> CalendarEvent:  # fmt: skip
    return CalendarEvent(method, start, organizer, (Attendee(attendee, partstat),), status)


CASES = [
    ("the lead accepted", event("REPLY"), True, "the lead accepted the invitation"),
    ("the lead sent it", event("REQUEST", organizer=LEAD, attendee=REP, partstat="NEEDS-ACTION"), True,
     "the lead sent the invitation"),
    ("the lead is invited", event("REQUEST", partstat="NEEDS-ACTION"), True, "names the lead as an attendee"),
    ("declined answer", event("REPLY", partstat="DECLINED"), False, "the lead answered declined"),
    ("tentative answer", event("REPLY", partstat="TENTATIVE"), False, "the lead answered tentative"),
    ("declined invitation", event("REQUEST", partstat="DECLINED"), False, "the lead declined"),
    ("cancelled", event("CANCEL"), False, "cancelled"),
    ("status cancelled", event("REQUEST", status="CANCELLED"), False, "cancelled"),
    ("someone else accepted", event("REPLY", attendee="boss@analytical.example"), False, "does not name the lead"),
    ("lead not in the invitation", event("REQUEST", attendee="boss@analytical.example"), False, "neither"),
    ("published", event("PUBLISH"), False, "METHOD PUBLISH"),
    ("no method", event(""), False, "METHOD (none)"),
    ("no start", event("REPLY", start=None), False, "no start time"),
]  # fmt: skip


@pytest.mark.parametrize(("calendar", "booked", "why"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_calendar_books_a_meeting_only_when_it_names_the_lead_as_the_rules_say(
    calendar: CalendarEvent, booked: bool, why: str
) -> None:
    seen = meeting_with([calendar], LEAD.upper())
    assert seen is not None
    assert seen.booked is booked
    assert why in seen.reason


def test_no_calendar_means_nothing_and_a_booking_event_wins_over_a_cancelled_one() -> None:
    assert meeting_with([], LEAD) is None
    seen = meeting_with([event("CANCEL"), event("REPLY")], LEAD)
    assert seen is not None
    assert seen.booked


def test_the_adapter_reads_methods_addresses_answers_and_time_zones_and_skips_garbage() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:reply\r\nBEGIN:VEVENT\r\nUID:1\r\n"
        "DTSTART;TZID=Europe/Berlin:20261210T150000\r\nORGANIZER:MAILTO:Rita@YourCo.example\r\n"
        "ATTENDEE;PARTSTAT=accepted:mailto:Ada@Analytical.example\r\nATTENDEE:mailto:not an address\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [read] = parse_calendar(text.encode())
    assert read == CalendarEvent("REPLY", START, REP, (Attendee(LEAD, "ACCEPTED"),), "", "")
    assert parse_calendar(b"BEGIN:VCALENDAR\r\nnot a calendar") == []
    assert parse_calendar(b"\xff\xfe") == []


def facts(decided: Outcome | None = None, meeting_at: datetime | None = None) -> Facts:
    at = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    position = Position(state=State.ACTIVE, enrolled_at=at, anchor_at=at, next_due_at=at)
    return Facts(at=at, enrollment=position, decided=decided, meeting_at=meeting_at, lead_name="Ada Lovelace")


def booked(answers: dict[str, str] | None = None) -> MeetingBooked:
    return MeetingBooked(START, "calendar invitation", "the lead accepted", pairs(DEFAULT_QUESTIONS), answers or {})


def test_a_meeting_decides_stops_the_cadence_and_lists_only_the_questions_still_unanswered() -> None:
    result = consequences(booked({"committed": "yes", "fit": " "}), facts())
    assert result.enrollment is not None
    assert result.enrollment.state == State.DECIDED
    assert result.decision is not None
    assert (result.decision.outcome, result.decision.meeting_at) == (Outcome.MEETING_BOOKED, START)
    assert result.decision.answers == {"committed": "yes"}
    assert result.cancel_open_tasks
    assert result.task is not None
    assert result.task.title == "Qualify Ada Lovelace before the meeting on Thu 10 Dec 2026 14:00 UTC"
    assert result.task.instructions is not None
    assert result.task.instructions.startswith("Ask before the meeting (6 of 7 unanswered):")
    assert "- Are they committed to finding a solution? yes" in result.task.instructions
    assert result.response is not None
    assert result.response.note == "meeting booked for Thu 10 Dec 2026 14:00 UTC (calendar invitation)"


def test_a_meeting_with_every_answer_known_asks_for_the_hand_off() -> None:
    result = consequences(booked({q.key: "known" for q in DEFAULT_QUESTIONS}), facts())
    assert result.task is not None
    assert result.task.instructions is not None
    assert result.task.instructions.startswith("Every qualifying question is answered")


@pytest.mark.parametrize(
    ("decided", "meeting_at", "changes"),
    [
        (Outcome.MEETING_BOOKED, START, False),  # the same meeting seen again
        (Outcome.MEETING_BOOKED, datetime(2026, 12, 9, 9, 0, tzinfo=UTC), True),  # moved
        (Outcome.MEETING_BOOKED, None, True),  # recorded by hand, no time known
        (Outcome.QUALIFIED_HANDOFF, None, False),  # handed over already
        (Outcome.NOT_INTERESTED, None, True),  # the lead changed its mind: its own booking says so
    ],
)
def test_a_meeting_seen_again_changes_nothing_and_a_moved_one_is_recorded_anew(
    decided: Outcome, meeting_at: datetime | None, changes: bool
) -> None:
    result = consequences(booked(), facts(decided, meeting_at))
    assert (result.decision is not None, result.task is not None) == (changes, changes)
