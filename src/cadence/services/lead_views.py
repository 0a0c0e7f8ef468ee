"""What the command line, the workspace and the API show of leads: a lead's summary and its page (timeline,
enrollment, account), the lists of leads, of due and uncertain steps, and of decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import (
    Account,
    Decision,
    Enrollment,
    InboundMessage,
    Lead,
    Response,
    Touch,
)
from cadence.core.leads import lead_reference
from cadence.core.schedule import LeadCalendar
from cadence.errors import ValidationError, shown
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.settings import Settings


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _reference_of(session: Session, lead_id: int | None) -> str | None:
    """How a person names the lead ``lead_id`` (its address, else ``#ID``), or None for no lead."""
    if lead_id is None:
        return None
    email = session.scalar(select(Lead.email).where(Lead.id == lead_id))
    return lead_reference(lead_id, email)


def lead_summary(lead: Lead) -> dict[str, Any]:
    """The fields every lead listing shows."""
    return {
        "id": lead.id,
        "ref": lead.reference,
        "email": lead.email,
        "phone": lead.phone,
        "name": " ".join(p for p in (lead.first_name, lead.last_name) if p) or None,
        "company": lead.company,
        "status": lead.status,
        "kind": lead.kind,
        "class": lead.lead_class,
        "owner": lead.owner.email if lead.owner else None,
        "cadence": lead.cadence,
        "source": lead.source,
        "interactions": lead.interactions,
    }


def lead_statuses() -> tuple[str, ...]:
    """Every status a lead can have: what it is until enrolled, then its enrollment's state; erased."""
    from cadence.core.enrollment import State  # imported when a status is asked for: the lists stay lean
    from cadence.core.qualification import Kind
    from cadence.services.erasure import ERASED

    return (*(k.value for k in Kind), *(s.value for s in State), ERASED)


def list_leads(session: Session, *, status: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
    """Leads, optionally of one status and one owner, by priority then email; an unknown status is refused."""
    query = select(Lead)
    if status:
        wanted = status.strip().lower()
        statuses = lead_statuses()
        if wanted not in statuses:
            raise ValidationError(f"unknown status {shown(status)}; choose one of {', '.join(statuses)}")
        query = query.where(Lead.status == wanted)
    if owner:
        from cadence.services.reps import rep_id

        query = query.where(Lead.owner_id == rep_id(session, owner))
    query = query.order_by(Lead.priority.is_(None), Lead.priority, Lead.email)
    return [lead_summary(lead) for lead in session.scalars(query)]


def _local_day(anchor: datetime, at: datetime, calendar: LeadCalendar) -> int:
    return (calendar.local_date(at) - calendar.local_date(anchor)).days


def show_lead(session: Session, email: str, *, settings: Settings) -> dict[str, Any]:
    """Everything about one lead (``email``: its address or ``#ID``): fields, class, owner, enrollment, timeline."""
    from cadence.services.enrollments import get_lead

    lead = get_lead(session, email)
    data = lead_summary(lead)
    data.update(
        {
            "address_warning": lead.address_warning,
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "title": lead.title,
            "industry": lead.industry,
            "company_size": lead.company_size,
            "phone": lead.phone,
            "linkedin_url": lead.linkedin_url,
            "address": {
                "line1": lead.address_line1,
                "line2": lead.address_line2,
                "city": lead.city,
                "region": lead.region,
                "postal_code": lead.postal_code,
                "country": lead.country,
            },
            "timezone": lead.timezone,
            "persona_fit": lead.persona_fit,
            "inbound": lead.inbound,
            "source_rank": lead.source_rank,
            "priority": lead.priority,
            "custom": lead.custom or {},
            "not_enrolled_reasons": list(lead.not_enrolled_reasons or []),
            "enrolled_anyway": lead.enrolled_anyway,
            "snoozed_until": _iso(lead.snoozed_until),
            "snooze_cadence": lead.snooze_cadence,
            "referred_by": _reference_of(session, lead.referred_by_id),
            "enrollment": None,
            "decision": None,
            "timeline": [],
            "account": _account_of(session, lead),
            "role": lead.buying_role,
        }
    )
    from cadence.services.enrollments import latest_enrollment, open_enrollment

    enrollment = open_enrollment(session, lead) or latest_enrollment(session, lead)
    calendar: LeadCalendar | None = None
    if enrollment is not None:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        calendar = calendar_for(lead, cadence, settings)
        next_step = None
        if enrollment.next_step < len(cadence.steps):
            step = cadence.steps[enrollment.next_step]
            next_step = {
                "index": enrollment.next_step + 1,
                "day": step.day,
                "channel": step.channel.value,
                "template": step.template,
            }
        data["enrollment"] = {
            "cadence": enrollment.cadence_name,
            "version": enrollment.cadence_version,
            "state": enrollment.state,
            "enrolled_at": _iso(enrollment.enrolled_at),
            "next_step": next_step,
            "next_due_at": _iso(enrollment.next_due_at),
            "steps_done": enrollment.next_step,
            "steps_total": len(cadence.steps),
        }
    history = list(
        session.scalars(
            select(Decision).where(Decision.lead_id == lead.id).order_by(Decision.decided_at.desc(), Decision.id.desc())
        )
    )
    current = next((d for d in history if d.superseded_at is None), None)
    if current is not None:
        data["decision"] = _decision_dict(current)
    data["decisions"] = [_decision_dict(d) for d in history]
    anchors = {e.id: e.enrolled_at for e in session.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id))}
    timeline: list[dict[str, Any]] = []
    for touch in session.scalars(select(Touch).where(Touch.lead_id == lead.id).order_by(Touch.due_at, Touch.id)):
        at = touch.executed_at or touch.due_at
        timeline.append(
            {
                "at": _iso(at),
                "day": touch.day,
                "channel": touch.channel,
                "state": touch.state,
                "template": touch.template,
                "subject": touch.subject,
                "message_id": touch.message_id,
                "outcome": touch.outcome or (touch.error if touch.state in ("held", "skipped") else None),
                "intent": None,
                "confidence": None,
                "evidence": None,
            }
        )
    readings = {
        m.message_id: m
        for m in session.scalars(
            select(InboundMessage).where(InboundMessage.lead_id == lead.id, InboundMessage.message_id.is_not(None))
        )
    }
    for response in session.scalars(select(Response).where(Response.lead_id == lead.id)):
        anchor = anchors.get(response.enrollment_id) if response.enrollment_id else None
        timeline.append(
            {
                "at": _iso(response.received_at),
                "day": _local_day(anchor, response.received_at, calendar) if anchor and calendar else None,
                "channel": response.channel,
                "state": response.kind,
                "template": None,
                "subject": None,
                "message_id": response.message_id,
                "outcome": response.note,
                **_reading(readings.get(response.message_id) if response.message_id else None),
            }
        )
    timeline.sort(key=lambda item: item["at"] or "")
    data["timeline"] = timeline
    from cadence.services.stages import stage_of
    from cadence.services.undo import actions_of

    data["stage"] = stage_of(session, lead)
    data["actions"] = actions_of(session, lead)
    return data


def _reading(message: InboundMessage | None) -> dict[str, Any]:
    """What a reply said, as the timeline shows it (all None for a response that came another way)."""
    if message is None or message.intent is None:
        return {"intent": None, "confidence": None, "evidence": None}
    return {"intent": message.intent, "confidence": message.confidence, "evidence": list(message.evidence or [])}


def due_items(session: Session, *, now: datetime, limit: int | None = None) -> list[dict[str, Any]]:
    """What is due as of ``now``: each active enrollment's next step (or its closing), by priority then time."""
    query = (
        select(Enrollment)
        .where(Enrollment.state == "active", Enrollment.next_due_at <= now)
        .order_by(Enrollment.priority, Enrollment.next_due_at, Enrollment.id)
    )
    if limit is not None:
        query = query.limit(limit)
    items: list[dict[str, Any]] = []
    for enrollment in session.scalars(query):
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        item: dict[str, Any] = {
            "email": enrollment.lead.email,
            "ref": enrollment.lead.reference,
            "owner": enrollment.lead.owner.email if enrollment.lead.owner else None,
            "cadence": enrollment.cadence_name,
            "version": enrollment.cadence_version,
            "due_at": _iso(enrollment.next_due_at),
            "priority": enrollment.priority,
        }
        if enrollment.next_step < len(cadence.steps):
            step = cadence.steps[enrollment.next_step]
            item.update(
                {
                    "step": enrollment.next_step + 1,
                    "day": step.day,
                    "channel": step.channel.value,
                    "template": step.template,
                }
            )
        else:
            item.update({"step": None, "day": None, "channel": "close", "template": None})
        items.append(item)
    return items


def uncertain_items(session: Session) -> list[dict[str, Any]]:
    """Emails whose send outcome is unknown (handed to SMTP, not recorded): never re-sent automatically."""
    rows = session.execute(
        select(Touch, Lead.email)
        .join(Lead, Lead.id == Touch.lead_id)
        .where(Touch.state == "uncertain")
        .order_by(Touch.id)
    ).all()
    return [
        {
            "touch": touch.id,
            "email": email,
            "step": touch.step_index + 1,
            "subject": touch.subject,
            "message_id": touch.message_id,
            "at": _iso(touch.executed_at or touch.claimed_at),
            "error": touch.error,
        }
        for touch, email in rows
    ]


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome,
        "reason": decision.reason,
        "at": _iso(decision.decided_at),
        "by": decision.decided_by,
        "answers": decision.answers,
        "qualification_skipped": decision.qualification_skipped,
        "superseded_at": _iso(decision.superseded_at),
        "meeting_at": _iso(decision.meeting_at),
    }


def list_decisions(session: Session, *, outcome: str | None = None, history: bool = False) -> list[dict[str, Any]]:
    """Each lead's current decision, newest first, with its lead, reason and qualifying answers.

    With ``history``, the decisions later ones superseded too (``superseded_at`` set).
    """
    query = select(Decision, Lead.id, Lead.email).join(Lead, Lead.id == Decision.lead_id)
    if not history:
        query = query.where(Decision.superseded_at.is_(None))
    if outcome is not None:
        query = query.where(Decision.outcome == outcome)
    query = query.order_by(Decision.decided_at.desc(), Decision.id.desc())
    return [
        {"email": email, "ref": lead_reference(lead_id, email), **_decision_dict(decision)}
        for decision, lead_id, email in session.execute(query)
    ]


def _account_of(session: Session, lead: Lead) -> dict[str, Any] | None:
    """The lead's account as its page links it: id and name."""
    from cadence.services.accounts import label

    account = session.get(Account, lead.account_id) if lead.account_id is not None else None
    return {"id": account.id, "name": label(account)} if account is not None else None
