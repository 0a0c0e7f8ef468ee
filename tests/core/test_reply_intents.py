"""What a reply's intent means: the table of note 4 of :mod:`cadence.core.events`, one row a case."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.decisions import Outcome
from cadence.core.enrollment import State
from cadence.core.events import (
    Consequences,
    Facts,
    NewReferral,
    NewSnooze,
    Policy,
    Position,
    Responded,
    SnoozeOver,
    consequences,
)
from cadence.core.intent import REVIEW_BELOW, Intent, Reading, Referral
from cadence.core.schedule import LeadCalendar, add_business_hours
from cadence.errors import InvalidTransition

LONDON = ZoneInfo("Europe/London")
CADENCE: Cadence = parse_cadence(
    {
        "name": "test",
        "steps": [{"day": 0, "channel": "email", "template": "a"}, {"day": 2, "channel": "email", "template": "b"}],
        "settings": {"send_window": {"start": "09:00", "end": "17:00"}},
    }
)
CALENDAR = LeadCalendar.for_lead(CADENCE.settings, "Europe/London", "GB")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)


ENROLLED = local("2026-12-07 10:00")  # a Monday
NOW = local("2026-12-09 15:00")  # Wednesday afternoon


def facts(state: State | None = State.ACTIVE, *, decided: Outcome | None = None, sla: int = 4) -> Facts:
    enrollment = Position(
        state=state or State.ACTIVE, enrolled_at=ENROLLED, anchor_at=ENROLLED, next_step=1, last_touch_at=ENROLLED
    )
    return Facts(
        at=NOW,
        enrollment=enrollment if state is not None else None,
        cadence=CADENCE,
        calendar=CALENDAR,
        decided=decided,
        lead_name="Ada Lovelace",
        policy=Policy(response_sla_hours=sla),
    )


def reply(intent: Intent, confidence: float = 0.9, **reading: object) -> Responded:
    return Responded(
        kind="reply",
        channel="email",
        note="the reply's text",
        reading=Reading(intent=intent, confidence=confidence, evidence=("matched words",), **reading),  # type: ignore[arg-type]
    )


def stopped(result: Consequences) -> bool:
    """The reply stopped the cadence and is on the lead's timeline."""
    return (
        result.enrollment is not None
        and result.enrollment.state in (State.RESPONDED, State.DECIDED)
        and result.enrollment.next_due_at is None
        and result.response is not None
        and result.response.kind == "reply"
    )


# -- one row per intent ---------------------------------------------------------------------------------

TASKS: list[tuple[Intent, dict[str, object], str, datetime]] = [
    ("interested", {}, "Answer Ada Lovelace and book a meeting", local("2026-12-10 11:00")),
    ("not_now", {}, "Ask Ada Lovelace when to get back in touch", NOW),
    ("wrong_person", {}, "Find the right person: Ada Lovelace says it is not them", NOW),
    ("unclear", {}, "Review Ada Lovelace's reply: what it says is unclear", NOW),
    (
        "referral",
        {"referral": Referral(name="Bo", phone="+44 20 7946 0000")},
        "Add the person Ada Lovelace named, then record a decision",
        NOW,
    ),
]


@pytest.mark.parametrize(("intent", "reading", "title", "due"), TASKS, ids=[f"{t[0]}-{t[2][:12]}" for t in TASKS])
def test_an_intent_that_needs_a_person_gives_the_owner_its_task(
    intent: Intent, reading: dict[str, object], title: str, due: datetime
) -> None:
    result = consequences(reply(intent, **reading), facts())
    assert stopped(result)
    assert result.task is not None
    assert (result.task.title, result.task.due_at) == (title, due)
    assert result.task.instructions is not None
    assert f"Read as {intent}, confidence 0.90: matched words" in result.task.instructions
    assert "the reply's text" in result.task.instructions
    assert (result.decision, result.suppress, result.snooze, result.referral) == (None, None, None, None)


def test_an_interested_reply_is_due_within_the_response_sla_in_business_hours() -> None:
    # 15:00 on Wednesday, a 9-17 window: two hours left that day, the other six on Thursday
    result = consequences(reply("interested"), facts(sla=8))
    assert result.task is not None
    assert result.task.due_at == local("2026-12-10 15:00")


def test_an_interested_reply_of_a_lead_never_enrolled_is_due_in_plain_hours() -> None:
    result = consequences(reply("interested"), Facts(at=NOW, lead_name="Ada", policy=Policy(response_sla_hours=4)))
    assert result.task is not None
    assert result.task.due_at == NOW + timedelta(hours=4)


def test_not_now_with_a_date_snoozes_the_lead_until_the_window_opens_that_day_with_no_task() -> None:
    result = consequences(reply("not_now", date=date(2027, 3, 1)), facts())
    assert stopped(result)
    assert result.snooze == NewSnooze(until=local("2027-03-01 09:00"), cadence="re-engage")
    assert (result.task, result.decision) == (None, None)


def test_not_now_with_a_date_already_past_asks_the_owner_to_confirm_one() -> None:
    result = consequences(reply("not_now", date=date(2026, 12, 1)), facts())
    assert result.snooze is None
    assert result.task is not None
    assert result.task.title == "Ask Ada Lovelace when to get back in touch"


def test_a_referral_with_an_email_adds_the_person_and_thanks_through_the_owner() -> None:
    named = Referral(name="Bo Diddley", email="bo@example.com", phone=None)
    result = consequences(reply("referral", referral=named), facts())
    assert stopped(result)
    assert result.referral == NewReferral(email="bo@example.com", name="Bo Diddley", phone=None, cadence="referral")
    assert result.task is not None
    assert result.task.title == "Thank Ada Lovelace for the referral and record a decision"


@pytest.mark.parametrize(
    ("intent", "outcome"),
    [("not_interested", Outcome.NOT_INTERESTED), ("unsubscribe_request", Outcome.UNSUBSCRIBED)],
)
@pytest.mark.parametrize("state", [State.ACTIVE, State.PAUSED, State.RESPONDED, State.COMPLETED])
def test_a_refusal_decides_and_suppresses_with_the_reply_as_the_reason(
    intent: Intent, outcome: Outcome, state: State
) -> None:
    result = consequences(reply(intent), facts(state))
    assert stopped(result)
    assert result.enrollment is not None
    assert result.enrollment.state == State.DECIDED
    assert result.decision is not None
    assert (result.decision.outcome, result.decision.reason, result.decision.decided_by) == (
        outcome,
        "the reply's text",
        "reply",
    )
    assert result.suppress == f"{intent} (reply): the reply's text"
    assert result.task is None


def test_a_refusal_after_a_decision_suppresses_and_keeps_the_decision() -> None:
    result = consequences(reply("not_interested"), facts(State.DECIDED, decided=Outcome.MEETING_BOOKED))
    assert result.decision is None
    assert result.suppress is not None
    assert result.response is not None


@pytest.mark.parametrize("intent", ["interested", "not_now", "referral", "not_interested", "unsubscribe_request"])
def test_a_reading_below_the_review_threshold_is_a_review_task_and_nothing_automatic(intent: Intent) -> None:
    named = Referral(email="bo@example.com")
    result = consequences(reply(intent, confidence=REVIEW_BELOW - 0.01, date=date(2027, 3, 1), referral=named), facts())
    assert stopped(result)
    assert result.task is not None
    assert result.task.title == "Review Ada Lovelace's reply: what it says is unclear"
    assert (result.decision, result.suppress, result.snooze, result.referral) == (None, None, None, None)
    assert result.enrollment is not None
    assert result.enrollment.state == State.RESPONDED


def test_a_reply_without_a_reading_keeps_the_plain_answer_task() -> None:
    result = consequences(Responded(kind="reply", channel="email", note="hi"), facts())
    assert result.task is not None
    assert result.task.title == "Answer Ada Lovelace's reply"


# -- the snooze's end -------------------------------------------------------------------------------------


def test_the_snooze_over_closes_the_answered_enrollment_without_a_decision() -> None:
    result = consequences(SnoozeOver(cadence="re-engage"), facts(State.RESPONDED))
    assert result.enrollment is not None
    assert (result.enrollment.state, result.enrollment.ended_at) == (State.COMPLETED, NOW)
    assert result.decision is None


@pytest.mark.parametrize("state", [State.COMPLETED, State.DECIDED, None])
def test_the_snooze_over_leaves_a_closed_enrollment_alone(state: State | None) -> None:
    result = consequences(SnoozeOver(cadence="re-engage"), facts(state))
    assert result.enrollment is None


def test_only_an_active_enrollment_runs_out_of_steps() -> None:
    from cadence.core.events import GraceOver

    with pytest.raises(InvalidTransition, match="no step ran out"):
        consequences(GraceOver(), facts(State.RESPONDED))


# -- business hours -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "end"),
    [
        ("2026-12-09 10:00", 4, "2026-12-09 14:00"),
        ("2026-12-09 15:00", 4, "2026-12-10 11:00"),
        ("2026-12-09 07:00", 1, "2026-12-09 10:00"),
        ("2026-12-11 16:00", 4, "2026-12-14 12:00"),  # Friday to Monday
        ("2026-12-24 16:00", 2, "2026-12-29 10:00"),  # Christmas and Boxing Day (moved to the 28th) are closed
    ],
)
def test_business_hours_count_only_the_window_of_open_days(start: str, hours: int, end: str) -> None:
    assert add_business_hours(CALENDAR, local(start), hours) == local(end)
