"""A rep's own contacts with a lead: a contact made outside the cadence, a note, a snooze to a date.

A contact in which the lead answered (a call from the rep's own phone, a LinkedIn message, a
meeting in person, an email from the rep's own mailbox) is a response, as ``cadence reply`` records
one: :class:`~cadence.core.events.Responded` through the one rule, so the automated steps stop and
the owner decides; a decision given with it is recorded as the lead page's decision is. A contact
without an answer (no answer, a message left) changes nothing but the timeline. A snooze is
:class:`~cadence.core.events.SnoozedByHand`: on the day, the lead wakes and is enrolled again as a
lead that answered "not now" is (:mod:`cadence.services.snoozes`). Every contact and note is kept as a
:class:`~cadence.adapters.models.LeadNote` with its author and time, and shown on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, LeadNote
from cadence.core.events import Responded, SnoozedByHand
from cadence.errors import ValidationError
from cadence.services.answers import configured_questions, known_answers
from cadence.services.context import Context
from cadence.services.enrollments import decide, handle
from cadence.services.users import Viewer
from cadence.services.workspace.access import changeable_lead
from cadence.services.workspace.decisions import DecisionForm, check_decision, parse_day

CONTACT_CHANNELS: dict[str, str] = {
    "call": "Call from my own phone",
    "linkedin": "LinkedIn message",
    "meeting": "Meeting in person",
    "email": "Email from my own mailbox",
    "other": "Other",
}
"""How a contact outside the cadence was made, with the words the form shows."""
CONTACT_OUTCOMES: dict[str, str] = {
    "answered": "They answered: the automated steps stop",
    "no_answer": "No answer, or a message left: nothing changes",
}
"""What came of a contact outside the cadence, with the words the form shows."""
MAX_NOTE = 5000
"""The longest note, in characters."""

_RESPONSE_CHANNELS = {"call": "call", "linkedin": "linkedin", "email": "email"}
"""A contact's channel as a response's (a meeting in person is ``other``)."""


@dataclass(frozen=True)
class ContactLogged:
    """A contact recorded: the lead's address, whether it answered, the decision recorded with it, if any."""

    email: str
    answered: bool
    decision: str | None


def _text(value: str, what: str, *, required: bool) -> str:
    text = value.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise ValidationError(f"{what} cannot contain a NUL character.")
    if required and not text:
        raise ValidationError(f"Write {what.lower()}.")
    if len(text) > MAX_NOTE:
        raise ValidationError(f"{what} is too long: at most {MAX_NOTE} characters, not {len(text)}.")
    return text


def _keep(session: Session, lead: Lead, viewer: Viewer, text: str, *, now: datetime, **what: str | None) -> None:
    session.add(LeadNote(lead_id=lead.id, text=text, author=viewer.email, created_at=now, **what))


def log_contact(
    ctx: Context,
    viewer: Viewer,
    email: str,
    *,
    channel: str,
    outcome: str,
    note: str,
    decision: DecisionForm,
    now: datetime,
) -> ContactLogged:
    """Record a contact made outside the cadence with its outcome (see the module); returns what was done.

    Raises :class:`~cadence.services.workspace.access.AccessDenied` unless the viewer may change the
    lead, :class:`~cadence.errors.ValidationError` for an unknown channel or outcome, a note too long,
    a decision with no answer from the lead, or a decision that does not pass its checks.
    """
    if channel not in CONTACT_CHANNELS:
        raise ValidationError("Choose how you were in touch: " + ", ".join(CONTACT_CHANNELS.values()).lower() + ".")
    if outcome not in CONTACT_OUTCOMES:
        raise ValidationError("Choose what came of it: they answered, or no answer.")
    text = _text(note, "The note", required=False)
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        chosen = check_decision(decision, known_answers(session, lead.id), configured_questions(session))
        if chosen is not None and outcome != "answered":
            raise ValidationError("A decision needs an answer from the lead: choose “they answered”.")
        if outcome == "answered":
            said = f"{CONTACT_CHANNELS[channel]}: {text}" if text else CONTACT_CHANNELS[channel]
            kind = "call" if channel == "call" else "manual"
            answered = Responded(kind=kind, channel=_RESPONSE_CHANNELS.get(channel, "other"), note=said)
            handle(session, lead, answered, at=now, settings=ctx.settings)
        if chosen is not None:
            decide(
                session,
                lead,
                chosen.outcome,
                now=now,
                reason=chosen.reason,
                answers=chosen.answers,
                qualification_skipped=chosen.qualification_skipped,
                decided_by=viewer.email,
            )
        _keep(session, lead, viewer, text, now=now, kind="contact", channel=channel, outcome=outcome)
        return ContactLogged(
            email=lead.reference, answered=outcome == "answered", decision=chosen.outcome.value if chosen else None
        )


def add_note(ctx: Context, viewer: Viewer, email: str, note: str, *, now: datetime) -> str:
    """Keep ``note`` on the lead, with the viewer as its author and ``now``; returns the lead's address."""
    text = _text(note, "The note", required=True)
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        _keep(session, lead, viewer, text, now=now, kind="note")
        return lead.reference


def snooze_lead(ctx: Context, viewer: Viewer, email: str, until: str, *, note: str = "", now: datetime) -> date:
    """Snooze the lead to the day ``until`` (``2026-12-01``, in its time zone); returns the day.

    Its automated steps stop; on that day it wakes and is enrolled again (``cadence snoozes wake``).
    Raises :class:`~cadence.errors.ValidationError` for a missing day or one not in the future.
    """
    day = parse_day(until, "The day to wake the lead")
    if day is None:
        raise ValidationError("Choose the day to wake the lead.")
    text = _text(note, "The note", required=False)
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        applied = handle(session, lead, SnoozedByHand(day=day, by=viewer.email), at=now, settings=ctx.settings)
        woken = applied.consequences.snooze
        assert woken is not None, "a snooze by hand always sets the wake-up"
        shown = f"Snoozed until {day.isoformat()}" + (f": {text}" if text else ".")
        _keep(session, lead, viewer, shown, now=now, kind="snooze")
        return day


def notes_timeline(session: Session, lead: Lead) -> list[dict[str, Any]]:
    """The lead's notes and outside contacts as timeline items (``by``: their author)."""
    items: list[dict[str, Any]] = []
    for row in session.scalars(select(LeadNote).where(LeadNote.lead_id == lead.id).order_by(LeadNote.id)):
        if row.kind == "contact":
            what = CONTACT_CHANNELS.get(row.channel or "", row.channel or "contact")
            state = "answered" if row.outcome == "answered" else "no answer"
        else:
            what, state = ("Note", "note") if row.kind == "note" else ("Snooze", "snoozed")
        items.append(
            {
                "at": row.created_at.isoformat(),
                "day": None,
                "channel": "note" if row.kind == "note" else (row.channel or "other"),
                "state": state,
                "template": None,
                "subject": None,
                "message_id": None,
                "outcome": None,
                "what": what,
                "text": row.text,
                "by": row.author,
                "intent": None,
                "confidence": None,
                "evidence": None,
            }
        )
    return items
