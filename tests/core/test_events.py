"""What every event means: tables of (event, facts) -> consequences, one rule for every path."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.decisions import Outcome
from cadence.core.enrollment import State
from cadence.core.events import (
    RECLAIMABLE,
    STEP_DONE,
    AnyEvent,
    AutoReply,
    Bounced,
    BounceNotice,
    ClaimLapsed,
    Consequences,
    Decided,
    Facts,
    GraceOver,
    NewDecision,
    NewResponse,
    NewTask,
    Paused,
    Policy,
    Position,
    Responded,
    Resumed,
    Retry,
    Sent,
    SnoozedByHand,
    StepDue,
    StepFailed,
    StepHeld,
    TaskDone,
    TouchFacts,
    TouchState,
    Uncertain,
    Unsubscribed,
    Withdrawn,
    consequences,
    next_due_at,
)
from cadence.core.schedule import LeadCalendar
from cadence.errors import InvalidTransition, ValidationError

LONDON = "Europe/London"
TOKYO = "Asia/Tokyo"

CADENCE: Cadence = parse_cadence(
    {
        "name": "test",
        "steps": [
            {"day": 0, "channel": "email", "template": "a"},
            {"day": 2, "channel": "email", "template": "b"},
            {"day": 4, "channel": "call"},
        ],
        "settings": {"send_window": {"start": "09:00", "end": "17:00"}},
    }
)


def calendar(zone: str = LONDON, country: str | None = "GB") -> LeadCalendar:
    return LeadCalendar.for_lead(CADENCE.settings, zone, country)


def local(zone: str, text: str) -> datetime:
    """The UTC instant of a local wall-clock time such as ``2026-12-07 10:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def wall(instant: datetime | None, zone: str = LONDON) -> str:
    assert instant is not None
    return instant.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M")


ENROLLED = local(LONDON, "2026-12-07 10:00")  # a Monday
NOW = local(LONDON, "2026-12-09 11:00")  # Wednesday: step 1 (day 2) is due


def position(state: State = State.ACTIVE, step: int = 1, **fields: Any) -> Position:
    base = Position(
        state=state,
        enrolled_at=ENROLLED,
        anchor_at=ENROLLED,
        next_step=step,
        next_due_at=local(LONDON, "2026-12-09 09:00") if state == State.ACTIVE else None,
        last_touch_at=ENROLLED if step else None,
        last_touch_day=0 if step else None,
    )
    return replace(base, **fields)


def facts(
    state: State | None = State.ACTIVE,
    *,
    touch: TouchState | None = TouchState.SENDING,
    step: int = 1,
    at: datetime = NOW,
    decided: Outcome | None = None,
    responded: bool = False,
    zone: str = LONDON,
    **fields: Any,
) -> Facts:
    return Facts(
        at=at,
        enrollment=position(state, step, **fields) if state is not None else None,
        cadence=CADENCE,
        calendar=calendar(zone),
        decided=decided,
        responded=responded,
        touch=TouchFacts(step_index=1, state=touch, error="550 no such user") if touch is not None else None,
        lead_name="Ada Lovelace",
        policy=Policy(reply_grace_days=3, auto_reply_pause_days=7, hold_recheck=timedelta(hours=1)),
    )


def moved_on(result: Consequences) -> bool:
    """True when the consequences move the enrollment past step 1, done at NOW."""
    return (
        result.enrollment is not None
        and result.enrollment.next_step == 2
        and result.enrollment.last_touch_at == NOW
        and result.enrollment.last_touch_day == 2
    )


# -- send outcomes -----------------------------------------------------------------------------------

SEND_OUTCOMES: list[tuple[str, AnyEvent, State | None, int, TouchState | None, bool, bool, Outcome | None]] = [
    # (id, event, enrollment state, its next step, touch after, moved on, claim released, decision)
    ("sent", Sent("250 ok"), State.ACTIVE, 1, TouchState.SENT, True, False, None),
    ("sent-after-a-pause", Sent("250 ok"), State.PAUSED, 1, TouchState.SENT, False, False, None),
    ("sent-after-a-reply", Sent("250 ok"), State.RESPONDED, 1, TouchState.SENT, False, False, None),
    ("sent-step-moved", Sent("250 ok"), State.ACTIVE, 2, TouchState.SENT, False, False, None),
    ("uncertain", Uncertain("lost"), State.ACTIVE, 1, TouchState.UNCERTAIN, True, False, None),
    ("uncertain-decided", Uncertain("lost"), State.DECIDED, 1, TouchState.UNCERTAIN, False, False, None),
    ("bounced", Bounced("550 no such user"), State.ACTIVE, 1, TouchState.BOUNCED, False, False, Outcome.BOUNCED),
    ("bounced-paused", Bounced("550"), State.PAUSED, 1, TouchState.BOUNCED, False, False, Outcome.BOUNCED),
    ("withdrawn-suppressed", Withdrawn(suppressed=True), State.ACTIVE, 1, TouchState.SKIPPED, True, False, None),
    # paused, then resumed before the outcome was settled: nothing went out, the step runs again
    ("withdrawn-active-again", Withdrawn(suppressed=False), State.ACTIVE, 1, None, False, True, None),
    ("withdrawn-decided", Withdrawn(suppressed=False), State.DECIDED, 1, None, False, True, None),
    ("withdrawn-paused", Withdrawn(suppressed=False), State.PAUSED, 1, None, False, True, None),
]


@pytest.mark.parametrize(
    ("event", "state", "step", "touch", "moves_on", "released", "decision"),
    [row[1:] for row in SEND_OUTCOMES],
    ids=[row[0] for row in SEND_OUTCOMES],
)
def test_a_send_outcome_sets_the_touch_and_moves_the_enrollment_on_only_if_still_at_its_step(
    event: AnyEvent,
    state: State,
    step: int,
    touch: TouchState | None,
    moves_on: bool,
    released: bool,
    decision: Outcome | None,
) -> None:
    result = consequences(event, facts(state, step=step))
    assert result.touch == touch
    assert moved_on(result) is moves_on
    assert result.release_claim is released
    assert (result.decision.outcome if result.decision else None) == decision
    assert result.uncertain is isinstance(event, Uncertain)


def test_a_sent_email_schedules_the_next_step_at_its_slot() -> None:
    result = consequences(Sent(), facts())
    assert result.enrollment is not None
    assert wall(result.enrollment.next_due_at) == "Fri 2026-12-11 09:00"  # day 4, at the window's start
    assert result.lead_status == "active"


def test_the_last_step_sent_schedules_the_end_of_the_grace_period() -> None:
    result = consequences(Sent(), replace(facts(step=2), touch=TouchFacts(step_index=2, state=TouchState.SENDING)))
    assert result.enrollment is not None
    assert result.enrollment.next_step == 3
    assert wall(result.enrollment.next_due_at) == "Mon 2026-12-14 11:00"  # three business days later


def test_a_retry_is_due_again_at_the_first_slot_after_its_backoff() -> None:
    late = local(LONDON, "2026-12-09 16:50")
    result = consequences(Retry("421 try later", timedelta(minutes=30)), facts(at=late))
    assert result.touch == TouchState.RETRY
    assert result.touch_error == "421 try later"
    assert result.enrollment is not None
    assert wall(result.enrollment.next_due_at) == "Thu 2026-12-10 09:00"  # not 17:20, after the window closed
    assert result.enrollment.next_step == 1


def test_a_retry_inside_the_window_is_due_right_after_its_backoff() -> None:
    result = consequences(Retry("421", timedelta(minutes=5)), facts())
    assert result.enrollment is not None
    assert result.enrollment.next_due_at == NOW + timedelta(minutes=5)


@pytest.mark.parametrize(("attempt", "fails"), [(1, False), (7, False), (8, True), (9, True)])
def test_a_step_is_retried_only_until_its_last_attempt_then_fails_with_a_task(attempt: int, fails: bool) -> None:
    result = consequences(Retry("421 try later", timedelta(minutes=5), attempt=attempt), facts())
    assert result.touch == (TouchState.FAILED if fails else TouchState.RETRY)
    assert moved_on(result) is fails
    assert (result.task is not None) is fails
    if fails:
        assert result.task is not None
        assert result.touch_error == "gave up after 8 attempts: 421 try later".replace("8", str(attempt))
        assert result.task.title.startswith("Email step 2 to Ada Lovelace could not be sent")


def test_a_step_that_can_never_send_fails_at_once_and_its_owner_gets_a_task() -> None:
    result = consequences(StepFailed("non-ASCII address and no SMTPUTF8"), facts())
    assert result.touch == TouchState.FAILED
    assert moved_on(result)
    assert result.task is not None
    assert "non-ASCII address" in (result.task.instructions or "")
    assert result.decision is None
    assert result.suppress is None


def test_a_failed_step_of_a_stopped_enrollment_moves_nothing_but_still_tells_the_owner() -> None:
    result = consequences(StepFailed("unsendable"), facts(State.PAUSED))
    assert result.enrollment is None
    assert result.touch == TouchState.FAILED
    assert result.task is not None


def test_a_retry_of_a_stopped_enrollment_schedules_nothing() -> None:
    result = consequences(Retry("421", timedelta(minutes=5)), facts(State.PAUSED))
    assert result.enrollment is None
    assert result.touch == TouchState.RETRY


# -- "a bounce suppresses and decides bounced": one rule, whoever sees the bounce ----------------------

BOUNCES: list[tuple[str, AnyEvent, TouchState | None]] = [
    ("at-send-time", Bounced("550 no such user"), TouchState.SENDING),
    ("by-notice", BounceNotice(permanent=True, status="5.1.1 unknown user"), None),
    ("recovered-from-a-lapsed-claim", ClaimLapsed(), TouchState.BOUNCED),
]


@pytest.mark.parametrize(("event", "touch"), [b[1:] for b in BOUNCES], ids=[b[0] for b in BOUNCES])
def test_a_bounce_suppresses_the_address_and_decides_bounced_an_undecided_lead(
    event: AnyEvent, touch: TouchState | None
) -> None:
    result = consequences(event, facts(touch=touch))
    assert result.suppress is not None
    assert result.suppress.startswith("bounced: ")
    assert result.decision is not None
    assert (result.decision.outcome, result.decision.decided_by) == (Outcome.BOUNCED, "cadence")
    assert result.enrollment is not None
    assert result.enrollment.state == State.DECIDED
    assert result.enrollment.ended_at == NOW
    assert result.enrollment.next_due_at is None
    assert result.cancel_open_tasks
    assert result.lead_status == "decided"


@pytest.mark.parametrize(("event", "touch"), [b[1:] for b in BOUNCES], ids=[b[0] for b in BOUNCES])
@pytest.mark.parametrize("earlier", [Outcome.MEETING_BOOKED, Outcome.NOT_INTERESTED, Outcome.NO_RESPONSE])
def test_a_bounce_never_adds_a_second_decision_to_a_lead_decided_since_enrolled(
    event: AnyEvent, touch: TouchState | None, earlier: Outcome
) -> None:
    result = consequences(event, facts(State.DECIDED, touch=touch, decided=earlier))
    assert result.decision is None
    assert result.suppress is not None  # the address is suppressed all the same
    assert result.enrollment is None
    assert not result.cancel_open_tasks
    assert earlier.value in result.note


def test_a_temporary_bounce_notice_changes_nothing_but_the_timeline() -> None:
    result = consequences(BounceNotice(permanent=False, status="4.2.2 mailbox full"), facts(touch=None))
    assert result == Consequences(
        response=NewResponse(kind="bounce", channel="email", note="delivery delayed or failed: 4.2.2 mailbox full"),
        note="temporary delivery failure, nothing changed: 4.2.2 mailbox full",
    )


def test_a_permanent_bounce_notice_goes_on_the_timeline_of_the_latest_enrollment() -> None:
    result = consequences(
        BounceNotice(permanent=True, status="5.1.1"), facts(State.DECIDED, touch=None, decided=Outcome.BAD_FIT)
    )
    assert result.response == NewResponse(kind="bounce", channel="email", note="bounced: 5.1.1", on_enrollment=True)


@pytest.mark.parametrize("decided", [None, Outcome.NOT_INTERESTED])
def test_an_unsubscribe_suppresses_and_decides_unsubscribed_only_an_undecided_lead(decided: Outcome | None) -> None:
    state = State.ACTIVE if decided is None else State.DECIDED
    result = consequences(
        Unsubscribed(reason="unsubscribe by email", by="ada@x.example"), facts(state, decided=decided)
    )
    assert result.suppress == "unsubscribe by email"
    if decided is None:
        assert result.decision == NewDecision(
            outcome=Outcome.UNSUBSCRIBED, reason="unsubscribe by email", decided_by="ada@x.example"
        )
    else:
        assert result.decision is None


# -- held and due steps: never released outside the lead's slot ---------------------------------------

HELD: list[tuple[str, str, str, str]] = [
    # (zone, held at local, next look at local, why)
    (LONDON, "2026-12-09 11:00", "Wed 2026-12-09 12:00", "inside the window: an hour later"),
    (LONDON, "2026-12-09 16:30", "Thu 2026-12-10 09:00", "an hour later is after the window: next morning"),
    (LONDON, "2026-12-09 21:30", "Thu 2026-12-10 09:00", "the evening: next morning"),
    (LONDON, "2026-12-11 16:30", "Mon 2026-12-14 09:00", "Friday afternoon: Monday"),
    (LONDON, "2026-12-24 16:30", "Tue 2026-12-29 09:00", "Christmas Eve: past Christmas, Boxing Day's substitute"),
    (TOKYO, "2026-12-09 06:30", "Wed 2026-12-09 09:00", "early morning in Tokyo: the window's start"),
]


@pytest.mark.parametrize(("zone", "held_at", "expected", "why"), HELD, ids=[h[3] for h in HELD])
def test_a_held_step_is_looked_at_again_only_at_an_allowed_slot(
    zone: str, held_at: str, expected: str, why: str
) -> None:
    country = "GB" if zone == LONDON else "JP"
    at = local(zone, held_at)
    result = consequences(
        StepHeld("template b: undefined variable"), replace(facts(at=at), calendar=calendar(zone, country))
    )
    assert result.touch == TouchState.HELD
    assert result.touch_error == "template b: undefined variable"
    assert result.enrollment is not None
    assert wall(result.enrollment.next_due_at, zone) == expected


@pytest.mark.parametrize("state", [State.PAUSED, State.RESPONDED, State.DECIDED])
def test_a_due_step_of_a_stopped_enrollment_is_given_back_not_deferred(state: State) -> None:
    result = consequences(StepDue(), facts(state, at=local(LONDON, "2026-12-09 21:30")))
    assert result.release_claim
    assert (result.enrollment, result.deferred_to) == (None, None)


def test_a_held_step_of_a_stopped_enrollment_is_not_rescheduled() -> None:
    assert consequences(StepHeld("broken"), facts(State.PAUSED)).enrollment is None


DUE: list[tuple[str, str, str | None]] = [
    # (zone, the runner gets to the step at local, deferred to local, or None: runs now)
    (LONDON, "2026-12-09 11:00", None),
    (LONDON, "2026-12-09 09:00", None),
    (LONDON, "2026-12-09 21:30", "Thu 2026-12-10 09:00"),
    (LONDON, "2026-12-09 17:00", "Thu 2026-12-10 09:00"),
    (LONDON, "2026-12-12 10:00", "Mon 2026-12-14 09:00"),
    (LONDON, "2026-12-25 10:00", "Tue 2026-12-29 09:00"),
    (TOKYO, "2026-12-09 06:30", "Wed 2026-12-09 09:00"),
]


@pytest.mark.parametrize(("zone", "reached", "deferred"), DUE, ids=[f"{z}-{r}" for z, r, _ in DUE])
def test_a_due_step_outside_its_slot_is_moved_to_the_next_allowed_slot(
    zone: str, reached: str, deferred: str | None
) -> None:
    country = "GB" if zone == LONDON else "JP"
    at = local(zone, reached)
    result = consequences(StepDue(), replace(facts(at=at), calendar=calendar(zone, country)))
    if deferred is None:
        assert result.deferred_to is None
        assert result.enrollment is None
        assert not result.release_claim
        return
    assert wall(result.deferred_to, zone) == deferred
    assert result.enrollment is not None
    assert result.enrollment.next_due_at == result.deferred_to
    assert result.release_claim
    assert result.touch is None


# -- lapsed claims (crash recovery) --------------------------------------------------------------------

LAPSED: list[tuple[TouchState, TouchState | None, bool, bool, bool]] = [
    # (touch found, touch after, claimed again, moved on, uncertain)
    *[(state, None, True, False, False) for state in sorted(RECLAIMABLE)],
    (TouchState.HANDING, TouchState.UNCERTAIN, False, True, True),
    (TouchState.UNCERTAIN, None, False, True, True),
    (TouchState.SENT, None, False, True, False),
    (TouchState.DONE, None, False, True, False),
    (TouchState.SKIPPED, None, False, True, False),
    (TouchState.FAILED, None, False, True, False),
]


@pytest.mark.parametrize(
    ("found", "after", "reclaim", "moves_on", "uncertain"), LAPSED, ids=[str(row[0]) for row in LAPSED]
)
def test_a_lapsed_claim_is_finished_from_the_state_its_runner_left_never_redone(
    found: TouchState, after: TouchState | None, reclaim: bool, moves_on: bool, uncertain: bool
) -> None:
    result = consequences(ClaimLapsed(), facts(touch=found))
    assert result.touch == after
    assert result.reclaim is reclaim
    assert moved_on(result) is moves_on
    assert result.uncertain is uncertain
    assert result.decision is None
    assert result.suppress is None


def test_every_touch_state_has_a_rule_when_its_claim_lapses() -> None:
    covered = {row[0] for row in LAPSED} | {TouchState.BOUNCED}
    assert covered == set(TouchState)
    assert not RECLAIMABLE & STEP_DONE


def test_grace_over_completes_the_enrollment_with_the_decision_no_response() -> None:
    result = consequences(GraceOver(), facts(step=3, touch=None))
    assert result.enrollment is not None
    assert result.enrollment.state == State.COMPLETED
    assert result.enrollment.ended_at == NOW
    assert result.decision is not None
    assert (result.decision.outcome, result.decision.decided_by) == (Outcome.NO_RESPONSE, "cadence")
    assert result.lead_status == "completed"


# -- responses: however they arrive, the automated steps stop and the owner gets a task -----------------

RESPONSES: list[tuple[str, AnyEvent, str, str]] = [
    (
        "imap-reply",
        Responded(kind="reply", channel="email", note="Sounds good"),
        "reply",
        "Answer Ada Lovelace's reply",
    ),
    (
        "cadence-reply",
        Responded(kind="manual", channel="phone", note="called back"),
        "manual",
        "Follow up Ada Lovelace's response: record the decision",
    ),
    (
        "connected-call",
        TaskDone(channel="call", outcome="connected", note="interested"),
        "call",
        "Follow up the call with Ada Lovelace: record the decision",
    ),
]


@pytest.mark.parametrize(("event", "kind", "title"), [r[1:] for r in RESPONSES], ids=[r[0] for r in RESPONSES])
@pytest.mark.parametrize("state", [State.ACTIVE, State.PAUSED, State.RESPONDED, State.COMPLETED])
def test_every_response_stops_the_steps_and_gives_the_owner_a_task(
    event: AnyEvent, kind: str, title: str, state: State
) -> None:
    result = consequences(event, facts(state, touch=None))
    assert result.enrollment is not None
    assert (result.enrollment.state, result.enrollment.next_due_at, result.enrollment.ended_at) == (
        State.RESPONDED,
        None,
        None,
    )
    assert result.response is not None
    assert result.response.kind == kind
    assert result.response.on_enrollment
    assert result.task is not None
    assert (result.task.channel, result.task.title, result.task.due_at) == ("reply", title, NOW)
    assert result.decision is None


@pytest.mark.parametrize(("event", "kind", "title"), [r[1:] for r in RESPONSES], ids=[r[0] for r in RESPONSES])
@pytest.mark.parametrize("state", [State.DECIDED, None])
def test_a_response_after_the_decision_or_without_enrollment_still_gives_the_owner_a_task(
    event: AnyEvent, kind: str, title: str, state: State | None
) -> None:
    result = consequences(event, facts(state, touch=None))
    assert result.enrollment is None
    assert result.response is not None
    assert result.response.kind == kind
    assert not result.response.on_enrollment
    assert result.task is not None
    assert result.task.title == title


def test_a_response_without_text_gives_a_task_that_says_so() -> None:
    result = consequences(Responded(kind="reply", channel="email"), facts(touch=None))
    assert result.task == NewTask(
        channel="reply", title="Answer Ada Lovelace's reply", instructions="(no text)", due_at=NOW
    )


@pytest.mark.parametrize(("outcome", "responds"), [("voicemail", False), ("no_answer", False), ("connected", True)])
def test_only_a_connected_call_is_a_response(outcome: str, responds: bool) -> None:
    result = consequences(TaskDone(channel="call", outcome=outcome), facts(touch=None))
    assert (result.response is not None) is responds
    assert (result.enrollment is not None) is responds


def test_a_connected_call_recorded_with_its_decision_is_a_response_and_the_decision_with_no_new_task() -> None:
    decision = Decided(Outcome.NOT_INTERESTED, reason="budget", decided_by="rep@x.example")
    result = consequences(TaskDone(channel="call", outcome="connected", decision=decision), facts(touch=None))
    assert result.response is not None
    assert result.response.kind == "call"
    assert result.task is None
    assert result.decision == NewDecision(outcome=Outcome.NOT_INTERESTED, reason="budget", decided_by="rep@x.example")
    assert result.enrollment is not None
    assert result.enrollment.state == State.DECIDED


def test_an_unknown_response_kind_is_a_bug_of_the_caller() -> None:
    with pytest.raises(ValueError, match="a response is one of call, manual, reply"):
        consequences(Responded(kind="auto_reply"), facts(touch=None))


AUTO_REPLIES: list[tuple[str, AutoReply, State, str | None]] = [
    ("no-return-date", AutoReply(note="away"), State.ACTIVE, "Wed 2026-12-16 11:00"),
    ("back-on-a-date", AutoReply(return_date=date(2026, 12, 14), note="away"), State.ACTIVE, "Mon 2026-12-14 09:00"),
    ("back-already", AutoReply(return_date=date(2026, 12, 8)), State.ACTIVE, None),
    ("paused-already", AutoReply(note="away"), State.PAUSED, None),
    ("responded", AutoReply(note="away"), State.RESPONDED, None),
]


@pytest.mark.parametrize(("event", "state", "until"), [a[1:] for a in AUTO_REPLIES], ids=[a[0] for a in AUTO_REPLIES])
def test_an_automatic_reply_pauses_an_active_enrollment_until_the_lead_is_back(
    event: AutoReply, state: State, until: str | None
) -> None:
    result = consequences(event, facts(state, touch=None))
    assert result.response is not None
    assert result.response.kind == "auto_reply"
    assert result.task is None
    assert result.decision is None
    if until is None:
        assert result.enrollment is None
        return
    assert result.enrollment is not None
    assert result.enrollment.state == State.PAUSED
    assert wall(result.enrollment.paused_until) == until
    assert result.enrollment.paused_at == NOW
    assert result.enrollment.next_due_at is None


def test_an_automatic_reply_notes_the_return_date_on_the_timeline() -> None:
    result = consequences(AutoReply(return_date=date(2026, 12, 14), note="away"), facts(touch=None))
    assert result.response is not None
    assert result.response.note == "back on 2026-12-14: away"


# -- decisions: one current decision; a meeting is a response --------------------------------------------

DECISIONS: list[tuple[State | None, State | None]] = [
    (State.ACTIVE, State.DECIDED),
    (State.PAUSED, State.DECIDED),
    (State.RESPONDED, State.DECIDED),
    (State.COMPLETED, State.DECIDED),
    (State.DECIDED, None),  # stays decided: the new decision supersedes the earlier one
    (None, None),
]


@pytest.mark.parametrize(("state", "after"), DECISIONS, ids=[str(s) for s, _ in DECISIONS])
def test_a_decision_stops_the_enrollment_cancels_open_tasks_and_becomes_current(
    state: State | None, after: State | None
) -> None:
    earlier = Outcome.NO_RESPONSE if state in (State.COMPLETED, State.DECIDED) else None
    result = consequences(
        Decided(Outcome.NOT_INTERESTED, reason="  no budget ", decided_by="rep@x.example"),
        facts(state, touch=None, decided=earlier),
    )
    assert (result.enrollment.state if result.enrollment else None) == after
    if result.enrollment is not None:
        assert (result.enrollment.ended_at, result.enrollment.next_due_at) == (NOW, None)
    assert result.decision == NewDecision(Outcome.NOT_INTERESTED, reason="no budget", decided_by="rep@x.example")
    assert result.cancel_open_tasks
    assert result.lead_status == "decided"


MEETINGS: list[tuple[Outcome, bool, bool]] = [
    # (outcome, the lead had responded, the decision records a response)
    (Outcome.MEETING_BOOKED, False, True),
    (Outcome.QUALIFIED_HANDOFF, False, True),
    (Outcome.MEETING_BOOKED, True, False),
    (Outcome.NOT_INTERESTED, False, False),
    (Outcome.BAD_FIT, False, False),
]


@pytest.mark.parametrize(("outcome", "responded", "records"), MEETINGS)
def test_a_meeting_or_hand_off_counts_as_a_response(outcome: Outcome, responded: bool, records: bool) -> None:
    event = Decided(outcome, qualification_skipped=True)
    result = consequences(event, facts(State.ACTIVE, touch=None, responded=responded))
    if not records:
        assert result.response is None
        return
    assert result.response is not None
    assert (result.response.kind, result.response.on_enrollment) == ("manual", True)
    assert result.response.note == f"{outcome.value.replace('_', ' ')} recorded with the decision"


def test_a_meeting_needs_its_qualifying_answers() -> None:
    with pytest.raises(ValidationError, match="meeting_booked needs the answers"):
        consequences(Decided(Outcome.MEETING_BOOKED), facts(touch=None))


def test_a_decision_reason_longer_than_5000_characters_is_refused() -> None:
    with pytest.raises(ValidationError, match="longer than 5000"):
        consequences(Decided(Outcome.BAD_FIT, reason="x" * 5001), facts(touch=None))


# -- pause and resume ------------------------------------------------------------------------------------


def test_a_pause_stops_the_steps_until_the_given_instant() -> None:
    until = NOW + timedelta(days=3)
    result = consequences(Paused(until=until), facts(touch=None))
    assert result.enrollment is not None
    assert (result.enrollment.state, result.enrollment.paused_at, result.enrollment.paused_until) == (
        State.PAUSED,
        NOW,
        until,
    )
    assert result.enrollment.next_due_at is None


@pytest.mark.parametrize("state", [State.PAUSED, State.RESPONDED, State.DECIDED, State.COMPLETED])
def test_only_an_active_enrollment_can_be_paused(state: State) -> None:
    with pytest.raises(InvalidTransition, match="only an active enrollment can be paused"):
        consequences(Paused(), facts(state, touch=None))


def test_pausing_a_lead_never_enrolled_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="no enrollment to pause"):
        consequences(Paused(), facts(None, touch=None))


def test_a_resume_moves_the_remaining_steps_later_by_the_time_paused() -> None:
    paused_at = local(LONDON, "2026-12-08 10:00")
    resumed_at = local(LONDON, "2026-12-10 10:00")
    result = consequences(
        Resumed(), facts(State.PAUSED, touch=None, at=resumed_at, paused_at=paused_at, paused_until=None)
    )
    assert result.enrollment is not None
    assert result.enrollment.state == State.ACTIVE
    assert result.enrollment.anchor_at == ENROLLED + timedelta(days=2)
    assert result.enrollment.last_touch_at == ENROLLED + timedelta(days=2)
    assert (result.enrollment.paused_at, result.enrollment.paused_until) == (None, None)
    assert wall(result.enrollment.next_due_at) == "Fri 2026-12-11 09:00"  # day 2 of the moved anchor


@pytest.mark.parametrize("state", [State.ACTIVE, State.RESPONDED, State.DECIDED])
def test_only_a_paused_enrollment_can_be_resumed(state: State) -> None:
    with pytest.raises(InvalidTransition, match="only a paused enrollment can be resumed"):
        consequences(Resumed(), facts(state, touch=None))


# -- the facts an event needs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event", [Sent(), Uncertain("x"), Bounced("x"), Withdrawn(suppressed=True), StepHeld("x"), ClaimLapsed()]
)
def test_an_event_about_a_touch_without_its_touch_is_a_bug_of_the_caller(event: AnyEvent) -> None:
    with pytest.raises(ValueError, match="needs the facts of its touch"):
        consequences(event, facts(touch=None))


def test_scheduling_without_the_cadence_is_a_bug_of_the_caller() -> None:
    with pytest.raises(ValueError, match="needs the enrollment's cadence"):
        consequences(Sent(), replace(facts(), cadence=None))


def test_only_an_active_enrollment_is_ever_due() -> None:
    for state in State:
        due = next_due_at(position(state), CADENCE, calendar(), grace_days=3)
        assert (due is not None) is (state == State.ACTIVE)


def test_the_module_docstring_has_a_row_for_every_event() -> None:
    import typing

    import cadence.core.events as events

    assert events.__doc__ is not None
    for event in typing.get_args(AnyEvent):
        assert f"``{event.__name__}``" in events.__doc__


# -- properties of every (event, facts) pair ----------------------------------------------------------------

EVERY_EVENT: list[AnyEvent] = [
    Sent("250 ok"),
    Retry("421", timedelta(minutes=10)),
    Retry("421", timedelta(minutes=10), attempt=8),
    StepFailed("an address the server cannot take"),
    Bounced("550"),
    Uncertain("lost"),
    Withdrawn(suppressed=True),
    Withdrawn(suppressed=False),
    StepHeld("broken"),
    StepDue(),
    ClaimLapsed(),
    GraceOver(),
    Responded(kind="reply", channel="email", note="hi"),
    AutoReply(return_date=date(2026, 12, 14)),
    AutoReply(),
    BounceNotice(permanent=True, status="5.1.1"),
    BounceNotice(permanent=False, status="4.2.2"),
    Unsubscribed(reason="unsubscribe by email"),
    Decided(Outcome.BAD_FIT, reason="too small"),
    Decided(Outcome.MEETING_BOOKED, qualification_skipped=True),
    TaskDone(channel="call", outcome="connected"),
    TaskDone(channel="call", outcome="connected", decision=Decided(Outcome.NOT_INTERESTED)),
    TaskDone(channel="research", outcome="done"),
    Paused(until=NOW + timedelta(days=2)),
    Resumed(),
    SnoozedByHand(day=date(2027, 3, 1), by="rita@cadence.example"),
]
AUTOMATIC = (Bounced, BounceNotice, Unsubscribed, ClaimLapsed)


@pytest.mark.parametrize("event", EVERY_EVENT, ids=[repr(e)[:40] for e in EVERY_EVENT])
def test_whatever_the_facts_the_consequences_keep_the_invariants(event: AnyEvent) -> None:
    """Over every enrollment state, decided or not, and every touch state: an active enrollment is due, a
    stopped one is not; an automatic decision never replaces one; a task comes with a response (or with a
    step that failed for good), never with a decision; what is refused is refused with a clear error."""
    for state, decided, touch in itertools.product([*State, None], [None, Outcome.NOT_INTERESTED], [*TouchState]):
        given = facts(state, touch=touch, decided=decided, paused_at=NOW - timedelta(days=1))
        try:
            result = consequences(event, given)
        except InvalidTransition:
            continue
        moved = result.enrollment
        if moved is not None:
            assert (moved.next_due_at is not None) is (moved.state == State.ACTIVE), (state, touch, result)
        if result.decision is not None and isinstance(event, AUTOMATIC):
            assert decided is None, (state, touch, result)
        if result.task is not None:
            assert result.response is not None or result.touch == TouchState.FAILED
            assert result.decision is None
        if result.lead_status is not None:
            assert result.lead_status in {s.value for s in State}


# -- a snooze by hand ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.ACTIVE, State.PAUSED, State.RESPONDED, State.COMPLETED, None])
def test_a_snooze_by_hand_stops_the_steps_and_wakes_the_lead_at_the_start_of_its_window(state: State | None) -> None:
    result = consequences(SnoozedByHand(day=date(2027, 3, 1), by="rita@cadence.example"), facts(state, touch=None))
    assert result.snooze is not None
    assert result.snooze.until == local(LONDON, f"2027-03-01 {CADENCE.settings.window_start:%H:%M}")
    assert result.snooze.cadence == Policy().reengage_cadence
    assert "by rita@cadence.example" in result.note
    if state in (State.ACTIVE, State.PAUSED):
        assert result.enrollment is not None
        assert (result.enrollment.state, result.enrollment.next_due_at) == (State.RESPONDED, None)
    else:
        assert result.enrollment is None  # answered already, run out, or never enrolled: nothing to stop
    assert result.decision is None
    assert result.response is None


def test_a_snooze_by_hand_to_a_day_gone_is_refused() -> None:
    from cadence.core.events import SnoozedByHand
    from cadence.errors import ValidationError

    with pytest.raises(ValidationError, match="a day in the future"):
        consequences(SnoozedByHand(day=NOW.date() - timedelta(days=1)), facts(touch=None))
