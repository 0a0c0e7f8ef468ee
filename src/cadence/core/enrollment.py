"""The life of an enrollment: which state changes are allowed (pure)."""

from __future__ import annotations

from enum import StrEnum

from cadence.errors import InvalidTransition


class State(StrEnum):
    """Where an enrollment stands."""

    ACTIVE = "active"  # steps run as they fall due
    PAUSED = "paused"  # steps wait until resumed
    RESPONDED = "responded"  # the lead answered: automated steps stopped, the owner decides
    COMPLETED = "completed"  # every step done with no response: decision no_response
    DECIDED = "decided"  # a final decision was recorded


class Event(StrEnum):
    """What can happen to an enrollment."""

    PAUSE = "pause"
    RESUME = "resume"
    RESPOND = "respond"
    COMPLETE = "complete"
    DECIDE = "decide"


OPEN_STATES: frozenset[State] = frozenset({State.ACTIVE, State.PAUSED, State.RESPONDED})
"""States of an enrollment that is still under way; a lead has at most one."""

_TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.ACTIVE, Event.PAUSE): State.PAUSED,
    (State.ACTIVE, Event.RESPOND): State.RESPONDED,
    (State.ACTIVE, Event.COMPLETE): State.COMPLETED,
    (State.ACTIVE, Event.DECIDE): State.DECIDED,
    (State.PAUSED, Event.RESUME): State.ACTIVE,
    (State.PAUSED, Event.RESPOND): State.RESPONDED,
    (State.PAUSED, Event.DECIDE): State.DECIDED,
    (State.RESPONDED, Event.RESPOND): State.RESPONDED,
    (State.RESPONDED, Event.DECIDE): State.DECIDED,
    # A lead that answered "not now, try me in March" was snoozed: its conversation closes, with no
    # decision, when the snooze is over and it is enrolled again.
    (State.RESPONDED, Event.COMPLETE): State.COMPLETED,
    # A late answer after the cadence ran out reopens the conversation; a later decision replaces
    # the automatic no_response.
    (State.COMPLETED, Event.RESPOND): State.RESPONDED,
    (State.COMPLETED, Event.DECIDE): State.DECIDED,
}

_WHY = {
    Event.PAUSE: "only an active enrollment can be paused",
    Event.RESUME: "only a paused enrollment can be resumed",
    Event.RESPOND: "a decided enrollment cannot take a response; enroll the lead again",
    Event.COMPLETE: "only an active enrollment (or a snoozed one that answered) can complete",
    Event.DECIDE: "the enrollment is decided already",
}


def transition(state: State | str, event: Event | str) -> State:
    """The state after ``event``, or :class:`InvalidTransition` saying why it is not allowed."""
    current, happening = State(state), Event(event)
    try:
        return _TRANSITIONS[(current, happening)]
    except KeyError:
        raise InvalidTransition(
            f"cannot {happening.value} an enrollment that is {current.value}: {_WHY[happening]}"
        ) from None


def is_open(state: State | str) -> bool:
    """True while the enrollment is under way (active, paused or responded)."""
    return State(state) in OPEN_STATES
