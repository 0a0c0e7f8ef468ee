"""Enrolling leads in cadences and moving enrollments through their states."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import CadenceVersion, Decision, Enrollment, Lead, Response, Task
from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.decisions import Outcome, require_qualification
from cadence.core.enrollment import OPEN_STATES, Event, State, transition
from cadence.core.leads import normalize_email
from cadence.core.schedule import LeadCalendar, add_business_days, step_due_at
from cadence.errors import AlreadyExists, CadenceError, NotFound, ValidationError
from cadence.settings import Settings

_PINNED: dict[tuple[str, str], Cadence] = {}


class Suppressed(CadenceError):
    """The address is suppressed: it is never emailed."""


def lead_timezone(lead: Lead, settings: Settings) -> str:
    """The lead's time zone, else its owner's, else the configured default."""
    return lead.timezone or (lead.owner.timezone if lead.owner else None) or settings.default_timezone


def calendar_for(lead: Lead, cadence: Cadence, settings: Settings) -> LeadCalendar:
    """The lead's calendar under ``cadence``'s settings."""
    return LeadCalendar.for_lead(cadence.settings, lead_timezone(lead, settings), lead.country)


def pin_cadence(session: Session, cadence: Cadence, now: datetime) -> None:
    """Store this version of ``cadence`` so that enrollments on it keep it after the file changes."""
    key = (cadence.name, cadence.version)
    exists = session.scalar(
        select(CadenceVersion.id).where(CadenceVersion.name == cadence.name, CadenceVersion.version == cadence.version)
    )
    if exists is None:
        try:
            with session.begin_nested():
                session.add(
                    CadenceVersion(
                        name=cadence.name, version=cadence.version, definition=cadence.to_dict(), created_at=now
                    )
                )
        except IntegrityError:
            pass  # another process pinned the same version at the same moment
    _PINNED[key] = cadence


def pinned_cadence(session: Session, name: str, version: str) -> Cadence:
    """The cadence version an enrollment started with."""
    key = (name, version)
    if key not in _PINNED:
        row = session.scalar(
            select(CadenceVersion).where(CadenceVersion.name == name, CadenceVersion.version == version)
        )
        if row is None:
            raise NotFound(f"cadence {name} version {version} is not stored")
        _PINNED[key] = parse_cadence(row.definition)
    return _PINNED[key]


def schedule_next(enrollment: Enrollment, cadence: Cadence, settings: Settings, reply_grace_days: int = 3) -> None:
    """Set ``next_due_at`` for the enrollment's next step, or for the end of the reply grace period.

    Only an active enrollment has a due time.
    """
    if enrollment.state != State.ACTIVE:
        enrollment.next_due_at = None
        return
    calendar = calendar_for(enrollment.lead, cadence, settings)
    index = enrollment.next_step
    if index >= len(cadence.steps):
        last = enrollment.last_touch_at or enrollment.anchor_at
        enrollment.next_due_at = add_business_days(calendar, last, reply_grace_days)
        return
    enrollment.next_due_at = step_due_at(
        cadence,
        index,
        calendar,
        enrolled_at=enrollment.anchor_at,
        previous_touch_at=enrollment.last_touch_at,
        previous_day=enrollment.last_touch_day,
    )


def open_enrollment(session: Session, lead: Lead) -> Enrollment | None:
    """The lead's enrollment that is under way, if any."""
    return session.scalar(
        select(Enrollment).where(Enrollment.lead_id == lead.id, Enrollment.state.in_([s.value for s in OPEN_STATES]))
    )


def latest_enrollment(session: Session, lead: Lead) -> Enrollment | None:
    """The lead's most recent enrollment, whatever its state."""
    return session.scalar(
        select(Enrollment).where(Enrollment.lead_id == lead.id).order_by(Enrollment.id.desc()).limit(1)
    )


def get_lead(session: Session, email: str) -> Lead:
    """The lead with ``email``, or :class:`NotFound`."""
    address = normalize_email(email)
    lead = session.scalar(select(Lead).where(Lead.email == address))
    if lead is None:
        raise NotFound(f"no lead with email {address}")
    return lead


def start_enrollment(
    session: Session, lead: Lead, cadence: Cadence, *, now: datetime, settings: Settings
) -> Enrollment:
    """Enroll ``lead`` in ``cadence`` with Day 0 at ``now``.

    Raises :class:`AlreadyExists` when the lead has an enrollment under way.
    """
    from cadence.services.suppression import is_suppressed

    if open_enrollment(session, lead) is not None:
        raise AlreadyExists(f"{lead.email} is enrolled already; decide or finish that enrollment first")
    if is_suppressed(session, lead.email):
        raise Suppressed(f"{lead.email} is suppressed (unsubscribed, bounced or blocked): it is not enrolled")
    pin_cadence(session, cadence, now)
    enrollment = Enrollment(
        lead=lead,
        cadence_name=cadence.name,
        cadence_version=cadence.version,
        state=State.ACTIVE.value,
        enrolled_at=now,
        anchor_at=now,
        next_step=0,
        priority=lead.priority if lead.priority is not None else 2,
    )
    schedule_next(enrollment, cadence, settings)
    session.add(enrollment)
    lead.status = enrollment.state
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise AlreadyExists(f"{lead.email} was enrolled at the same moment by another process") from None
    return enrollment


def _require_open(session: Session, lead: Lead, what: str) -> Enrollment:
    enrollment = open_enrollment(session, lead)
    if enrollment is None:
        raise NotFound(f"{lead.email} has no enrollment under way to {what}")
    return enrollment


def _lock(session: Session, enrollment: Enrollment) -> Enrollment:
    """Re-read the enrollment row with a write lock, so that a concurrent run sees our change or we see its."""
    return session.scalars(
        select(Enrollment)
        .where(Enrollment.id == enrollment.id)
        .with_for_update(of=Enrollment)
        .execution_options(populate_existing=True)
    ).one()


def pause(session: Session, lead: Lead, *, now: datetime, until: datetime | None = None) -> Enrollment:
    """Pause the lead's enrollment: no step runs until it is resumed (or ``until`` passes)."""
    enrollment = _lock(session, _require_open(session, lead, "pause"))
    enrollment.state = transition(enrollment.state, Event.PAUSE).value
    enrollment.paused_at = now
    enrollment.paused_until = until
    enrollment.next_due_at = None
    lead.status = enrollment.state
    return enrollment


def resume(session: Session, lead: Lead, *, now: datetime, settings: Settings) -> Enrollment:
    """Resume a paused enrollment; the remaining steps keep their spacing, moved by the time paused."""
    enrollment = _lock(session, _require_open(session, lead, "resume"))
    enrollment.state = transition(enrollment.state, Event.RESUME).value
    if enrollment.paused_at is not None and now > enrollment.paused_at:
        shift = now - enrollment.paused_at
        enrollment.anchor_at = enrollment.anchor_at + shift
        if enrollment.last_touch_at is not None:
            enrollment.last_touch_at = enrollment.last_touch_at + shift
    enrollment.paused_at = None
    enrollment.paused_until = None
    schedule_next(enrollment, pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version), settings)
    lead.status = enrollment.state
    return enrollment


def record_response(
    session: Session,
    lead: Lead,
    *,
    now: datetime,
    kind: str = "manual",
    channel: str = "other",
    note: str | None = None,
    message_id: str | None = None,
) -> tuple[Response, Enrollment | None]:
    """Record that the lead answered: the automated steps stop at once and the owner decides next.

    Works on an enrollment under way or one that ran out (a late answer); a lead with no such
    enrollment still gets the response on its timeline.
    """
    enrollment = open_enrollment(session, lead) or latest_enrollment(session, lead)
    if enrollment is not None:
        _lock(session, enrollment)
        if enrollment.state in (State.ACTIVE, State.PAUSED, State.RESPONDED, State.COMPLETED):
            enrollment.state = transition(enrollment.state, Event.RESPOND).value
            enrollment.next_due_at = None
            enrollment.ended_at = None
            lead.status = enrollment.state
        else:
            enrollment = None
    response = Response(
        lead_id=lead.id,
        enrollment_id=enrollment.id if enrollment else None,
        kind=kind,
        channel=channel,
        note=note,
        message_id=message_id,
        received_at=now,
    )
    session.add(response)
    session.flush()
    return response, enrollment


def decide(
    session: Session,
    lead: Lead,
    outcome: Outcome,
    *,
    now: datetime,
    reason: str | None = None,
    answers: dict[str, str] | None = None,
    qualification_skipped: bool = False,
    decided_by: str | None = None,
) -> Decision:
    """Record the final decision on ``lead``: its enrollment stops at once and its open tasks are cancelled.

    A meeting or a hand-off needs the qualifying answers, or ``qualification_skipped`` (which is recorded).
    """
    require_qualification(outcome, answers, qualification_skipped)
    if reason is not None and len(reason) > 5000:
        raise ValidationError("reason is longer than 5000 characters")
    enrollment = open_enrollment(session, lead) or latest_enrollment(session, lead)
    if enrollment is not None:
        _lock(session, enrollment)
        if enrollment.state == State.DECIDED:
            enrollment = None
        else:
            enrollment.state = transition(enrollment.state, Event.DECIDE).value
            enrollment.next_due_at = None
            enrollment.ended_at = now
    for task in session.scalars(select(Task).where(Task.lead_id == lead.id, Task.status == "open")):
        task.status = "cancelled"
        task.completed_at = now
        task.note = f"cancelled by the decision {outcome.value}"
    decision = Decision(
        lead_id=lead.id,
        enrollment_id=enrollment.id if enrollment else None,
        outcome=outcome.value,
        reason=reason.strip() if reason else None,
        answers=answers,
        qualification_skipped=qualification_skipped,
        decided_by=decided_by,
        decided_at=now,
    )
    session.add(decision)
    lead.status = "decided"
    session.flush()
    return decision


def complete(session: Session, enrollment: Enrollment, *, now: datetime) -> Decision:
    """Close an enrollment whose steps all ran with no response: the decision ``no_response``."""
    enrollment.state = transition(enrollment.state, Event.COMPLETE).value
    enrollment.next_due_at = None
    enrollment.ended_at = now
    decision = Decision(
        lead_id=enrollment.lead_id,
        enrollment_id=enrollment.id,
        outcome=Outcome.NO_RESPONSE.value,
        reason="every step of the cadence ran with no response",
        decided_by="cadence",
        decided_at=now,
    )
    session.add(decision)
    enrollment.lead.status = enrollment.state
    return decision


def plan_for(
    session: Session, lead: Lead, *, settings: Settings, cadences: dict[str, Cadence], start: datetime | None
) -> tuple[Cadence, list[datetime]]:
    """When each step would land for ``lead``: its enrollment's, or a new one starting at ``start``."""
    from cadence.core.schedule import plan

    enrollment = open_enrollment(session, lead)
    if enrollment is not None and start is None:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        return cadence, plan(cadence, calendar_for(lead, cadence, settings), enrollment.anchor_at)
    name = enrollment.cadence_name if enrollment is not None else lead.cadence
    if name is None:
        raise ValidationError(f"{lead.email} is a {lead.kind}, not a lead: name a cadence with --cadence")
    if name not in cadences:
        raise NotFound(f"no cadence named {name!r}")
    cadence = cadences[name]
    if start is None:
        raise ValidationError("give --start for a lead that is not enrolled")
    return cadence, plan(cadence, calendar_for(lead, cadence, settings), start)
