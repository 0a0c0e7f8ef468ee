"""Meetings: is a calendar invitation or answer a meeting booked with this lead (pure).

The adapter (:mod:`cadence.adapters.calendar`) reads the ``text/calendar`` parts of a message into
:class:`CalendarEvent` values; :func:`meeting_with` says what they mean for one lead. Inbound mail
is evidence, not authority: a calendar books a meeting only when it names the lead's own address,

* ``METHOD:REQUEST`` (an invitation): the lead is its organizer, or an attendee who has not declined;
* ``METHOD:REPLY`` (an answer to one): the lead is an attendee with ``PARTSTAT=ACCEPTED``.

A cancellation (``METHOD:CANCEL``, ``STATUS:CANCELLED``), a declined or tentative answer, an event
with no start time, or any other method books nothing; the message is then read as any reply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

BOOKING_METHODS = frozenset({"REQUEST", "REPLY"})


@dataclass(frozen=True)
class Attendee:
    """An ``ATTENDEE`` of a calendar event: its address (lower case) and its answer (``PARTSTAT``)."""

    address: str
    partstat: str = "NEEDS-ACTION"


@dataclass(frozen=True)
class CalendarEvent:
    """One ``VEVENT`` of a calendar part, as the adapter read it (addresses lower case, names upper case)."""

    method: str
    """The calendar's ``METHOD`` (``REQUEST``, ``REPLY``, ``CANCEL``, ...), empty when it names none."""
    start: datetime | None
    """``DTSTART`` in UTC; None for an all-day event or one without a start."""
    organizer: str | None = None
    attendees: tuple[Attendee, ...] = ()
    status: str = ""
    """The event's ``STATUS`` (``CONFIRMED``, ``TENTATIVE``, ``CANCELLED``), empty when it has none."""
    summary: str = ""


@dataclass(frozen=True)
class MeetingSeen:
    """What the calendar parts of a message mean for one lead."""

    booked: bool
    start: datetime | None
    reason: str
    """Why, in words: for the message's row and the lead's timeline."""


def _one(event: CalendarEvent, lead: str) -> MeetingSeen:
    method = event.method or "(none)"
    if method == "CANCEL" or event.status == "CANCELLED":
        return MeetingSeen(False, event.start, "the meeting is cancelled: nothing booked")
    if method not in BOOKING_METHODS:
        return MeetingSeen(False, event.start, f"a calendar with METHOD {method} is no invitation or answer to one")
    answer = next((a.partstat for a in event.attendees if a.address == lead), None)
    if method == "REPLY":
        if answer is None:
            return MeetingSeen(False, event.start, "the calendar answer does not name the lead as an attendee")
        if answer != "ACCEPTED":
            return MeetingSeen(False, event.start, f"the lead answered {answer.lower()}: nothing booked")
        how = "the lead accepted the invitation"
    elif event.organizer == lead:
        how = "the lead sent the invitation"
    elif answer is None:
        return MeetingSeen(False, event.start, "the invitation names the lead neither as organizer nor as attendee")
    elif answer == "DECLINED":
        return MeetingSeen(False, event.start, "the lead declined: nothing booked")
    else:
        how = "the invitation names the lead as an attendee"
    if event.start is None:
        return MeetingSeen(False, None, f"{how}, but the meeting has no start time: nothing booked")
    return MeetingSeen(True, event.start, how)


def meeting_with(events: Iterable[CalendarEvent], lead_email: str) -> MeetingSeen | None:
    """What ``events`` mean for the lead whose address is ``lead_email``; None when there is no event.

    The first event that books a meeting wins; else the first event's reason why none is booked.
    """
    lead = lead_email.strip().lower()
    first: MeetingSeen | None = None
    for event in events:
        seen = _one(event, lead)
        if seen.booked:
            return seen
        first = first or seen
    return first
