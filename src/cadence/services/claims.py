"""Claiming due steps so that each (enrollment, step) is executed at most once.

A claim is a ``touches`` row in state ``claimed`` with a lease; its unique key
(enrollment_id, step_index) means two runners can never both hold the same step. While the lease
runs, the enrollment's ``next_due_at`` is the lease's end, so the step is not seen as due again;
if the runner dies, the step falls due again when the lease lapses and is taken up again — unless
it had reached ``sending`` (handed to SMTP, outcome unknown), in which case it becomes
``uncertain`` and is never re-sent automatically.

On PostgreSQL the due rows are locked with ``FOR UPDATE SKIP LOCKED``, so concurrent runners
take disjoint sets without waiting on each other. SQLite serializes writers (``BEGIN IMMEDIATE``).

Finding a batch costs O(batch), not O(due) nor O(enrollments): the due steps are read in the order of
the partial index ``ix_enrollments_due`` (``next_due_at`` of active enrollments), which the database
walks from the oldest and stops after ``limit`` rows. There is deliberately no tie-breaker column
in the ORDER BY: leads imported together are all due at the same instant, and ``ORDER BY
next_due_at, id`` would make PostgreSQL sort every due row on each claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cadence.adapters.models import Enrollment, Touch
from cadence.core.cadences import Cadence
from cadence.services.enrollments import complete, pinned_cadence, schedule_next
from cadence.settings import Settings


class TouchState:
    """The states of a touch (a step's execution)."""

    CLAIMED = "claimed"  # taken by a runner, nothing done yet
    SENDING = "sending"  # handed to SMTP: from here on a crash leaves the outcome unknown
    SENT = "sent"  # the SMTP server accepted the email
    DONE = "done"  # a task was created for the owner
    RETRY = "retry"  # a transient failure: due again later
    UNCERTAIN = "uncertain"  # possibly sent, not recorded: never re-sent automatically
    BOUNCED = "bounced"  # permanently refused by the recipient's server
    SKIPPED = "skipped"  # not executed (suppressed address, cap, ...)
    HELD = "held"  # waiting for a template fix


@dataclass(frozen=True)
class Claim:
    """A step a runner now holds and must execute, then record."""

    touch_id: int
    enrollment_id: int
    lead_id: int
    step_index: int
    due_at: datetime


@dataclass
class ClaimBatch:
    """What one claim pass took."""

    claims: list[Claim] = field(default_factory=list)
    enrollments: dict[int, Enrollment] = field(default_factory=dict)  # of the claims, with lead and owner loaded
    completed: int = 0  # enrollments closed with no_response after their grace period
    uncertain: list[int] = field(default_factory=list)  # touches found stuck in ``sending``


def advance(enrollment: Enrollment, cadence: Cadence, *, at: datetime, settings: Settings, grace_days: int) -> None:
    """Move the enrollment past its current step, done at ``at``, and schedule what comes next."""
    step = cadence.steps[enrollment.next_step]
    enrollment.next_step += 1
    enrollment.last_touch_at = at
    enrollment.last_touch_day = step.day
    schedule_next(enrollment, cadence, settings, reply_grace_days=grace_days)


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    settings: Settings,
    grace_days: int = 3,
    only_enrollment: int | None = None,
) -> ClaimBatch:
    """Claim up to ``limit`` due steps (oldest due first). The caller commits.

    Enrollments whose steps all ran and whose grace period passed are completed here
    (decision ``no_response``); they count against ``limit`` but produce no claim.
    """
    lease_until = now + timedelta(seconds=settings.lease_seconds)
    query = (
        select(Enrollment)
        .where(Enrollment.state == "active", Enrollment.next_due_at <= now)
        .order_by(Enrollment.next_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Enrollment)
    )
    if only_enrollment is not None:
        query = query.where(Enrollment.id == only_enrollment)
    batch = ClaimBatch()
    enrollments = list(session.scalars(query).unique())
    if not enrollments:
        return batch
    existing = {
        (t.enrollment_id, t.step_index): t
        for t in session.scalars(
            select(Touch).where(
                Touch.enrollment_id.in_([e.id for e in enrollments]),
                Touch.state.in_([TouchState.CLAIMED, TouchState.SENDING, TouchState.RETRY, TouchState.HELD]),
            )
        )
    }
    claimed: list[tuple[Enrollment, Touch]] = []
    for enrollment in enrollments:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        if enrollment.next_step >= len(cadence.steps):
            complete(session, enrollment, now=now)
            batch.completed += 1
            continue
        step = cadence.steps[enrollment.next_step]
        touch = existing.get((enrollment.id, enrollment.next_step))
        if touch is not None and touch.state == TouchState.SENDING:
            # A runner died after handing this email to SMTP: it may have gone out. Never send twice.
            touch.state = TouchState.UNCERTAIN
            touch.lease_until = None
            touch.error = "the runner stopped after handing the message to SMTP; delivery unknown"
            batch.uncertain.append(touch.id)
            advance(enrollment, cadence, at=touch.claimed_at or now, settings=settings, grace_days=grace_days)
            continue
        if touch is None:
            touch = Touch(
                enrollment_id=enrollment.id,
                lead_id=enrollment.lead_id,
                step_index=enrollment.next_step,
                day=step.day,
                channel=step.channel.value,
                template=step.template,
                state=TouchState.CLAIMED,
                due_at=enrollment.next_due_at or now,
                attempts=0,
            )
            session.add(touch)
        touch.state = TouchState.CLAIMED
        touch.claimed_at = now
        touch.lease_until = lease_until
        claimed.append((enrollment, touch))
    session.flush()  # one flush for the whole batch: the new touches are inserted together
    if claimed:
        # While the lease runs the step is not due: one UPDATE for the batch, not one per enrollment.
        ids = [enrollment.id for enrollment, _ in claimed]
        session.execute(
            update(Enrollment).where(Enrollment.id.in_(ids)).values(next_due_at=lease_until),
            execution_options={"synchronize_session": False},
        )
        for enrollment, _ in claimed:
            set_committed_value(enrollment, "next_due_at", lease_until)
    for enrollment, touch in claimed:
        batch.claims.append(
            Claim(
                touch_id=touch.id,
                enrollment_id=enrollment.id,
                lead_id=enrollment.lead_id,
                step_index=enrollment.next_step,
                due_at=touch.due_at,
            )
        )
        batch.enrollments[enrollment.id] = enrollment
    return batch
