"""The rules of decisions, pauses and the end of a cadence (pure): :mod:`cadence.core.events` dispatches to them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cadence.core.decisions import NEEDS_QUALIFICATION, Outcome, require_qualification
from cadence.core.enrollment import Event, State, transition
from cadence.core.event_data import (
    MEETING_RESPONSE_NOTE,
    Consequences,
    Decided,
    Facts,
    NewDecision,
    NewResponse,
)
from cadence.core.event_rules.base import (
    DECIDED_BY_CADENCE,
    MAX_REASON,
    NO_RESPONSE_REASON,
    clean_reason,
    next_due_at,
    require_enrollment,
    require_schedule,
)
from cadence.errors import InvalidTransition, ValidationError

ACCOUNT_WON: frozenset[Outcome] = frozenset({Outcome.MEETING_BOOKED, Outcome.QUALIFIED_HANDOFF, Outcome.BAD_FIT})
"""Decisions on a colleague that stop the contacts it held: the account is in sales' hands, or does not fit.
Any other decision (not interested, wrong contact, no response...) resumes them."""


def decide(facts: Facts, decision: NewDecision) -> Consequences:
    """The enrollment stops (a decided one stays so), open tasks are cancelled; a meeting is a response."""
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state != State.DECIDED:
        state = transition(enrollment.state, Event.DECIDE)
        moved = replace(enrollment, state=state, next_due_at=None, ended_at=facts.at)
    response = None
    if decision.outcome in NEEDS_QUALIFICATION and not facts.responded:
        note = MEETING_RESPONSE_NOTE.format(outcome=decision.outcome.value.replace("_", " "))
        response = NewResponse(kind="manual", channel="other", note=note, on_enrollment=enrollment is not None)
    return Consequences(
        enrollment=moved,
        decision=decision,
        cancel_open_tasks=True,
        response=response,
        note=f"decided {decision.outcome.value}",
    )


def automatic_decision(facts: Facts, outcome: Outcome, reason: str, by: str | None, *, suppress: str) -> Consequences:
    """A decision no person took (bounced, unsubscribed): never over one taken since the lead was enrolled."""
    if facts.decided is not None:
        return Consequences(
            suppress=suppress[:MAX_REASON],
            note=f"{outcome.value}: suppressed; the lead was decided already ({facts.decided.value})",
        )
    decided = decide(facts, NewDecision(outcome=outcome, reason=clean_reason(reason), decided_by=by))
    return replace(decided, suppress=suppress[:MAX_REASON], note=f"{outcome.value}: suppressed and decided")


def bounce(facts: Facts, error: str) -> Consequences:
    """The address bounced: decided ``bounced`` (unless decided already) and suppressed."""
    reason = error[:MAX_REASON]
    return automatic_decision(facts, Outcome.BOUNCED, reason, DECIDED_BY_CADENCE, suppress=f"bounced: {error}")


def decision_taken(facts: Facts, event: Decided) -> Consequences:
    """A person's decision (``Decided``): checked for its qualifying answers and length, then taken."""
    require_qualification(event.outcome, event.answers, event.qualification_skipped, event.questions)
    if event.reason is not None and len(event.reason) > 5000:
        raise ValidationError("reason is longer than 5000 characters")
    decision = NewDecision(
        outcome=event.outcome,
        reason=event.reason.strip() if event.reason and event.reason.strip() else None,
        decided_by=event.decided_by,
        answers=event.answers,
        qualification_skipped=event.qualification_skipped,
    )
    return decide(facts, decision)


def grace_over(facts: Facts) -> Consequences:
    """Every step ran and the grace period for replies is over: completed, decided ``no_response``."""
    enrollment = require_enrollment(facts, "complete")
    if enrollment.state != State.ACTIVE:  # only a snooze closes a responded one (SnoozeOver)
        raise InvalidTransition(f"cannot complete an enrollment that is {enrollment.state.value}: no step ran out")
    state = transition(enrollment.state, Event.COMPLETE)
    moved = replace(enrollment, state=state, next_due_at=None, ended_at=facts.at)
    decision = NewDecision(outcome=Outcome.NO_RESPONSE, reason=NO_RESPONSE_REASON, decided_by=DECIDED_BY_CADENCE)
    return Consequences(enrollment=moved, decision=decision, note="completed with no response")


def paused(facts: Facts, until: datetime | None) -> Consequences:
    """An active enrollment paused, until ``until`` when it is given."""
    enrollment = require_enrollment(facts, "pause")
    state = transition(enrollment.state, Event.PAUSE)
    moved = replace(enrollment, state=state, paused_at=facts.at, paused_until=until, next_due_at=None)
    return Consequences(enrollment=moved, note="paused")


def resumed(facts: Facts) -> Consequences:
    """A paused enrollment active again, its schedule moved later by the time it was paused."""
    enrollment = require_enrollment(facts, "resume")
    state = transition(enrollment.state, Event.RESUME)
    moved = replace(enrollment, state=state, paused_at=None, paused_until=None, held_by_lead_id=None)
    if enrollment.paused_at is not None and facts.at > enrollment.paused_at:
        shift = facts.at - enrollment.paused_at
        moved = replace(
            moved,
            anchor_at=enrollment.anchor_at + shift,
            last_touch_at=enrollment.last_touch_at + shift if enrollment.last_touch_at is not None else None,
        )
    cadence, calendar = require_schedule(facts, "resuming")
    moved = replace(moved, next_due_at=next_due_at(moved, cadence, calendar, grace_days=facts.policy.reply_grace_days))
    return Consequences(enrollment=moved, note="resumed")
