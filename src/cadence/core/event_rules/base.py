"""What every rule of :mod:`cadence.core.events` shares: its limits, the schedule, and the facts it requires (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cadence.core.cadences import Cadence
from cadence.core.enrollment import State
from cadence.core.event_data import (
    Facts,
    Position,
    TouchFacts,
)
from cadence.core.schedule import LeadCalendar, add_business_days, step_due_at
from cadence.errors import InvalidTransition

DECIDED_BY_CADENCE = "cadence"
"""Who takes the decisions no person took (bounced, no_response)."""


NO_RESPONSE_REASON = "every step of the cadence ran with no response"


MAX_REASON = 1000


MAX_TITLE = 300


def next_due_at(position: Position, cadence: Cadence, calendar: LeadCalendar, *, grace_days: int) -> datetime | None:
    """When the enrollment is next due: its next step, or the end of the grace period after the last one.

    Only an active enrollment is ever due.
    """
    if position.state != State.ACTIVE:
        return None
    index = position.next_step
    if index >= len(cadence.steps):
        last = position.last_touch_at or position.anchor_at
        return add_business_days(calendar, last, grace_days)
    return step_due_at(
        cadence,
        index,
        calendar,
        enrolled_at=position.anchor_at,
        previous_touch_at=position.last_touch_at,
        previous_day=position.last_touch_day,
    )


def step_done(
    position: Position, cadence: Cadence, calendar: LeadCalendar, *, at: datetime, grace_days: int
) -> Position:
    """The enrollment moved past its current step, done at ``at``, with what comes next scheduled."""
    step = cadence.steps[position.next_step]
    moved = replace(position, next_step=position.next_step + 1, last_touch_at=at, last_touch_day=step.day)
    return replace(moved, next_due_at=next_due_at(moved, cadence, calendar, grace_days=grace_days))


def require_enrollment(facts: Facts, what: str) -> Position:
    """The lead's enrollment; :class:`InvalidTransition` when it has none to ``what``."""
    if facts.enrollment is None:
        raise InvalidTransition(f"the lead has no enrollment to {what}")
    return facts.enrollment


def require_touch(facts: Facts, what: str) -> TouchFacts:
    """The facts of the touch the event is about; a caller's bug (:class:`ValueError`) without them."""
    if facts.touch is None:
        raise ValueError(f"{what} needs the facts of its touch")
    return facts.touch


def require_schedule(facts: Facts, what: str) -> tuple[Cadence, LeadCalendar]:
    """The enrollment's cadence and the lead's calendar; a caller's bug (:class:`ValueError`) without them."""
    if facts.cadence is None or facts.calendar is None:
        raise ValueError(f"{what} needs the enrollment's cadence and the lead's calendar")
    return facts.cadence, facts.calendar


def clean_reason(text: str | None) -> str | None:
    """A person's or a message's text as a decision's reason: stripped, at most ``MAX_REASON`` characters."""
    return text.strip()[:MAX_REASON] if text and text.strip() else None


def local_time(facts: Facts, at: datetime) -> str:
    """``at`` as the lead reads it: in its time zone when the calendar is known, else in UTC."""
    if facts.calendar is not None:
        local = at.astimezone(facts.calendar.tz)
        return f"{local:%a %d %b %Y %H:%M} ({facts.calendar.tz.key})"
    return f"{at.astimezone(UTC):%a %d %b %Y %H:%M} UTC"
