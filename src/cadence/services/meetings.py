"""Meetings booked: from a calendar in the replies mailbox, or from a booking notification.

Both paths end in :func:`record_meeting`, which applies :class:`~cadence.core.events.MeetingBooked`
through :func:`~cadence.services.enrollments.handle`: the lead's decision ``meeting_booked`` with the
meeting's start time (a meeting counts as a response and ends the cadence, as decisions do), and the
owner's task to qualify before the meeting with the qualifying questions still unanswered.

:func:`record_booking` takes the JSON body of a booking notification, as a Cal.com or Calendly
webhook posts it (``cadence inbound booking FILE.json`` reads one from a file)::

    {"triggerEvent": "BOOKING_CREATED",                 # Cal.com (BOOKING_RESCHEDULED too)
     "payload": {"startTime": "2026-12-10T15:00:00Z", "attendees": [{"email": "ada@x.example"}]}}

    {"event": "invitee.created",                        # Calendly
     "payload": {"email": "ada@x.example", "scheduled_event": {"start_time": "2026-12-10T15:00:00Z"}}}

Other fields are ignored. A cancellation (``BOOKING_CANCELLED``, ``invitee.canceled``) books nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import pydantic
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead
from cadence.core.events import MeetingBooked
from cadence.core.leads import normalize_email
from cadence.core.questions import DEFAULT_QUESTIONS, Question, pairs
from cadence.errors import NotFound, ValidationError, shown
from cadence.services.answers import configured_questions, known_answers
from cadence.services.enrollments import Applied, handle
from cadence.settings import Settings

MAX_ATTENDEES = 100
_CANCELLED = {"BOOKING_CANCELLED", "invitee.canceled"}


@dataclass(frozen=True)
class Booked:
    """What a booking notification did."""

    recorded: bool
    """True when a meeting was recorded (False: cancelled, or that meeting was recorded already)."""
    lead_email: str | None
    start: datetime | None
    via: str
    note: str
    decision_id: int | None = None
    task_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """As plain data (the CLI's ``--json``, the API's answer)."""
        return {
            "recorded": self.recorded,
            "lead": self.lead_email,
            "start": self.start.isoformat() if self.start else None,
            "via": self.via,
            "note": self.note,
            "decision_id": self.decision_id,
            "task_id": self.task_id,
        }


def record_meeting(
    session: Session,
    lead: Lead,
    *,
    start: datetime,
    via: str,
    at: datetime,
    evidence: str = "",
    settings: Settings | None = None,
    questions: tuple[Question, ...] = DEFAULT_QUESTIONS,
    message_id: str | None = None,
) -> Applied:
    """Record that ``lead`` booked a meeting starting at ``start`` (see the module's docstring)."""
    event = MeetingBooked(
        start=start.astimezone(UTC),
        via=via,
        evidence=evidence,
        questions=pairs(questions),
        answers=known_answers(session, lead.id),
    )
    return handle(session, lead, event, at=at, settings=settings, message_id=message_id)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _CalAttendee(_Strict):
    email: str = Field(max_length=320)


class _CalPayload(_Strict):
    startTime: AwareDatetime
    attendees: list[_CalAttendee] = Field(min_length=1, max_length=MAX_ATTENDEES)


class _CalBooking(_Strict):
    triggerEvent: Literal["BOOKING_CREATED", "BOOKING_RESCHEDULED"]
    payload: _CalPayload


class _CalendlyEvent(_Strict):
    start_time: AwareDatetime


class _CalendlyPayload(_Strict):
    email: str = Field(max_length=320)
    scheduled_event: _CalendlyEvent


class _CalendlyBooking(_Strict):
    event: Literal["invitee.created"]
    payload: _CalendlyPayload


def _problems(exc: pydantic.ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "the body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def parse_booking(payload: Any) -> tuple[str, datetime | None, list[str]]:
    """(Who sent it, the start in UTC or None for a cancellation, the attendees' addresses) of a notification.

    Raises :class:`ValidationError` saying what is wrong with it.
    """
    if not isinstance(payload, dict):
        raise ValidationError("a booking notification is a JSON object")
    kind = payload.get("triggerEvent", payload.get("event"))
    if "triggerEvent" in payload:
        via = "booking (Cal.com)"
    elif "event" in payload:
        via = "booking (Calendly)"
    else:
        raise ValidationError("not a booking notification: expected Cal.com's triggerEvent or Calendly's event field")
    if kind in _CANCELLED:
        return via, None, []
    try:
        if "triggerEvent" in payload:
            cal = _CalBooking.model_validate(payload)
            return via, cal.payload.startTime.astimezone(UTC), [a.email for a in cal.payload.attendees]
        calendly = _CalendlyBooking.model_validate(payload)
        return via, calendly.payload.scheduled_event.start_time.astimezone(UTC), [calendly.payload.email]
    except pydantic.ValidationError as exc:
        raise ValidationError(f"{via}: {_problems(exc)}") from None


def _lead_of(session: Session, addresses: list[str]) -> Lead:
    """The first of ``addresses`` that is a lead's (locked against its other writers)."""
    valid: list[str] = []
    for address in addresses:
        try:
            valid.append(normalize_email(address))
        except ValidationError:
            continue
    for address in dict.fromkeys(valid):
        lead = session.scalar(select(Lead).where(Lead.email == address).with_for_update(of=Lead, key_share=True))
        if lead is not None:
            return lead
    named = ", ".join(shown(a) for a in addresses[:5]) or "none"
    raise NotFound(f"no lead has the address of the booking's attendee(s): {named}")


def record_booking(
    session: Session,
    payload: dict[str, Any],
    now: datetime,
    *,
    settings: Settings | None = None,
    questions: tuple[Question, ...] | None = None,
) -> Booked:
    """Record the meeting a booking notification (a Cal.com- or Calendly-style JSON body) announces.

    ``payload`` is the parsed JSON body. Raises :class:`ValidationError` when it is not a booking
    notification or misses what one needs, :class:`NotFound` when no attendee is a lead. The
    caller commits. ``settings`` gives the lead's calendar (task titles in its time zone);
    ``questions`` default to those of the session's context (seed 001's seven outside one).
    """
    via, start, attendees = parse_booking(payload)
    if start is None:
        return Booked(False, None, None, via, "a cancellation: nothing booked")
    lead = _lead_of(session, attendees)
    if questions is None:
        questions = configured_questions(session)
    applied = record_meeting(
        session, lead, start=start, via=via, at=now, evidence="booking notification", settings=settings,
        questions=questions,
    )  # fmt: skip
    return Booked(
        recorded=applied.decision is not None,
        lead_email=lead.email,
        start=start,
        via=via,
        note=applied.consequences.note,
        decision_id=applied.decision.id if applied.decision is not None else None,
        task_id=applied.task.id if applied.task is not None else None,
    )
