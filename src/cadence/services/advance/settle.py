"""Settling what SMTP said: the consequences of each email's recorded outcome, set-based and idempotent.

What an outcome means is the core's rule (:func:`cadence.core.events.consequences`: ``Sent``,
``Retry``, ``Bounced``, ``Uncertain``, ``Withdrawn``); this module reads the facts it needs and
applies what it returns (:func:`apply_outcome`, the one place that does). The outcome itself was
committed at the hand-off (:mod:`cadence.services.advance.ledger`); it is written here again, so
that a failed hand-off write loses nothing. Every write checks the claim token, so settling twice,
or after another runner took the step over, changes nothing. Emails that went out (nearly all) are
recorded and their enrollments moved on with two statements for a whole batch; the others one by
one. A runner that died before settling leaves its touches as the ledger wrote them, and the next
claim finishes them (:mod:`cadence.services.claims`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from cadence.adapters.mail import DeliveryError, PermanentFailure, TransientFailure, UnknownOutcome, Withdrawn
from cadence.adapters.models import Decision, Enrollment, Touch
from cadence.core import events
from cadence.core.decisions import Outcome
from cadence.core.enrollment import State
from cadence.core.events import TouchState, consequences
from cadence.services.advance.ledger import claim_tokens
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.context import Context
from cadence.services.enrollments import calendar_for, decide, pinned_cadence
from cadence.services.suppression import suppress

SendResult = str | BaseException
"""The server's reply to an email (``"250 ..."``), or what went wrong (a :class:`DeliveryError`, mostly)."""

_TOUCHES = cast(Table, Touch.__table__)
_ENROLLMENTS = cast(Table, Enrollment.__table__)
_RECORD_SENT = (
    update(_TOUCHES)
    .where(_TOUCHES.c.id == bindparam("touch_id"), _TOUCHES.c.claim_token == bindparam("token"))
    .values(
        state=TouchState.SENT,
        outcome=func.coalesce(_TOUCHES.c.outcome, bindparam("reply")),
        error=None,
        lease_until=None,
    )
)
_MOVE_ON = (
    update(_ENROLLMENTS)
    .where(
        _ENROLLMENTS.c.id == bindparam("enrollment_id"),
        _ENROLLMENTS.c.state == "active",
        _ENROLLMENTS.c.next_step == bindparam("step"),
        _ENROLLMENTS.c.anchor_at == bindparam("anchor", type_=_ENROLLMENTS.c.anchor_at.type),
    )
    .values(
        next_step=bindparam("new_next_step"),
        last_touch_at=bindparam("new_last_touch_at", type_=_ENROLLMENTS.c.last_touch_at.type),
        last_touch_day=bindparam("new_last_touch_day"),
        next_due_at=bindparam("new_next_due_at", type_=_ENROLLMENTS.c.next_due_at.type),
    )
)


def settle(
    session: Session,
    ctx: Context,
    results: list[tuple[WorkItem, SendResult]],
    now: datetime,
    report: RunReport,
    snapshots: Mapping[int, Enrollment],
) -> None:
    """Apply what SMTP said about each email: move enrollments on, bounce, retry later. The caller commits.

    ``snapshots``: the claimed enrollments as they were claimed (detached), to move them on in bulk.
    Touches whose claim is no longer this runner's are left to their new owner.
    """
    if not results:
        return
    tokens = claim_tokens(session, [item.claim.touch_id for item, _ in results])
    sent: list[tuple[WorkItem, str]] = []
    others: list[tuple[WorkItem, BaseException]] = []
    for item, result in results:
        if tokens.get(item.claim.touch_id) != item.claim.token:
            report.superseded += 1
        elif isinstance(result, str):
            sent.append((item, result))
        else:
            others.append((item, result))
    if sent:
        _record_sent(session, ctx, sent, now, snapshots)
        report.emails_sent += len(sent)
    if not others:
        return
    enrollments = {
        e.id: e
        for e in session.scalars(
            select(Enrollment).where(Enrollment.id.in_([item.claim.enrollment_id for item, _ in others]))
        ).unique()
    }
    touches = {
        t.id: t for t in session.scalars(select(Touch).where(Touch.id.in_([i.claim.touch_id for i, _ in others])))
    }
    for item, result in others:
        apply_outcome(session, ctx, item, result, enrollments[item.claim.enrollment_id], touches[item.claim.touch_id],
                      now=now, report=report)  # fmt: skip


def apply_outcome(
    session: Session,
    ctx: Context,
    item: WorkItem,
    result: BaseException,
    enrollment: Enrollment,
    touch: Touch,
    *,
    now: datetime,
    report: RunReport,
) -> None:
    """What an email that did not simply go out means for its touch, its enrollment and its lead (the core's rule)."""
    event = send_event(ctx, result, touch.attempts)
    found = consequences(event, facts(session, ctx, enrollment, touch.step_index, TouchState(touch.state), now=now,
                                      lead_name=item.lead_name))  # fmt: skip
    if found.release_claim:
        session.delete(touch)  # the claim is given back untouched
    else:
        touch.lease_until = None
        if found.touch is not None:
            touch.state = found.touch.value
            touch.error = found.touch_error[:2000] if found.touch_error else None
            touch.executed_at = touch.executed_at or now
        if found.touch == TouchState.RETRY:  # claimed again later, as a new attempt
            touch.message_id = None
            touch.executed_at = None
            touch.claim_token = None
        if isinstance(result, PermanentFailure):
            touch.outcome = str(result.code) if result.code else None
    if found.suppress is not None:
        suppress(session, item.lead_email, now=now, reason=found.suppress)
    if found.decision is not None:
        decision = found.decision
        decide(session, enrollment.lead, decision.outcome, now=now, reason=decision.reason,
               decided_by=decision.decided_by)  # fmt: skip
    elif found.enrollment is not None:
        _write_position(enrollment, found.enrollment)
    failure = {"lead": item.lead_email, "step": item.claim.step_index + 1}
    match event:
        case events.Withdrawn():
            report.skipped += 1
        case events.Bounced(error=error):
            report.bounced += 1
            report.failures.append(failure | {"bounced": error})
        case events.Uncertain():
            report.uncertain += 1
            report.uncertain_touches.append(touch.id)
        case events.Retry(error=error):
            report.retried += 1
            report.failures.append(failure | {"retry": error})


def send_event(ctx: Context, result: BaseException, attempts: int) -> events.SendOutcome:
    """The core's event for what SMTP said about an email that did not simply go out."""
    if isinstance(result, Withdrawn):
        return events.Withdrawn()
    if isinstance(result, PermanentFailure):
        return events.Bounced(error=str(result)[:2000])
    if isinstance(result, UnknownOutcome):
        return events.Uncertain(error=str(result)[:2000])
    error = result if isinstance(result, DeliveryError) else TransientFailure(str(result))
    return events.Retry(error=str(error)[:2000], backoff=backoff(ctx, attempts))


def facts(
    session: Session,
    ctx: Context,
    enrollment: Enrollment,
    step_index: int,
    state: TouchState,
    *,
    now: datetime,
    lead_name: str = "",
    decided: bool = True,
) -> events.Facts:
    """What the core's rule reads about an email's enrollment, lead and touch (``decided``: look the decision up)."""
    cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
    return events.Facts(
        at=now,
        enrollment=position(enrollment),
        cadence=cadence,
        calendar=calendar_for(enrollment.lead, cadence, ctx.settings),
        decided=decided_since_enrolled(session, enrollment) if decided else None,
        touch=events.TouchFacts(step_index=step_index, state=state),
        lead_name=lead_name,
        policy=events.Policy(reply_grace_days=ctx.settings.reply_grace_days),
    )


def position(enrollment: Enrollment) -> events.Position:
    """An enrollment row as the core's rule reads it."""
    return events.Position(
        state=State(enrollment.state),
        enrolled_at=enrollment.enrolled_at,
        anchor_at=enrollment.anchor_at,
        next_step=enrollment.next_step,
        next_due_at=enrollment.next_due_at,
        last_touch_at=enrollment.last_touch_at,
        last_touch_day=enrollment.last_touch_day,
        paused_at=enrollment.paused_at,
        paused_until=enrollment.paused_until,
        ended_at=enrollment.ended_at,
    )


def _write_position(enrollment: Enrollment, moved: events.Position) -> None:
    """Copy the core's new position onto the enrollment row (the names are the columns')."""
    enrollment.state = moved.state.value
    enrollment.next_step = moved.next_step
    enrollment.next_due_at = moved.next_due_at
    enrollment.last_touch_at = moved.last_touch_at
    enrollment.last_touch_day = moved.last_touch_day
    enrollment.paused_at = moved.paused_at
    enrollment.paused_until = moved.paused_until
    enrollment.ended_at = moved.ended_at


def decided_since_enrolled(session: Session, enrollment: Enrollment) -> Outcome | None:
    """The decision on the lead on this enrollment or since it began (an automatic one never replaces it)."""
    found = session.scalar(
        select(Decision.outcome)
        .where(
            Decision.lead_id == enrollment.lead_id,
            or_(Decision.enrollment_id == enrollment.id, Decision.decided_at >= enrollment.enrolled_at),
        )
        .order_by(Decision.decided_at.desc())
        .limit(1)
    )
    return Outcome(found) if found is not None else None


def backoff(ctx: Context, attempts: int) -> timedelta:
    """How long a step waits after its ``attempts``-th transient failure (doubling, up to the maximum)."""
    seconds = ctx.settings.retry_base_seconds * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, ctx.settings.retry_max_seconds))


def _record_sent(
    session: Session, ctx: Context, sent: list[tuple[WorkItem, str]], now: datetime, snapshots: Mapping[int, Enrollment]
) -> None:
    """Record emails that went out and move their enrollments on: two statements for all of them.

    The next step is scheduled from the enrollment as it was claimed (``snapshots``, detached), and
    written only if the enrollment is still as it was then (active, at that step, same anchor): a
    decision, pause or resume since then makes the bulk update miss, and the enrollments are then
    moved on one by one from their current rows.

    Enrollments are written before touches, the order every other writer of a lead's rows takes (a
    decision locks the enrollment, then its touches): the other order could deadlock with it.
    """
    moves: list[dict[str, Any]] = []
    for item, reply in sent:
        snapshot = snapshots.get(item.claim.enrollment_id)
        moved = _sent(session, ctx, snapshot, item, reply, now) if snapshot is not None else None
        if snapshot is None or moved is None:
            moves = []
            break
        moves.append({"enrollment_id": snapshot.id, "step": snapshot.next_step, "anchor": snapshot.anchor_at,
                      "new_next_step": moved.next_step, "new_last_touch_at": moved.last_touch_at,
                      "new_last_touch_day": moved.last_touch_day, "new_next_due_at": moved.next_due_at})  # fmt: skip
    if not moves or move_on(session, moves) != len(moves):
        # Something changed since the claim (or no snapshot): from the current rows, one by one.
        enrollments = {
            e.id: e
            for e in session.scalars(
                select(Enrollment).where(Enrollment.id.in_([item.claim.enrollment_id for item, _ in sent]))
            ).unique()
        }
        for item, reply in sent:
            enrollment = enrollments[item.claim.enrollment_id]
            moved = _sent(session, ctx, enrollment, item, reply, now)
            if moved is not None:
                _write_position(enrollment, moved)
        session.flush()
    rows = [{"touch_id": item.claim.touch_id, "token": item.claim.token, "reply": reply[:50]} for item, reply in sent]
    session.connection().execute(_RECORD_SENT, rows)


def _sent(
    session: Session, ctx: Context, enrollment: Enrollment, item: WorkItem, reply: str, now: datetime
) -> events.Position | None:
    """The enrollment's position once ``item``'s email went out (None: it does not move, stopped or moved since)."""
    found = consequences(events.Sent(reply=reply), facts(session, ctx, enrollment, item.claim.step_index,
                                                         TouchState.SENT, now=now, decided=False))  # fmt: skip
    return found.enrollment


def move_on(session: Session, moves: list[dict[str, Any]]) -> int:
    """Move the enrollments on as ``moves`` say, each only if still as claimed; how many were."""
    return int(session.connection().execute(_MOVE_ON, moves).rowcount)
