"""What a reply's intent did on its own, on the lead's timeline with its evidence, and undoing it.

When a reply read by intent makes the one rule act without a person (a snooze, a referral lead
created, a decision, a suppression), :func:`record_intent_actions` keeps one ``lead_actions`` row per
action, with the reading's evidence and what undoing it needs. The owner undoes one with
:func:`undo_action` (``cadence leads undo EMAIL ACTION_ID``, or the button on the lead's timeline):

* **snooze**: the snooze ends; nothing re-enrolls the lead at its date;
* **referral**: the lead the referral created (if nothing else happened to it since) is decided
  ``wrong_contact``, which stops its cadence;
* **decision**: the decision is withdrawn (superseded by none; the one it replaced is current again),
  the enrollment it ended is back in ``responded`` when it is still the lead's latest, and the tasks
  it cancelled are open again;
* **suppression**: the address is no longer suppressed (only the suppression this reply made).

The reply itself stays a response: the cadence does not resume on its own. Every undo leaves the
owner the task to answer the reply by hand, and is recorded on the action (when, by whom, what).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Enrollment, Lead, LeadAction, Suppression, Task
from cadence.core.decisions import Outcome
from cadence.core.enrollment import OPEN_STATES, State
from cadence.core.events import Consequences
from cadence.core.intent import Reading
from cadence.errors import NotFound, ValidationError
from cadence.services.enrollments import Applied, decide, latest_enrollment, open_enrollment
from cadence.services.rule_rows import full_name

KINDS = ("snooze", "referral", "decision", "suppression")
MAX_TITLE = 300


def _add(
    session: Session, lead: Lead, kind: str, summary: str, reading: Reading, undo: dict[str, Any], at: datetime
) -> None:
    session.add(
        LeadAction(
            lead_id=lead.id,
            kind=kind,
            summary=summary[:2000],
            evidence=[f"read as {reading.intent}, confidence {reading.confidence:.2f}", *reading.evidence],
            undo=undo,
            created_at=at,
        )
    )


def record_intent_actions(
    session: Session, lead: Lead, reading: Reading, result: Consequences, applied: Applied, *, at: datetime
) -> None:
    """Keep what the rule did on its own for the reply read as ``reading`` (see the module)."""
    if result.snooze is not None and lead.snoozed_until is not None:
        until = result.snooze.until.isoformat()
        _add(session, lead, "snooze", f"snoozed until {until}, then {result.snooze.cadence}", reading,
             {"until": until}, at)  # fmt: skip
    referred = applied.referred
    if referred is not None and referred.created and referred.lead is not None:
        _add(session, lead, "referral", f"added the referral {referred.lead.email}", reading,
             {"lead_id": referred.lead.id}, at)  # fmt: skip
    if applied.decision is not None:
        enrollment = applied.enrollment
        undo = {"decision_id": applied.decision.id, "enrollment_id": enrollment.id if enrollment else None}
        _add(session, lead, "decision", f"decided {applied.decision.outcome}", reading, undo, at)
    if result.suppress is not None:
        row = session.scalar(select(Suppression).where(Suppression.value == lead.email, Suppression.created_at == at))
        if row is not None:
            _add(session, lead, "suppression", f"suppressed {lead.email}", reading, {"suppression_id": row.id}, at)
    session.flush()


def actions_of(session: Session, lead: Lead) -> list[dict[str, Any]]:
    """The lead's automatic actions, oldest first, with their evidence and whether they were undone."""
    rows = session.scalars(select(LeadAction).where(LeadAction.lead_id == lead.id).order_by(LeadAction.id))
    return [
        {
            "id": row.id,
            "kind": row.kind,
            "summary": row.summary,
            "evidence": list(row.evidence or []),
            "at": row.created_at.isoformat(),
            "undone_at": row.undone_at.isoformat() if row.undone_at else None,
            "undone_by": row.undone_by,
            "undo_note": row.undo_note,
        }
        for row in rows
    ]


def undo_action(session: Session, lead: Lead, action_id: int, *, by: str, now: datetime) -> LeadAction:
    """Undo the lead's automatic action ``action_id`` (see the module); records who undid it and what was done.

    Raises :class:`NotFound` for an action that is not the lead's, :class:`ValidationError` for one undone already.
    """
    action = session.scalar(
        select(LeadAction).where(LeadAction.id == action_id, LeadAction.lead_id == lead.id).with_for_update()
    )
    if action is None:
        raise NotFound(
            f"{lead.reference} has no automatic action {action_id}; see `cadence leads show {lead.reference}`"
        )
    if action.undone_at is not None:
        raise ValidationError(f"action {action_id} was undone already, on {action.undone_at.isoformat()}")
    undo = {
        "snooze": _undo_snooze,
        "referral": _undo_referral,
        "decision": _undo_decision,
        "suppression": _undo_suppression,
    }[action.kind]
    note = undo(session, lead, action, by=by, now=now)
    action.undone_at, action.undone_by, action.undo_note = now, by[:320], note
    session.add(
        Task(
            lead_id=lead.id,
            owner_id=lead.owner_id,
            enrollment_id=None,
            channel="reply",
            title=f"Answer {full_name(lead)}'s reply by hand: an automatic action was undone"[:MAX_TITLE],
            instructions=f"Undone by {by}: {action.summary} ({note})",
            due_at=now,
            priority=lead.priority if lead.priority is not None else 2,
            status="open",
            created_at=now,
        )
    )
    session.flush()
    return action


def _undo_snooze(session: Session, lead: Lead, action: LeadAction, *, by: str, now: datetime) -> str:
    if lead.snoozed_until is None or lead.snoozed_until.isoformat() != action.undo.get("until"):
        return "the snooze had ended or changed already: nothing to wake"
    lead.snoozed_until = lead.snooze_cadence = None
    return "the snooze ended; nothing re-enrolls the lead"


def _undo_referral(session: Session, lead: Lead, action: LeadAction, *, by: str, now: datetime) -> str:
    referred = session.get(Lead, action.undo.get("lead_id"))
    if referred is None:
        return "the referred lead is gone"
    enrollment = latest_enrollment(session, referred)
    if referred.status not in {s.value for s in OPEN_STATES}:
        return f"{referred.email} is {referred.status} already: left as it is"
    if enrollment is not None and enrollment.state != State.ACTIVE.value:
        return f"{referred.email} answered or was paused meanwhile: left to its owner"
    decide(session, referred, Outcome.WRONG_CONTACT, now=now, reason=f"the referral was undone by {by}", decided_by=by)
    return f"{referred.email} decided wrong_contact: its cadence stopped"


def _undo_decision(session: Session, lead: Lead, action: LeadAction, *, by: str, now: datetime) -> str:
    decision = session.get(Decision, action.undo.get("decision_id"))
    if decision is None or decision.superseded_at is not None:
        return "the decision was replaced meanwhile: left as it is"
    decision.superseded_at = now
    earlier = session.scalar(select(Decision).where(Decision.superseded_by_id == decision.id))
    if earlier is not None:
        earlier.superseded_at = earlier.superseded_by_id = None
    enrollment = session.get(Enrollment, action.undo.get("enrollment_id") or -1)
    latest = latest_enrollment(session, lead)
    said = "the decision was withdrawn"
    if (
        enrollment is not None
        and latest is enrollment
        and enrollment.state == State.DECIDED.value
        and open_enrollment(session, lead) is None
    ):
        enrollment.state, enrollment.ended_at, enrollment.next_due_at = State.RESPONDED.value, None, None
        said += "; the enrollment is back to responded"
    lead.status = (latest.state if latest is not None else lead.status) if earlier is None else "decided"
    reopened = 0
    for task in session.scalars(
        select(Task).where(Task.lead_id == lead.id, Task.status == "cancelled", Task.completed_at == action.created_at)
    ):
        if (task.note or "").startswith("cancelled by the decision"):
            task.status, task.completed_at, task.note = "open", None, None
            reopened += 1
    return f"{said}; {reopened} task(s) open again"


def _undo_suppression(session: Session, lead: Lead, action: LeadAction, *, by: str, now: datetime) -> str:
    row = session.get(Suppression, action.undo.get("suppression_id"))
    if row is None:
        return "the address was no longer suppressed"
    session.delete(row)
    return f"{row.value} is no longer suppressed"
