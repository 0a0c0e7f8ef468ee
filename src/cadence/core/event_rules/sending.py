"""The rules of a step's send outcomes and claims (pure): :mod:`cadence.core.events` dispatches to them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from cadence.core.enrollment import State
from cadence.core.event_data import (
    NO_ADDRESS_REASON,
    RECLAIMABLE,
    STEP_DONE,
    Consequences,
    Facts,
    NewTask,
    Position,
    TouchFacts,
    TouchState,
)
from cadence.core.event_rules import decisions
from cadence.core.event_rules.base import (
    MAX_REASON,
    MAX_TITLE,
    require_enrollment,
    require_schedule,
    require_touch,
    step_done,
)


def _at_step(facts: Facts, touch: TouchFacts) -> Position | None:
    """The enrollment, if it is active and still at the touch's step (nothing stopped or moved it)."""
    enrollment = facts.enrollment
    if enrollment is None or enrollment.state != State.ACTIVE or enrollment.next_step != touch.step_index:
        return None
    return enrollment


def _move_on(facts: Facts, touch: TouchFacts, what: str) -> Position | None:
    enrollment = _at_step(facts, touch)
    if enrollment is None:
        return None
    cadence, calendar = require_schedule(facts, what)
    return step_done(enrollment, cadence, calendar, at=facts.at, grace_days=facts.policy.reply_grace_days)


def sent(facts: Facts, state: TouchState, *, note: str) -> Consequences:
    """The email left (or its delivery is unknown): the touch takes ``state`` and the enrollment moves past the step."""
    touch = require_touch(facts, "a send outcome")
    return Consequences(enrollment=_move_on(facts, touch, "a send outcome"), touch=state, note=note)


def _slot_after(facts: Facts, earliest: datetime, what: str) -> datetime:
    _cadence, calendar = require_schedule(facts, what)
    return calendar.next_slot(earliest)


def retry(facts: Facts, error: str, backoff: timedelta) -> Consequences:
    """A temporary failure: due again at the first slot after ``backoff``."""
    require_touch(facts, "a retry")
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state == State.ACTIVE:
        moved = replace(enrollment, next_due_at=_slot_after(facts, facts.at + backoff, "a retry"))
    return Consequences(enrollment=moved, touch=TouchState.RETRY, touch_error=error, note=f"retry: {error}")


def failed(facts: Facts, error: str) -> Consequences:
    """The step will never send: it is done as failed, and the owner is told (the cadence goes on)."""
    touch = require_touch(facts, "a failed step")
    name = facts.lead_name or "the lead"
    title = f"Email step {touch.step_index + 1} to {name} could not be sent: reach them another way"[:MAX_TITLE]
    instructions = (
        f"{error[:MAX_REASON]}\n\nNothing was sent for this step, and it will not be tried again. Check the "
        "lead's address and fields, contact them another way, or record a decision."
    )
    return Consequences(
        enrollment=_move_on(facts, touch, "a failed step"),
        touch=TouchState.FAILED,
        touch_error=error[:2000],
        task=NewTask(channel="task", title=title, instructions=instructions, due_at=facts.at),
        note=f"failed: {error[:300]}",
    )


def withdrawn(facts: Facts, suppressed: bool) -> Consequences:
    """Withdrawn before its hand-off: skipped when the address is suppressed, else the claim is given back."""
    touch = require_touch(facts, "a withdrawn email")
    if facts.enrollment is None or facts.enrollment.state != State.ACTIVE:
        return Consequences(release_claim=True, note="withdrawn: the enrollment stopped")
    if not suppressed:  # paused and resumed meanwhile: nothing was sent, the step runs again
        return Consequences(release_claim=True, note="withdrawn: the lead stopped meanwhile and is active again")
    return Consequences(
        enrollment=_move_on(facts, touch, "a withdrawn email"),
        touch=TouchState.SKIPPED,
        touch_error="address suppressed",
        note="withdrawn: address suppressed",
    )


def no_address(facts: Facts) -> Consequences:
    """An email step of a lead without an address: skipped with the reason, the enrollment moved on."""
    touch = require_touch(facts, "an email step without an address")
    moved = _move_on(facts, touch, "an email step without an address")
    return Consequences(enrollment=moved, touch=TouchState.SKIPPED, touch_error=NO_ADDRESS_REASON,
                        note=NO_ADDRESS_REASON)  # fmt: skip


def held(facts: Facts, reason: str) -> Consequences:
    """The step waits (research not done...): due again at the first slot after the hold's recheck time."""
    require_touch(facts, "a held step")
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state == State.ACTIVE:
        due = _slot_after(facts, facts.at + facts.policy.hold_recheck, "a held step")
        moved = replace(enrollment, next_due_at=due)
    return Consequences(enrollment=moved, touch=TouchState.HELD, touch_error=reason, note=f"held: {reason}")


def due(facts: Facts) -> Consequences:
    """A claimed step: runs now when inside its slot, else moved to the next slot and the claim given back."""
    enrollment = require_enrollment(facts, "run")
    if enrollment.state != State.ACTIVE:
        return Consequences(release_claim=True, note=f"not run: the enrollment is {enrollment.state.value}")
    slot = _slot_after(facts, facts.at, "a due step")
    if slot == facts.at:
        return Consequences(note="due, inside its slot: runs now")
    return Consequences(
        enrollment=replace(enrollment, next_due_at=slot),
        release_claim=True,
        deferred_to=slot,
        note=f"outside the lead's send window or on a closed day: moved to {slot.isoformat()}",
    )


def lapsed(facts: Facts) -> Consequences:
    """A claim whose runner stopped: what its touch's state says (claimed again, uncertain, bounced, moved on)."""
    touch = require_touch(facts, "a lapsed claim")
    if touch.state in RECLAIMABLE:
        return Consequences(reclaim=True, note=f"lapsed claim ({touch.state.value}): claimed again")
    if touch.state == TouchState.HANDING:
        error = "the runner stopped after handing the message to SMTP; delivery unknown"
        return Consequences(
            enrollment=_move_on(facts, touch, "a lapsed claim"),
            touch=TouchState.UNCERTAIN,
            touch_error=error,
            uncertain=True,
            note="lapsed while handing: delivery unknown",
        )
    if touch.state == TouchState.BOUNCED:
        bounce = decisions.bounce(facts, touch.error or "bounced")
        return replace(bounce, note=f"lapsed after a bounce: {bounce.note}")
    if touch.state in STEP_DONE:
        return Consequences(
            enrollment=_move_on(facts, touch, "a lapsed claim"),
            uncertain=touch.state == TouchState.UNCERTAIN,
            note=f"lapsed after {touch.state.value}: moved on",
        )
    raise ValueError(f"a lapsed claim on a touch in state {touch.state.value} has no rule")  # pragma: no cover
