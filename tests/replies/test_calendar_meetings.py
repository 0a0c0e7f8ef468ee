"""A calendar in the replies mailbox books a meeting, end to end: real messages over IMAP (Dovecot),
on SQLite and PostgreSQL.

The meaning (is this a meeting with this lead?) is tested by tables in ``tests/core/test_meetings.py``;
here the shell: the calendar part read from the message, the lead matched, the rows written.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, InboundMessage, Task
from cadence.core.questions import DEFAULT_QUESTIONS
from cadence.services.context import Context
from cadence.services.lead_views import show_lead
from cadence.services.replies import sync_replies
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed
from tests.replies.test_sync_replies import MONDAY, Service, count, new_mailbox
from tests.support.dovecot import DovecotServer

AT = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York, the lead's time zone
LEAD = "lead0@acme.example"
REP = "rita@cadence.example"
START = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)  # Thursday 09:00 in New York


@pytest.fixture
def service(database_url: str, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    box = new_mailbox(dovecot, monkeypatch)
    context = Context(Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC"))
    seed(context, [lead_row(0)], now=MONDAY, cadence="nurture")
    yield Service(context, box)
    context.close()


def ics(method: str, *, organizer: str = REP, attendee: str = LEAD, partstat: str = "ACCEPTED",
        start: str = "DTSTART:20261210T140000Z", status: str = "") -> str:  # fmt: skip
    """An iCalendar text as calendar programs send it (one event, CRLF lines)."""
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Example Corp//Calendar 1.0//EN", f"METHOD:{method}",
        "BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:STANDARD", "DTSTART:19701025T030000",
        "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT", "END:VTIMEZONE",
        "BEGIN:VEVENT", f"UID:{secrets.token_hex(6)}@calendar.example", "DTSTAMP:20261207T140000Z", start,
        "DTEND:20261210T150000Z", "SUMMARY:Intro call: Acme and Cadence",
        f"ORGANIZER;CN=Rita Alvarez:mailto:{organizer}",
        f"ATTENDEE;CN=Lead0 Tester;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat}:mailto:{attendee}",
        *([f"STATUS:{status}"] if status else []), "END:VEVENT", "END:VCALENDAR",
    ]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


def invitation(
    calendar: str, *, sender: str = LEAD, subject: str = "Accepted: Intro call", attach: bool = False
) -> bytes:
    """A message carrying ``calendar`` as Gmail and Outlook send it: text, then the calendar part."""
    message = EmailMessage()
    message["From"] = f"Lead0 Tester <{sender}>"
    message["To"] = "replies@cadence.example"
    message["Subject"] = subject
    message["Date"] = "Mon, 07 Dec 2026 14:55:00 +0000"
    message["Message-ID"] = f"<{secrets.token_hex(8)}@acme.example>"
    message.set_content(f"{subject}\n\nLead0 Tester has answered the invitation.\n")
    method = calendar.split("METHOD:", 1)[1].split("\r\n", 1)[0]
    if attach:
        message.add_attachment(calendar.encode(), maintype="application", subtype="ics", filename="invite.ics")
    else:
        message.add_alternative(calendar, subtype="calendar", params={"method": method})
    return message.as_bytes()


def read(service: Service, *messages: bytes) -> dict[str, object]:
    for message in messages:
        service.box.put(message)
    report = asyncio.run(sync_replies(service.ctx, now=AT))
    assert report.errors == []
    return report.as_dict()


def tasks(ctx: Context) -> list[Task]:
    with ctx.sessions() as s:
        return list(s.scalars(select(Task).where(Task.status == "open").order_by(Task.id)))


def test_an_accepted_invitation_books_the_meeting_with_its_time_and_asks_to_qualify_first(service: Service) -> None:
    report = read(service, invitation(ics("REPLY")))
    assert report["kinds"] == {"meeting": 1}
    assert report["decisions"] == {"meeting_booked": 1}
    with service.ctx.sessions() as s:
        decision = s.scalars(select(Decision)).one()
        assert (decision.outcome, decision.meeting_at, decision.decided_by) == ("meeting_booked", START,
                                                                               "calendar invitation")  # fmt: skip
        assert decision.reason is not None
        assert "the lead accepted the invitation" in decision.reason
        assert s.scalars(select(Enrollment)).one().state == "decided"
        message = s.scalars(select(InboundMessage)).one()
        assert message.kind == "meeting"
        shown = show_lead(s, LEAD, settings=service.ctx.settings)
        assert shown["decision"]["meeting_at"] == START.isoformat()
        [booked] = [t for t in shown["timeline"] if (t["outcome"] or "").startswith("meeting booked for")]
        assert "Thu 10 Dec 2026 09:00 (America/New_York)" in booked["outcome"]
    [task] = tasks(service.ctx)
    assert task.title == "Qualify Lead0 Tester before the meeting on Thu 10 Dec 2026 09:00 (America/New_York)"
    assert task.instructions is not None
    assert task.instructions.startswith("Ask before the meeting (7 of 7 unanswered):")
    assert all(q.text in task.instructions for q in DEFAULT_QUESTIONS)


def test_an_invitation_the_lead_sent_books_the_meeting_in_its_own_time_zone(service: Service) -> None:
    calendar = ics("REQUEST", organizer=LEAD, attendee=REP, partstat="NEEDS-ACTION",
                   start="DTSTART;TZID=Europe/Berlin:20261210T150000")  # fmt: skip
    read(service, invitation(calendar, subject="Invitation: Intro call", attach=True))
    with service.ctx.sessions() as s:
        assert s.scalars(select(Decision)).one().meeting_at == START  # 15:00 in Berlin is 14:00 UTC


def test_the_same_meeting_seen_twice_is_booked_once(service: Service) -> None:
    request = ics("REQUEST", partstat="NEEDS-ACTION")
    read(service, invitation(request, subject="Invitation: Intro call"), invitation(ics("REPLY")))
    assert count(service.ctx, Decision) == 1
    assert len(tasks(service.ctx)) == 1


NOT_BOOKED = [
    ("cancelled", ics("CANCEL", partstat="NEEDS-ACTION"), "the meeting is cancelled"),
    ("status cancelled", ics("REQUEST", status="CANCELLED"), "the meeting is cancelled"),
    ("declined", ics("REPLY", partstat="DECLINED"), "the lead answered declined"),
    ("tentative", ics("REPLY", partstat="TENTATIVE"), "the lead answered tentative"),
    ("someone else accepted", ics("REPLY", attendee="boss@acme.example"), "does not name the lead"),
    ("all-day", ics("REPLY", start="DTSTART;VALUE=DATE:20261210"), "has no start time"),
]


@pytest.mark.parametrize(("calendar", "why"), [c[1:] for c in NOT_BOOKED], ids=[c[0] for c in NOT_BOOKED])
def test_a_calendar_that_books_nothing_is_a_reply_the_owner_reads(service: Service, calendar: str, why: str) -> None:
    report = read(service, invitation(calendar, subject="Declined: Intro call"))
    assert report["kinds"] == {"reply": 1}
    assert count(service.ctx, Decision) == 0
    [task] = tasks(service.ctx)
    assert task.title == "Answer Lead0 Tester's reply"
    with service.ctx.sessions() as s:
        message = s.scalars(select(InboundMessage)).one()
        assert message.detail is not None
        assert why in message.detail
        assert s.scalars(select(Enrollment)).one().state == "responded"


def test_a_calendar_from_a_stranger_naming_the_lead_books_nothing(service: Service) -> None:
    """Inbound mail is evidence, not authority: the calendar must come from the lead (or its thread)."""
    report = read(service, invitation(ics("REPLY"), sender="someone@elsewhere.example"))
    assert report["unmatched"] == 1
    assert count(service.ctx, Decision) == 0
    assert tasks(service.ctx) == []
