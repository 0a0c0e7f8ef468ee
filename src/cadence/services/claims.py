"""Claiming due steps so that each (enrollment, step) is executed at most once.

A claim is a ``touches`` row in state ``claimed`` with a lease and a random ``claim_token``; its
unique key (enrollment_id, step_index) means two runners can never both hold the same step, and
every later write of the runner (marking the email ``sending``, handing it to SMTP, recording the
outcome) checks that the token is still its own. While the lease runs, the enrollment's
``next_due_at`` is the lease's end, so the step is not seen as due again. If the runner dies, the
step falls due again when the lease lapses, and the next claim finds the touch as the runner left
it and carries on from there (:func:`claim_due`):

* ``claimed``, ``sending`` (marked, its final ``.`` of DATA never written), ``retry``, ``held``:
  nothing reached the SMTP server; the step is claimed again;
* ``handing``: the runner died between handing the email to SMTP and recording the reply: it may
  have gone out. It becomes ``uncertain`` and is never re-sent automatically;
* ``sent``, ``uncertain``, ``bounced``, ``done``, ``skipped``: the outcome was recorded but not its
  consequences (the enrollment moved on; for a bounce, the address suppressed and the decision
  taken): they are applied now, by the rule of :class:`cadence.core.events.ClaimLapsed`.

On PostgreSQL the due rows are locked with ``FOR UPDATE SKIP LOCKED``, so concurrent runners
take disjoint sets without waiting on each other. SQLite serializes writers (``BEGIN IMMEDIATE``).

Finding a batch costs O(batch), not O(due) nor O(enrollments): the due steps are read in the order of
the partial index ``ix_enrollments_due`` (``next_due_at`` of active enrollments), which the database
walks from the oldest and stops after ``limit`` rows. There is deliberately no tie-breaker column
in the ORDER BY: leads imported together are all due at the same instant, and ``ORDER BY
next_due_at, id`` would make PostgreSQL sort every due row on each claim.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cadence.adapters.models import Enrollment, Touch
from cadence.core.cadences import Cadence
from cadence.core.events import RECLAIMABLE, ClaimLapsed, TouchState, step_done
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.services.enrollments import complete, handle
from cadence.services.rule_rows import position_of, write_position
from cadence.services.webhooks import outbox
from cadence.settings import Settings


@dataclass(frozen=True)
class Claim:
    """A step a runner now holds and must execute, then record."""

    touch_id: int
    enrollment_id: int
    lead_id: int
    step_index: int
    due_at: datetime
    token: str = ""  # the touch's claim_token: the runner's writes check it is still there


@dataclass
class ClaimBatch:
    """What one claim pass took."""

    claims: list[Claim] = field(default_factory=list)
    enrollments: dict[int, Enrollment] = field(default_factory=dict)  # of the claims, with lead and owner loaded
    completed: int = 0  # enrollments closed with no_response after their grace period
    uncertain: list[int] = field(default_factory=list)  # touches found stuck in ``handing``
    recovered: int = 0  # steps whose recorded outcome a dead runner had not applied yet
    selected: int = 0  # due enrollments taken (at most the limit: fewer means nothing more was due)


def advance(enrollment: Enrollment, cadence: Cadence, *, at: datetime, settings: Settings, grace_days: int) -> None:
    """Move the enrollment past its current step, done at ``at``, and schedule what comes next."""
    calendar = calendar_for(enrollment.lead, cadence, settings)
    write_position(enrollment, step_done(position_of(enrollment), cadence, calendar, at=at, grace_days=grace_days))


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
    batch.selected = len(enrollments)
    if not enrollments:
        return batch
    existing = {
        (t.enrollment_id, t.step_index): t
        for t in session.scalars(select(Touch).where(Touch.enrollment_id.in_([e.id for e in enrollments])))
    }
    token = secrets.token_hex(16)
    claimed: list[tuple[Enrollment, Touch | None]] = []  # None: a new touch, inserted below in bulk
    new_rows: list[dict[str, object]] = []
    for enrollment in enrollments:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        if enrollment.next_step >= len(cadence.steps):
            complete(session, enrollment, now=now)
            batch.completed += 1
            continue
        step = cadence.steps[enrollment.next_step]
        touch = existing.get((enrollment.id, enrollment.next_step))
        if touch is not None and touch.state not in RECLAIMABLE:
            _recover(session, enrollment, cadence, touch, now=now, settings=settings, grace_days=grace_days,
                     batch=batch)  # fmt: skip
            continue
        if touch is None:
            new_rows.append(
                {
                    "enrollment_id": enrollment.id,
                    "lead_id": enrollment.lead_id,
                    "step_index": enrollment.next_step,
                    "day": step.day,
                    "channel": step.channel.value,
                    "template": step.template,
                    "state": TouchState.CLAIMED,
                    "due_at": enrollment.next_due_at or now,
                    "claimed_at": now,
                    "lease_until": lease_until,
                    "claim_token": token,
                    "attempts": 0,
                }
            )
        else:
            touch.state = TouchState.CLAIMED
            touch.claimed_at = now
            touch.lease_until = lease_until
            touch.claim_token = token
        claimed.append((enrollment, touch))
    session.flush()  # the recovered and re-claimed touches, the completed enrollments
    # New touches: one INSERT for the batch, without an ORM object each (what a batch mostly is).
    new_ids: dict[int, int] = {}
    if new_rows:
        inserted = session.execute(
            insert(Touch).returning(Touch.id, Touch.enrollment_id, sort_by_parameter_order=True), new_rows
        )
        new_ids = {enrollment_id: touch_id for touch_id, enrollment_id in inserted.tuples()}
    if claimed:
        # While the lease runs the step is not due: one UPDATE for the batch, not one per enrollment.
        ids = [enrollment.id for enrollment, _touch in claimed]
        session.execute(
            update(Enrollment).where(Enrollment.id.in_(ids)).values(next_due_at=lease_until),
            execution_options={"synchronize_session": False},
        )
        for enrollment, touch in claimed:
            due_at = enrollment.next_due_at or now
            set_committed_value(enrollment, "next_due_at", lease_until)
            batch.claims.append(
                Claim(
                    touch_id=touch.id if touch is not None else new_ids[enrollment.id],
                    enrollment_id=enrollment.id,
                    lead_id=enrollment.lead_id,
                    step_index=enrollment.next_step,
                    due_at=touch.due_at if touch is not None else due_at,
                    token=token,
                )
            )
            batch.enrollments[enrollment.id] = enrollment
    return batch


def _recover(
    session: Session,
    enrollment: Enrollment,
    cadence: Cadence,
    touch: Touch,
    *,
    now: datetime,
    settings: Settings,
    grace_days: int,
    batch: ClaimBatch,
) -> None:
    """Finish what a runner that died left of this step: its recorded outcome is applied, never redone
    (:class:`cadence.core.events.ClaimLapsed`)."""
    at = touch.executed_at or touch.claimed_at or now
    if touch.state == TouchState.SENT and touch.channel == "email":  # settled by no one: its event is written here
        outbox.record(session, [outbox.touch_sent_event(enrollment.lead, touch.id, touch.step_index, len(cadence.steps),
                                                        touch.template, touch.message_id, at)])  # fmt: skip
    touch.lease_until = None
    touch.claim_token = None
    if grace_days != settings.reply_grace_days:
        settings = settings.model_copy(update={"reply_grace_days": grace_days})
    applied = handle(
        session, enrollment.lead, ClaimLapsed(), at=at, settings=settings, enrollment=enrollment, touch=touch
    )
    if applied.consequences.uncertain:
        batch.uncertain.append(touch.id)
    else:
        batch.recovered += 1
