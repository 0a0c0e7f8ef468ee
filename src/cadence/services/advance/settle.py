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

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from cadence.adapters.mail import (
    DeliveryError,
    PermanentFailure,
    TransientFailure,
    UnknownOutcome,
    Unsendable,
    Withdrawn,
)
from cadence.adapters.models import Enrollment, Lead, Touch
from cadence.core import events
from cadence.core.events import TouchState, consequences
from cadence.core.webhooks import EventType
from cadence.services.advance.ledger import claim_tokens
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.services.context import Context
from cadence.services.enrollments import handle
from cadence.services.rule_rows import policy_of, position_of, write_position
from cadence.services.suppression import is_suppressed
from cadence.services.webhooks import outbox

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
    """What an email that did not simply go out means for its touch, its enrollment and its lead.

    The core's rule decides and :func:`cadence.services.enrollments.handle` applies it, as on every
    other path; what is left here is the touch's own bookkeeping as a send attempt.
    """
    suppressed = isinstance(result, Withdrawn) and is_suppressed(session, item.recipient)
    event = send_event(ctx, result, touch.attempts, suppressed=suppressed)
    found = handle(session, enrollment.lead, event, at=now, settings=ctx.settings, enrollment=enrollment,
                   touch=touch).consequences  # fmt: skip
    if not found.release_claim:
        touch.lease_until = None
        touch.executed_at = touch.executed_at or now
        if found.touch == TouchState.RETRY:  # claimed again later, as a new attempt
            touch.message_id = None
            touch.executed_at = None
            touch.claim_token = None
        if isinstance(result, PermanentFailure):
            touch.outcome = str(result.code) if result.code else None
    failure = {"lead": item.lead_email or item.lead_name, "step": item.claim.step_index + 1}
    match event:
        case events.Withdrawn():
            report.skipped += 1
        case events.Bounced(error=error):
            report.bounced += 1
            report.failures.append(failure | {"bounced": error})
        case events.Uncertain():
            report.uncertain += 1
            report.uncertain_touches.append(touch.id)
        case events.Retry(error=error) if found.touch == TouchState.FAILED:
            report.failed += 1
            report.failures.append(failure | {"failed": f"gave up after {touch.attempts} attempts: {error}"})
        case events.Retry(error=error):
            report.retried += 1
            report.failures.append(failure | {"retry": error})
        case events.StepFailed(error=error):
            report.failed += 1
            report.failures.append(failure | {"failed": error})


def send_event(ctx: Context, result: BaseException, attempts: int, *, suppressed: bool = False) -> events.SendOutcome:
    """The core's event for what SMTP said about an email that did not simply go out.

    ``suppressed``: for a withdrawn email, whether its address is suppressed now (else its lead stopped).
    """
    if isinstance(result, Withdrawn):
        return events.Withdrawn(suppressed=suppressed)
    if isinstance(result, Unsendable):
        return events.StepFailed(error=str(result)[:2000])
    if isinstance(result, PermanentFailure):
        return events.Bounced(error=str(result)[:2000])
    if isinstance(result, UnknownOutcome):
        return events.Uncertain(error=str(result)[:2000])
    error = result if isinstance(result, DeliveryError) else TransientFailure(str(result))
    return events.Retry(error=str(error)[:2000], backoff=backoff(ctx, attempts), attempt=max(1, attempts))


def step_facts(
    session: Session, ctx: Context, enrollment: Enrollment, step_index: int, state: TouchState, *, now: datetime
) -> events.Facts:
    """What the core's rule reads about a step being run (due, held, sent): no decision or response look-up.

    Only events about a step of an active enrollment use these facts; the others read the whole
    facts through :func:`cadence.services.enrollments.read_facts`.
    """
    cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
    return events.Facts(
        at=now,
        enrollment=position_of(enrollment),
        cadence=cadence,
        calendar=calendar_for(enrollment.lead, cadence, ctx.settings),
        touch=events.TouchFacts(step_index=step_index, state=state),
        policy=policy_of(ctx.settings),
    )


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
                write_position(enrollment, moved)
        session.flush()
    rows = [{"touch_id": item.claim.touch_id, "token": item.claim.token, "reply": reply[:50]} for item, reply in sent]
    session.connection().execute(_RECORD_SENT, rows)
    if outbox.wanted(session, EventType.TOUCH_SENT):
        leads = {
            lead.id: lead
            for lead in session.scalars(select(Lead).where(Lead.id.in_({i.claim.lead_id for i, _ in sent})))
        }
        outbox.record(session, [touch_sent(leads[item.claim.lead_id], item, now) for item, _ in sent])


def touch_sent(lead: Lead, item: WorkItem, at: datetime) -> outbox.Event:
    """``touch.sent`` for an email that went out: recorded once per touch, however often it is settled."""
    return outbox.touch_sent_event(lead, item.claim.touch_id, item.claim.step_index, item.step_total,
                                   item.template, item.message_id, at)  # fmt: skip


def _sent(
    session: Session, ctx: Context, enrollment: Enrollment, item: WorkItem, reply: str, now: datetime
) -> events.Position | None:
    """The enrollment's position once ``item``'s email went out (None: it does not move, stopped or moved since)."""
    facts = step_facts(session, ctx, enrollment, item.claim.step_index, TouchState.SENT, now=now)
    found = consequences(events.Sent(reply=reply), facts)
    return found.enrollment


def move_on(session: Session, moves: list[dict[str, Any]]) -> int:
    """Move the enrollments on as ``moves`` say, each only if still as claimed; how many were."""
    return int(session.connection().execute(_MOVE_ON, moves).rowcount)
