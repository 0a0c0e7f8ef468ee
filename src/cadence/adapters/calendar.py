"""Reading the calendar parts of an email (``text/calendar``, ``.ics`` attachments) with ``icalendar``.

:func:`calendar_events` never raises: a part that does not parse is skipped. What the events mean
(is it a meeting with this lead?) is :func:`cadence.core.meetings.meeting_with`.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import icalendar

from cadence.core.inbound.message import clean, normalize_address
from cadence.core.meetings import Attendee, CalendarEvent

MAX_PARTS = 200
"""The most MIME parts of one message looked at."""
MAX_CALENDAR_BYTES = 256_000
"""A calendar part larger than this is skipped (an invitation is a few kilobytes)."""
MAX_EVENTS = 20
MAX_ATTENDEES = 200
_TYPES = {"text/calendar", "application/ics", "application/x-ical", "text/x-vcalendar"}


def _calendar_bytes(part: Message) -> bytes | None:
    kind = part.get_content_type()
    name = (part.get_filename() or "").lower()
    if kind not in _TYPES and not (kind == "application/octet-stream" and name.endswith(".ics")):
        return None
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or len(payload) > MAX_CALENDAR_BYTES:
        return None
    return payload


def _address(value: Any) -> str | None:
    text = str(value or "").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return normalize_address(text)


def _start(event: Any) -> datetime | None:
    prop = event.get("DTSTART")
    value = getattr(prop, "dt", None)
    if not isinstance(value, datetime):  # an all-day event (a date) is no meeting time
        return None
    if value.tzinfo is None:  # "floating" time: read as UTC, the only reading not made up
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _event(method: str, event: Any) -> CalendarEvent:
    attendees: list[Attendee] = []
    for raw in _listed(event.get("ATTENDEE"))[:MAX_ATTENDEES]:
        address = _address(raw)
        if address is not None:
            params = getattr(raw, "params", {}) or {}
            attendees.append(Attendee(address, clean(str(params.get("PARTSTAT") or "NEEDS-ACTION")).strip().upper()))
    organizers = _listed(event.get("ORGANIZER"))
    return CalendarEvent(
        method=method,
        start=_start(event),
        organizer=_address(organizers[0]) if organizers else None,
        attendees=tuple(attendees),
        status=clean(str(event.get("STATUS") or "")).strip().upper(),
        summary=clean(str(event.get("SUMMARY") or "")).strip()[:300],
    )


def parse_calendar(data: bytes, method_hint: str = "") -> list[CalendarEvent]:
    """The events of one iCalendar text (RFC 5545); empty when it does not parse."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception:  # icalendar raises ValueError and others on malformed input: it is skipped
        return []
    method = clean(str(calendar.get("METHOD") or method_hint)).strip().upper()
    events: list[CalendarEvent] = []
    for event in calendar.walk("VEVENT")[:MAX_EVENTS]:
        with contextlib.suppress(Exception):  # one malformed event does not hide the others
            events.append(_event(method, event))
    return events


def calendar_events(message: Message) -> list[CalendarEvent]:
    """Every calendar event in ``message``'s parts (at most :data:`MAX_EVENTS`); never raises."""
    events: list[CalendarEvent] = []
    try:
        for index, part in enumerate(message.walk()):
            if index >= MAX_PARTS or len(events) >= MAX_EVENTS:
                break
            data = _calendar_bytes(part)
            if data is not None:
                events.extend(parse_calendar(data, str(part.get_param("method") or "")))
    except Exception:  # a message the parser kept in a shape we cannot walk: no calendar
        return events[:MAX_EVENTS]
    return events[:MAX_EVENTS]


__all__ = ["MAX_CALENDAR_BYTES", "calendar_events", "parse_calendar"]
