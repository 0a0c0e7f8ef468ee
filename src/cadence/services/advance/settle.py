"""Settling what SMTP said: the consequences of each email's recorded outcome, set-based and idempotent.

The outcome itself was committed at the hand-off (:mod:`cadence.services.advance.ledger`); it is
written here again, so that a failed hand-off write loses nothing. Every write checks the claim
token, so settling twice, or after another runner took the step over, changes nothing. Emails that
went out (nearly all) are recorded and their enrollments moved on with two statements for a whole
batch; the others one by one, by :func:`apply_outcome`, the one place that says what a send outcome
means (a bounce suppresses the address and decides ``bounced``, unless the lead was decided since
it was enrolled; a retry waits a backoff; an uncertain email is never sent again; a withdrawn one
is given back or skipped). A runner that died before settling leaves its touches as the ledger
wrote them, and the next claim applies the same consequences (:mod:`cadence.services.claims`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from cadence.adapters.mail import DeliveryError, PermanentFailure, TransientFailure, UnknownOutcome, Withdrawn
from cadence.adapters.models import Decision, Enrollment, Touch
from cadence.core.decisions import Outcome
from cadence.services.advance.ledger import claim_tokens
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.claims import TouchState, advance
from cadence.services.context import Context
from cadence.services.enrollments import decide, pinned_cadence
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
    """What an email that did not simply go out means for its touch, its enrollment and its lead."""
    cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
    moves_on = enrollment.state == "active" and enrollment.next_step == item.claim.step_index
    grace = ctx.settings.reply_grace_days
    if isinstance(result, Withdrawn):
        # Not handed over: the lead stopped, or its address was suppressed, after the claim.
        if enrollment.state != "active":
            session.delete(touch)  # the claim is given back untouched
        else:
            touch.state = TouchState.SKIPPED
            touch.error = "address suppressed"
            touch.executed_at = touch.executed_at or now
            touch.lease_until = None
            if moves_on:
                advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=grace)
        report.skipped += 1
        return
    touch.lease_until = None
    if isinstance(result, PermanentFailure):
        touch.state = TouchState.BOUNCED
        touch.error = str(result)[:2000]
        touch.outcome = str(result.code) if result.code else None
        suppress(session, item.lead_email, now=now, reason=f"bounced: {result}"[:1000])
        if not decided_since_enrolled(session, enrollment):
            decide(session, enrollment.lead, Outcome.BOUNCED, now=now, reason=str(result)[:1000], decided_by="cadence")
        report.bounced += 1
        report.failures.append({"lead": item.lead_email, "step": item.claim.step_index + 1, "bounced": str(result)})
    elif isinstance(result, UnknownOutcome):
        touch.state = TouchState.UNCERTAIN
        touch.error = str(result)[:2000]
        if moves_on:
            advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=grace)
        report.uncertain += 1
        report.uncertain_touches.append(touch.id)
    else:
        error = result if isinstance(result, DeliveryError) else TransientFailure(str(result))
        touch.state = TouchState.RETRY
        touch.error = str(error)[:2000]
        touch.message_id = None
        touch.executed_at = None
        touch.claim_token = None
        if enrollment.state == "active":
            enrollment.next_due_at = now + backoff(ctx, touch.attempts)
        report.retried += 1
        report.failures.append({"lead": item.lead_email, "step": item.claim.step_index + 1, "retry": str(error)})


def decided_since_enrolled(session: Session, enrollment: Enrollment) -> bool:
    """True when the lead has a decision on this enrollment or since it began: an automatic one never replaces it."""
    found = session.scalar(
        select(Decision.id)
        .where(
            Decision.lead_id == enrollment.lead_id,
            or_(Decision.enrollment_id == enrollment.id, Decision.decided_at >= enrollment.enrolled_at),
        )
        .limit(1)
    )
    return found is not None


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
    grace = ctx.settings.reply_grace_days
    moves: list[dict[str, Any]] = []
    for item, _reply in sent:
        snapshot = snapshots.get(item.claim.enrollment_id)
        if snapshot is None or snapshot.next_step != item.claim.step_index:
            moves = []
            break
        guard = {"enrollment_id": snapshot.id, "step": snapshot.next_step, "anchor": snapshot.anchor_at}
        cadence = pinned_cadence(session, snapshot.cadence_name, snapshot.cadence_version)
        advance(snapshot, cadence, at=now, settings=ctx.settings, grace_days=grace)
        moves.append(guard | {"new_next_step": snapshot.next_step, "new_last_touch_at": snapshot.last_touch_at,
                              "new_last_touch_day": snapshot.last_touch_day,
                              "new_next_due_at": snapshot.next_due_at})  # fmt: skip
    if not moves or move_on(session, moves) != len(moves):
        # Something changed since the claim (or no snapshot): from the current rows, one by one.
        enrollments = {
            e.id: e
            for e in session.scalars(
                select(Enrollment).where(Enrollment.id.in_([item.claim.enrollment_id for item, _ in sent]))
            ).unique()
        }
        for item, _reply in sent:
            enrollment = enrollments[item.claim.enrollment_id]
            if enrollment.state == "active" and enrollment.next_step == item.claim.step_index:
                cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
                advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=grace)
        session.flush()
    rows = [{"touch_id": item.claim.touch_id, "token": item.claim.token, "reply": reply[:50]} for item, reply in sent]
    session.connection().execute(_RECORD_SENT, rows)


def move_on(session: Session, moves: list[dict[str, Any]]) -> int:
    """Move the enrollments on as ``moves`` say, each only if still as claimed; how many were."""
    return int(session.connection().execute(_MOVE_ON, moves).rowcount)
