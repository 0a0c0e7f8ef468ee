"""The life of an enrollment: every (state, event) pair, allowed or refused."""

from __future__ import annotations

import itertools
import re

import pytest

from cadence.core.enrollment import Event, State, is_open, transition
from cadence.errors import InvalidTransition

ALLOWED: dict[tuple[State, Event], State] = {
    (State.ACTIVE, Event.PAUSE): State.PAUSED,
    (State.ACTIVE, Event.RESPOND): State.RESPONDED,
    (State.ACTIVE, Event.COMPLETE): State.COMPLETED,
    (State.ACTIVE, Event.DECIDE): State.DECIDED,
    (State.PAUSED, Event.RESUME): State.ACTIVE,
    (State.PAUSED, Event.RESPOND): State.RESPONDED,
    (State.PAUSED, Event.DECIDE): State.DECIDED,
    (State.RESPONDED, Event.RESPOND): State.RESPONDED,  # a second reply changes nothing
    (State.RESPONDED, Event.DECIDE): State.DECIDED,
    (State.RESPONDED, Event.COMPLETE): State.COMPLETED,  # a snoozed lead, enrolled again
    (State.COMPLETED, Event.RESPOND): State.RESPONDED,  # a late answer reopens the conversation
    (State.COMPLETED, Event.DECIDE): State.DECIDED,  # a later decision replaces no_response
}

WHY: dict[Event, str] = {
    Event.PAUSE: "only an active enrollment can be paused",
    Event.RESUME: "only a paused enrollment can be resumed",
    Event.RESPOND: "a decided enrollment cannot take a response; enroll the lead again",
    Event.COMPLETE: "only an active enrollment (or a snoozed one that answered) can complete",
    Event.DECIDE: "the enrollment is decided already",
}

ALL_PAIRS = list(itertools.product(State, Event))
REFUSED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def _allowed_by_transition() -> set[tuple[State, Event]]:
    allowed = set()
    for state, event in ALL_PAIRS:
        try:
            transition(state, event)
        except InvalidTransition:
            continue
        allowed.add((state, event))
    return allowed


def test_exactly_the_pairs_of_the_table_are_allowed() -> None:
    assert _allowed_by_transition() == set(ALLOWED)


@pytest.mark.parametrize(("state", "event"), list(ALLOWED), ids=[f"{s}-{e}" for s, e in ALLOWED])
def test_an_allowed_event_moves_the_enrollment_to_its_next_state(state: State, event: Event) -> None:
    assert transition(state, event) is ALLOWED[(state, event)]


@pytest.mark.parametrize(("state", "event"), REFUSED, ids=[f"{s}-{e}" for s, e in REFUSED])
def test_a_refused_event_raises_invalid_transition_saying_why(state: State, event: Event) -> None:
    expected = f"cannot {event.value} an enrollment that is {state.value}: {WHY[event]}"
    with pytest.raises(InvalidTransition, match=f"^{re.escape(expected)}$"):
        transition(state, event)


@pytest.mark.parametrize(("state", "event"), list(ALLOWED)[:4])
def test_states_and_events_may_be_given_as_their_stored_strings(state: State, event: Event) -> None:
    assert transition(state.value, event.value) is ALLOWED[(state, event)]


def test_a_refused_event_given_as_strings_is_refused_too() -> None:
    with pytest.raises(InvalidTransition, match="cannot pause an enrollment that is decided"):
        transition("decided", "pause")


@pytest.mark.parametrize(("state", "event"), [("archived", "pause"), ("active", "snooze")])
def test_an_unknown_state_or_event_name_is_refused(state: str, event: str) -> None:
    with pytest.raises(ValueError, match="is not a valid"):
        transition(state, event)


def test_a_decided_enrollment_takes_no_event_at_all() -> None:
    refused = {event for state, event in REFUSED if state is State.DECIDED}
    assert refused == set(Event)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (State.ACTIVE, True),
        (State.PAUSED, True),
        (State.RESPONDED, True),
        (State.COMPLETED, False),
        (State.DECIDED, False),
        ("active", True),
        ("decided", False),
    ],
)
def test_an_enrollment_is_open_until_it_completes_or_is_decided(state: State | str, expected: bool) -> None:
    assert is_open(state) is expected


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ([Event.RESPOND, Event.DECIDE], State.DECIDED),
        ([Event.PAUSE, Event.RESUME, Event.COMPLETE], State.COMPLETED),
        ([Event.PAUSE, Event.RESUME, Event.PAUSE, Event.RESPOND, Event.RESPOND, Event.DECIDE], State.DECIDED),
        ([Event.COMPLETE, Event.RESPOND, Event.DECIDE], State.DECIDED),
    ],
)
def test_a_whole_life_from_active_ends_in_the_expected_state(events: list[Event], final: State) -> None:
    state = State.ACTIVE
    for event in events:
        state = transition(state, event)
    assert state is final
