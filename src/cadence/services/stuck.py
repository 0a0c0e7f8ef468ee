"""Nothing waits unseen: the leads with neither a decision nor a next step.

A lead (``kind`` lead: names and unfit contacts are stored on purpose, not followed up) has a next
step when its enrollment is active (a step or its closing is due), paused until a date, when it has
an open task, or when it is snoozed until a date. Without any of these and without a current
decision, nobody will act on it: :func:`stuck_leads` lists each such lead with the reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Enrollment, Lead, Task
from cadence.core.enrollment import State
from cadence.core.qualification import Kind
from cadence.services.enrollments import latest_enrollment
from cadence.services.lead_views import lead_summary

_REASONS = {
    None: "never enrolled, no task, no decision",
    State.RESPONDED.value: "answered: no open task and no decision",
    State.PAUSED.value: "paused with no end date, no open task",
    State.COMPLETED.value: "cadence over: no open task and no decision",
    State.ACTIVE.value: "active with nothing due",
}


def _stuck_query(owner_id: int | None) -> Select[tuple[Lead]]:
    """The leads of kind lead with neither a current decision nor a next step (of ``owner_id``'s, if given)."""
    decided = exists().where(Decision.lead_id == Lead.id, Decision.superseded_at.is_(None))
    open_task = exists().where(Task.lead_id == Lead.id, Task.status == "open")
    going = exists().where(
        Enrollment.lead_id == Lead.id,
        or_(
            and_(Enrollment.state == State.ACTIVE.value, Enrollment.next_due_at.is_not(None)),
            and_(Enrollment.state == State.PAUSED.value, Enrollment.paused_until.is_not(None)),
        ),
    )
    query = select(Lead).where(Lead.kind == Kind.LEAD.value, Lead.snoozed_until.is_(None), ~decided, ~open_task, ~going)
    if owner_id is not None:
        query = query.where(Lead.owner_id == owner_id)
    return query


def count_stuck(session: Session, *, owner_id: int | None = None) -> int:
    """How many leads :func:`stuck_leads` would list."""
    return session.scalar(select(func.count()).select_from(_stuck_query(owner_id).subquery())) or 0


def stuck_leads(session: Session, *, owner_id: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Every lead with neither a current decision nor a next step, oldest first, with the reason (the first
    ``limit`` of them, if given)."""
    found = []
    for lead in session.scalars(_stuck_query(owner_id).order_by(Lead.updated_at, Lead.id).limit(limit)):
        enrollment = latest_enrollment(session, lead)
        state = enrollment.state if enrollment is not None else None
        reason = _REASONS.get(state, f"enrollment {state}: no open task and no decision")
        if enrollment is not None and enrollment.held_by_lead_id is not None:
            colleague = session.get(Lead, enrollment.held_by_lead_id)
            name = colleague.label if colleague is not None else "a colleague"
            reason = f"held while the owner works {name}'s answer: a decision on {name} resumes or stops it"
        found.append({**lead_summary(lead), "enrollment": state, "reason": reason})
    return found
