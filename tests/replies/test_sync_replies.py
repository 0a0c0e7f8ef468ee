"""sync-replies against a real IMAP server (Dovecot), real SMTP (aiosmtpd) and both databases.

Leads get real emails from the advance flow; the messages placed in the mailbox answer those
emails the way mail clients and mail servers do: threaded and unthreaded replies, out-of-office
notes, an RFC 3464 bounce, a List-Unsubscribe mailto, and a reply from a stranger.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

import tests.flows.conftest as flow_fixtures
from cadence.adapters.imap import (
    ImapConfig,
    ImapFolderMissing,
    ImapLoginFailed,
    ImapMailbox,
    ImapUnreachable,
    encode_mailbox,
)
from cadence.adapters.models import (
    Decision,
    Enrollment,
    InboundMessage,
    Lead,
    MailboxState,
    Response,
    Suppression,
    Task,
    Touch,
)
from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.inbound import Inbound
from cadence.core.intent import Reading
from cadence.services import replies
from cadence.services.context import Context
from cadence.services.replies import sync_replies
from cadence.settings import Settings
from flows.advance import advance_cadences, flow_context
from flows.replies import sync_replies_flow
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed
from tests.support.dovecot import DovecotServer, free_port
from tests.support.servers import unavailable as cannot_run

# The flow tests' environment, shared: a conftest's fixtures are seen only below its own folder.
flow_env = flow_fixtures.flow_env


MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York
SEND = MONDAY + timedelta(days=1, hours=1)  # Tuesday: nurture's day-1 email goes out
SYNC = SEND + timedelta(hours=2)
LATER = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)  # nurture's day-7 email is due; the 7-day pause still runs


@dataclass
class Mailbox:
    """A replies mailbox of one's own on the session's Dovecot."""

    server: DovecotServer
    user: str
    password: str
    folder: str = "INBOX"

    def put(self, message: bytes, folder: str | None = None, received: datetime | None = None) -> int | None:
        return self.server.append(self.user, folder or self.folder, crlf(message), received=received)


def crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def new_mailbox(dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    user = f"replies-{secrets.token_hex(4)}@cadence.example"
    password = f"pw-{secrets.token_hex(6)}"
    dovecot.add_user(user, password)
    for key, value in {
        "CADENCE_IMAP_HOST": dovecot.host,
        "CADENCE_IMAP_PORT": str(dovecot.port),
        "CADENCE_IMAP_USERNAME": user,
        "CADENCE_IMAP_PASSWORD": password,
        "CADENCE_IMAP_TLS": "none",
        "CADENCE_IMAP_FOLDER": "INBOX",
        "CADENCE_IMAP_TIMEOUT": "10",
        "CADENCE_REPLY_TO": user,  # our emails say: reply to the mailbox sync-replies reads
    }.items():
        monkeypatch.setenv(key, value)
    return Mailbox(dovecot, user, password)


@pytest.fixture
def mailbox(flow_env: SmtpSink, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    """An empty mailbox of this test's own, which the flows read (CADENCE_IMAP_*)."""
    return new_mailbox(dovecot, monkeypatch)


# -- messages as mail clients and servers write them -----------------------------------------------


def sent_to(sink: SmtpSink, address: str) -> EmailMessage:
    [message] = [m for m in sink.messages() if address in str(m["To"])]
    return message


def quoted(sent: EmailMessage) -> str:
    body = sent.get_body(preferencelist=("plain",))
    assert body is not None
    return "\n".join("> " + line for line in body.get_content().splitlines())


def reply(
    sent: EmailMessage,
    text: str,
    *,
    threaded: bool = True,
    sender: str | None = None,
    at: datetime = SYNC,
) -> tuple[str, bytes]:
    """A lead's reply to ``sent``: Reply-To as the recipient, the original quoted below the answer."""
    message_id = f"<reply.{secrets.token_hex(6)}@acme.example>"
    threading = f"In-Reply-To: {sent['Message-ID']}\nReferences: {sent['Message-ID']}\n" if threaded else ""
    raw = (
        f"From: {sender or sent['To']}\n"
        f"To: {sent['Reply-To']}\n"
        f"Subject: Re: {sent['Subject']}\n"
        f"Date: {format_datetime(at)}\n"
        f"Message-ID: {message_id}\n"
        f"{threading}"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        f"{text}\n\n"
        f"On {format_datetime(SEND)}, {sent['From']} wrote:\n"
        f"{quoted(sent)}\n"
    )
    return message_id, raw.encode()


def out_of_office(sent: EmailMessage, text: str) -> bytes:
    """An Exchange out-of-office note, as Outlook sends it."""
    return (
        f"From: {sent['To']}\n"
        f"To: {sent['Reply-To']}\n"
        f"Subject: Automatic reply: {sent['Subject']}\n"
        f"Thread-Topic: {sent['Subject']}\n"
        f"Date: {format_datetime(SYNC)}\n"
        f"Message-ID: <ooo.{secrets.token_hex(6)}@acme.example>\n"
        f"In-Reply-To: {sent['Message-ID']}\n"
        f"References: {sent['Message-ID']}\n"
        "Auto-Submitted: auto-generated\n"
        "X-Auto-Response-Suppress: All\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        f"{text}\n"
    ).encode()


def postfix_bounce(sent: EmailMessage, recipient: str) -> bytes:
    """Postfix's RFC 3464 delivery status notification for ``sent``, returning its headers."""
    boundary = f"{secrets.token_hex(4).upper()}.1764601202/mx.acme.example"
    original_headers = "".join(f"{name}: {value}\n" for name, value in sent.items() if name.lower() != "content-type")
    return (
        "Return-Path: <>\n"
        f"Date: {format_datetime(SYNC)}\n"
        "From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"To: {sent['Reply-To']}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"\n'
        f"Message-Id: <{secrets.token_hex(6)}.4F3A21C0@mx.acme.example>\n"
        "\n"
        "This is a MIME-encapsulated message.\n"
        "\n"
        f"--{boundary}\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "This is the mail system at host mx.acme.example.\n"
        "\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n"
        "\n"
        f"<{recipient}>: host mx.acme.example[192.0.2.10] said: 550 5.1.1\n"
        f"    <{recipient}>: Recipient address rejected: User unknown in virtual\n"
        "    mailbox table (in reply to RCPT TO command)\n"
        "\n"
        f"--{boundary}\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mx.acme.example\n"
        "X-Postfix-Queue-ID: 4F3A21C0\n"
        f"Arrival-Date: {format_datetime(SYNC)}\n"
        "\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        f"Original-Recipient: rfc822;{recipient}\n"
        "Action: failed\n"
        "Status: 5.1.1\n"
        "Remote-MTA: dns; mx.acme.example\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address\n"
        "    rejected: User unknown in virtual mailbox table\n"
        "\n"
        f"--{boundary}\n"
        "Content-Description: Undelivered Message Headers\n"
        "Content-Type: text/rfc822-headers\n"
        "\n"
        f"{original_headers}"
        "\n"
        f"--{boundary}--\n"
    ).encode()


def list_unsubscribe_mail(sent: EmailMessage) -> bytes:
    """What a mail client sends for List-Unsubscribe's mailto (the lead pressed "Unsubscribe")."""
    match = re.search(r"<mailto:([^?>]+)\?subject=([^>]+)>", str(sent["List-Unsubscribe"]))
    assert match is not None, sent["List-Unsubscribe"]
    return (
        f"From: {sent['To']}\n"
        f"To: {match.group(1)}\n"
        f"Subject: {match.group(2)}\n"
        f"Date: {format_datetime(SYNC)}\n"
        f"Message-ID: <unsub.{secrets.token_hex(6)}@acme.example>\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "This message was automatically generated by Mail to unsubscribe you from this mailing list.\n"
    ).encode()


def stranger_reply() -> bytes:
    return (
        "From: Sam Stranger <sam@elsewhere.example>\n"
        "To: someone@cadence.example\n"
        "Subject: Re: your product\n"
        f"Date: {format_datetime(SYNC)}\n"
        f"Message-ID: <stranger.{secrets.token_hex(6)}@elsewhere.example>\n"
        "\n"
        "Who are you and how did you get my address?\n"
    ).encode()


# -- helpers ---------------------------------------------------------------------------------------


async def latest_table(key: str) -> list[dict[str, object]]:
    # The newest by the server's sort: its default (by id, random UUIDs) with a limit left out the
    # newest run's table once more than the limit had been published in the session.
    async with get_client() as client:
        [newest] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    rows = json.loads(newest.data) if isinstance(newest.data, str) else newest.data
    assert isinstance(rows, list)
    return rows


def enrollment_of(ctx: Context, email: str) -> Enrollment:
    with ctx.sessions() as s:
        return s.scalars(select(Enrollment).join(Lead).where(Lead.email == email)).one()


def count(ctx: Context, model: type[Any], *where: ColumnElement[bool]) -> int:
    with ctx.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


# -- the whole story, through the flows --------------------------------------------------------------


def test_each_kind_of_inbound_mail_does_what_it_should_and_nothing_twice(flow_env: SmtpSink, mailbox: Mailbox) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(7)], now=MONDAY, cadence="nurture")
    assert asyncio.run(advance_cadences(now=SEND))["emails_sent"] == 7
    sent = {i: sent_to(flow_env, f"lead{i}@acme.example") for i in range(7)}

    reply_id, threaded = reply(sent[0], "Hi Rita,\n\nYes, a short call makes sense. Tuesday at 10 works for me.")
    mailbox.put(threaded)
    mailbox.put(
        reply(sent[1], "Not now, check back in Q2.", threaded=False, sender='"Lead1 Tester" <LEAD1@Acme.example>')[1]
    )
    mailbox.put(stranger_reply())
    mailbox.put(out_of_office(sent[2], "I am out of the office until Monday, December 14, with limited access."))
    mailbox.put(out_of_office(sent[3], "I am travelling with limited access to email."))
    mailbox.put(postfix_bounce(sent[4], "lead4@acme.example"))
    mailbox.put(list_unsubscribe_mail(sent[5]))

    result = asyncio.run(sync_replies_flow(now=SYNC))

    assert result["kinds"] == {"reply": 3, "auto_reply": 2, "bounce": 1, "unsubscribe": 1}
    assert (result["unmatched"], result["replies"], result["tasks_created"], result["paused"]) == (1, 2, 1, 2)
    assert result["decisions"] == {"bounced": 1, "unsubscribed": 1}
    assert (result["intents"]["interested"], result["intents"]["not_now"], result["snoozed"]) == (1, 1, 1)
    assert result["errors"] == []
    with ctx.sessions() as s:
        # A threaded reply: matched by In-Reply-To, the automated steps stop, the owner answers it.
        touch0 = s.scalars(select(Touch).where(Touch.message_id == sent[0]["Message-ID"])).one()
        response = s.scalars(select(Response).where(Response.lead_id == touch0.lead_id)).one()
        assert (response.kind, response.channel, response.message_id, response.touch_id) == (
            "reply",
            "email",
            reply_id,
            touch0.id,
        )
        assert response.note == "Hi Rita,\n\nYes, a short call makes sense. Tuesday at 10 works for me."
        task = s.scalars(select(Task).where(Task.lead_id == touch0.lead_id, Task.channel == "reply")).one()
        # It says yes: the owner answers and books within the response SLA, 4 business hours (12:00 in
        # New York, the window closes at 16:00).
        assert task.title == "Answer Lead0 Tester and book a meeting"
        assert task.owner is not None
        assert task.owner.email == "rita@cadence.example"
        assert (task.status, task.due_at) == ("open", datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
        assert task.instructions is not None
        assert task.instructions.startswith("Read as interested, confidence 0.95: Yes, a short call makes sense.")
        assert task.instructions.endswith(response.note)
        # The reply whose threading headers were stripped is matched by its sender; "not now, in Q2"
        # snoozes the lead until April 1st, 09:00 in New York, with no task for anyone.
        lead1 = s.scalars(select(Lead).where(Lead.email == "lead1@acme.example")).one()
        assert s.scalars(select(Task).where(Task.lead_id == lead1.id)).all() == []
        assert (lead1.snoozed_until, lead1.snooze_cadence) == (datetime(2027, 4, 1, 13, 0, tzinfo=UTC), "re-engage")
        kept = s.scalars(select(InboundMessage).where(InboundMessage.lead_id == lead1.id)).one()
        assert (kept.intent, kept.confidence, kept.named_date) == ("not_now", 0.95, date(2027, 4, 1))
        assert kept.evidence == ["Not now, check back in Q2.", "date: Q2"]
        # The stranger's reply is recorded, matched to nobody, and changes nothing.
        stranger = s.scalars(select(InboundMessage).where(InboundMessage.sender == "sam@elsewhere.example")).one()
        assert (stranger.kind, stranger.lead_id) == ("reply", None)
        assert s.scalar(select(func.count()).select_from(Response).where(Response.kind == "reply")) == 2
        # The bounce: decision bounced, with the server's reason, and the address suppressed.
        decisions = {d.outcome: d for d in s.scalars(select(Decision))}
        assert set(decisions) == {"bounced", "unsubscribed"}
        assert "5.1.1" in (decisions["bounced"].reason or "")
        assert sorted(s.scalars(select(Suppression.value))) == ["lead4@acme.example", "lead5@acme.example"]
        assert s.scalars(select(Suppression.reason).where(Suppression.value == "lead5@acme.example")).one() == (
            "unsubscribe by email"
        )
        auto = s.scalars(select(Response).where(Response.kind == "auto_reply").order_by(Response.id)).all()
        assert len(auto) == 2
        assert auto[0].note is not None
        assert auto[0].note.startswith("back on 2026-12-14: I am out of the office")
    states = {i: enrollment_of(ctx, f"lead{i}@acme.example") for i in range(7)}
    assert {i: e.state for i, e in states.items()} == {
        0: "responded", 1: "responded", 2: "paused", 3: "paused", 4: "decided", 5: "decided", 6: "active",
    }  # fmt: skip
    # Back on Monday, December 14: at 09:00 in New York, when the nurture cadence's send window opens.
    assert states[2].paused_until == datetime(2026, 12, 14, 14, 0, tzinfo=UTC)
    assert states[3].paused_until == SYNC + timedelta(days=7)
    table = {str(r["what"]): r for r in asyncio.run(latest_table("sync-replies-report"))}
    assert (table["kind: reply"]["count"], table["unmatched (no lead)"]["count"]) == (3, 1)
    assert table["unmatched (no lead)"]["detail"] == "sam@elsewhere.example"

    again = asyncio.run(sync_replies_flow(now=SYNC + timedelta(minutes=5)))
    assert (again["fetched"], again["processed"], again["kinds"]) == (0, 0, {})
    assert count(ctx, InboundMessage) == 7

    # A week later the cadence goes on for the lead that never wrote, and only for that one.
    before = flow_env.count()
    later = asyncio.run(advance_cadences(now=LATER))
    assert later["emails_sent"] == 1
    assert [m["To"] for m in flow_env.messages()[before:]] == ["Lead6 Tester <lead6@acme.example>"]


def test_a_changed_uidvalidity_does_not_process_anything_twice(
    flow_env: SmtpSink, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_IMAP_FOLDER", "Cadence Replies")
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    asyncio.run(advance_cadences(now=SEND))
    _, first = reply(sent_to(flow_env, "lead0@acme.example"), "Call me.")
    mailbox.put(first, "Cadence Replies")
    before = asyncio.run(sync_replies_flow(now=SYNC))
    assert before["kinds"] == {"reply": 1}

    # The folder is deleted and made again (as a restore from backup would): new UIDVALIDITY, UIDs from 1.
    with mailbox.server.connect(mailbox.user) as imap:
        assert imap.delete(encode_mailbox("Cadence Replies"))[0] == "OK"
    mailbox.put(first, "Cadence Replies")
    mailbox.put(reply(sent_to(flow_env, "lead1@acme.example"), "Send me the deck.")[1], "Cadence Replies")

    after = asyncio.run(sync_replies_flow(now=SYNC + timedelta(hours=1)))

    [shared_before], [shared] = before["mailboxes"], after["mailboxes"]
    assert shared["uidvalidity"] != shared_before["uidvalidity"]
    assert shared["restarted"] is True
    assert after["kinds"] == shared["kinds"] == {"duplicate": 1, "reply": 1}
    assert shared["last_uid"] == 2
    assert count(ctx, Response) == 2
    assert count(ctx, Task, Task.channel == "reply") == 2
    with ctx.sessions() as s:
        state = s.scalars(select(MailboxState)).one()
        assert (state.account, state.folder, state.uidvalidity, state.last_uid) == (
            "",
            "Cadence Replies",
            shared["uidvalidity"],
            2,
        )


@pytest.mark.one_database
def test_without_an_imap_host_the_flow_warns_and_does_nothing(flow_env: SmtpSink) -> None:
    assert asyncio.run(sync_replies_flow(now=SYNC)) == {
        "skipped": "no replies mailbox: CADENCE_IMAP_HOST is not set and no sending mailbox has an IMAP host"
    }


# -- the service alone (no Prefect): failures and edge cases ------------------------------------------


@dataclass
class Service:
    """A context whose replies mailbox is an empty one of this test's own."""

    ctx: Context
    box: Mailbox


@pytest.fixture
def service(database_url: str, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    box = new_mailbox(dovecot, monkeypatch)
    context = Context(Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC"))
    assert context.settings.imap_username == box.user
    yield Service(context, box)
    context.close()


def plain(sender: str, subject: str, text: str, **headers: str) -> bytes:
    extra = "".join(f"{name.replace('_', '-')}: {value}\n" for name, value in headers.items())
    return (
        f"From: {sender}\nTo: replies@cadence.example\nSubject: {subject}\nDate: {format_datetime(SYNC)}\n"
        f"Message-ID: <{secrets.token_hex(8)}@acme.example>\n{extra}\n{text}\n"
    ).encode()


def test_a_message_that_fails_is_reported_and_read_again_next_time(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, box = service.ctx, service.box
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    box.put(plain("lead0@acme.example", "Re: hello", "First."))
    box.put(plain("lead1@acme.example", "Re: hello", "Second."))
    real_reply = replies._reply

    def failing_for_lead0(
        session: Session, settings: Settings, inbound: Inbound, reading: Reading, row: InboundMessage, *, now: datetime
    ) -> Any:
        if inbound.sender == "lead0@acme.example":
            raise RuntimeError("the database went away")
        return real_reply(session, settings, inbound, reading, row, now=now)

    monkeypatch.setattr(replies, "_reply", failing_for_lead0)
    first = asyncio.run(sync_replies(ctx, now=SYNC))
    assert first.kinds == {"reply": 1}
    assert len(first.errors) == 1
    assert "the database went away" in first.errors[0]
    assert first.last_uid == 0  # read again from the message that failed
    assert enrollment_of(ctx, "lead0@acme.example").state == "active"

    monkeypatch.setattr(replies, "_reply", real_reply)
    second = asyncio.run(sync_replies(ctx, now=SYNC + timedelta(minutes=5)))
    assert (second.fetched, second.kinds, second.errors, second.last_uid) == (1, {"reply": 1}, [], 2)
    assert enrollment_of(ctx, "lead0@acme.example").state == "responded"
    assert count(ctx, Task, Task.channel == "reply") == 2


def test_mail_from_our_own_reps_is_not_taken_for_a_reply(service: Service) -> None:
    ctx = service.ctx
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    service.box.put(plain("Rita Alvarez <rita@cadence.example>", "Re: hello", "Forwarding this to the team."))
    report = asyncio.run(sync_replies(ctx, now=SYNC))
    assert (report.kinds, report.unmatched) == ({"ignored": 1}, 0)
    assert count(ctx, Response) == 0


def test_an_out_of_office_whose_return_date_has_passed_does_not_pause(service: Service) -> None:
    ctx = service.ctx
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    service.box.put(
        plain(
            "lead0@acme.example", "Out of Office: hello", "I was out until November 27.", Auto_Submitted="auto-replied"
        )
    )
    report = asyncio.run(sync_replies(ctx, now=SYNC))
    assert (report.kinds, report.paused) == ({"auto_reply": 1}, 0)
    assert enrollment_of(ctx, "lead0@acme.example").state == "active"
    assert count(ctx, Response, Response.kind == "auto_reply") == 1


def test_a_bounce_for_an_address_we_never_emailed_changes_nothing(service: Service) -> None:
    ctx = service.ctx
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    service.box.put(
        plain(
            "MAILER-DAEMON@mx.spam.example",
            "Undelivered Mail Returned to Sender",
            "<victim@spam.example>: host said: 550 5.1.1 User unknown\n\n--- copy\nMessage-ID: <x@spam.example>",
        )
    )
    report = asyncio.run(sync_replies(ctx, now=SYNC))
    # It returns no message of ours: kept for a person to read, not acted on.
    assert (report.kinds, report.unmatched, report.suppressed) == ({"review": 1}, 0, 0)
    assert count(ctx, Suppression) == 0
    assert enrollment_of(ctx, "lead0@acme.example").state == "active"


def test_anything_sent_to_a_dedicated_unsubscribe_address_unsubscribes(
    database_url: str, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = new_mailbox(dovecot, monkeypatch)
    monkeypatch.setenv("CADENCE_UNSUBSCRIBE_ADDRESS", "unsubscribe@cadence.example")
    ctx = Context(Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC"))
    try:
        seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
        box.put(
            b"From: lead0@acme.example\nTo: unsubscribe@cadence.example\nSubject: Remove me\n"
            b"Message-ID: <u1@acme.example>\n\nPlease.\n"
        )
        report = asyncio.run(sync_replies(ctx, now=SYNC))
        assert (report.kinds, dict(report.decisions)) == ({"unsubscribe": 1}, {"unsubscribed": 1})
        assert enrollment_of(ctx, "lead0@acme.example").state == "decided"
    finally:
        ctx.close()


# -- the IMAP adapter against the real server -------------------------------------------------------------


def config_for(box: Mailbox, **changes: Any) -> ImapConfig:
    config = ImapConfig(
        host=box.server.host, port=box.server.port, username=box.user, password=box.password, tls="none", timeout=5.0
    )
    return dataclasses.replace(config, **changes)


@pytest.fixture
def own_mailbox(dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> Mailbox:
    return new_mailbox(dovecot, monkeypatch)


async def read_all(config: ImapConfig, folder: str, after: int) -> tuple[int, list[tuple[int, bytes]]]:
    async with ImapMailbox(config) as imap:
        uidvalidity = await imap.select(folder)
        return uidvalidity, await imap.fetch(await imap.uids_after(after))


def test_messages_are_fetched_by_uid_byte_for_byte_and_none_past_the_last(own_mailbox: Mailbox) -> None:
    messages = [crlf(plain("a@acme.example", f"n{i}", "hi")) for i in range(3)]
    uids = [own_mailbox.put(m) for m in messages]
    _, fetched = asyncio.run(read_all(config_for(own_mailbox), "INBOX", 0))
    assert fetched == list(zip(uids, messages, strict=True))
    # UID SEARCH UID n:* returns the highest UID even when n is past it: nothing is read twice.
    assert asyncio.run(read_all(config_for(own_mailbox), "INBOX", max(u or 0 for u in uids)))[1] == []
    assert [u for u, _ in asyncio.run(read_all(config_for(own_mailbox), "INBOX", uids[0] or 0))[1]] == uids[1:]


def test_only_the_beginning_of_a_big_message_is_fetched(own_mailbox: Mailbox) -> None:
    message = crlf(plain("a@acme.example", "big", "x" * 5000))
    own_mailbox.put(message)

    async def first_bytes() -> list[tuple[int, bytes]]:
        async with ImapMailbox(config_for(own_mailbox)) as imap:
            await imap.select("INBOX")
            return await imap.fetch(await imap.uids_after(0), max_bytes=300)

    [(_, head)] = asyncio.run(first_bytes())
    assert head == message[:300]


def test_a_folder_named_with_spaces_and_accents_is_read(own_mailbox: Mailbox) -> None:
    # Appended under its IMAP name (modified UTF-7), read under its real name.
    own_mailbox.put(plain("a@acme.example", "hello", "hi"), "R&AOk-ponses &- co")
    _, fetched = asyncio.run(read_all(config_for(own_mailbox), "Réponses & co", 0))
    assert len(fetched) == 1


def test_a_wrong_password_says_so(own_mailbox: Mailbox) -> None:
    with pytest.raises(ImapLoginFailed, match=r"refused the login of replies-.*CADENCE_IMAP_PASSWORD"):
        asyncio.run(read_all(config_for(own_mailbox, password="wrong"), "INBOX", 0))


def test_a_missing_folder_says_so(own_mailbox: Mailbox) -> None:
    with pytest.raises(ImapFolderMissing, match=r"cannot open the folder 'Nope'.*CADENCE_IMAP_FOLDER"):
        asyncio.run(read_all(config_for(own_mailbox), "Nope", 0))


def test_an_unreachable_server_says_so(own_mailbox: Mailbox) -> None:
    with pytest.raises(ImapUnreachable, match=r"cannot reach the IMAP server 127\.0\.0\.1:\d+"):
        asyncio.run(read_all(config_for(own_mailbox, port=free_port()), "INBOX", 0))


def test_tls_against_a_plain_text_server_says_so(own_mailbox: Mailbox) -> None:
    with pytest.raises(ImapUnreachable, match=r"TLS with the IMAP server .* failed.*CADENCE_IMAP_TLS"):
        asyncio.run(read_all(config_for(own_mailbox, tls="tls"), "INBOX", 0))


def test_starttls_that_the_server_does_not_offer_says_so(own_mailbox: Mailbox) -> None:
    with pytest.raises(ImapUnreachable, match="does not offer STARTTLS"):
        asyncio.run(read_all(config_for(own_mailbox, tls="starttls"), "INBOX", 0))


# -- TLS and STARTTLS, against a Dovecot with a certificate of its own ------------------------------------


class TlsDovecot(DovecotServer):
    """The tests' private Dovecot with TLS: STARTTLS on its IMAP port, implicit TLS on ``tls_port``."""

    def __init__(self, root: Path, cert: Path, key: Path) -> None:
        super().__init__(root)
        self.cert, self.key = cert, key
        self.tls_port = free_port()

    def render_config(self) -> str:
        config = super().render_config()
        tls = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.key}\nssl_min_protocol = TLSv1.2"
        imaps = f"inet_listener imaps {{\n    address = {self.host}\n    port = {self.tls_port}\n  }}"
        return config.replace("ssl = no", tls).replace("inet_listener imaps {\n    port = 0\n  }", imaps)


@pytest.fixture(scope="module")
def tls_dovecot(dovecot: DovecotServer) -> Iterator[TlsDovecot]:
    """A Dovecot speaking TLS with a self-signed certificate for 127.0.0.1 (made with openssl)."""
    if dovecot.version >= (2, 4):
        cannot_run("the TLS settings here are Dovecot 2.3's")
    openssl = shutil.which("openssl")
    if openssl is None:
        cannot_run("openssl is not installed")
    root = Path(tempfile.mkdtemp(prefix="cadence-dovecot-tls-"))  # reachable by Dovecot's users (mode 0755)
    keys = Path(tempfile.mkdtemp(prefix="cadence-tls-keys-"))  # read by the master, as root
    cert, key = keys / "cert.pem", keys / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = TlsDovecot(root, cert, key)
    server.add_user("tls@cadence.example", "tls-secret")
    try:
        with server:
            server.append("tls@cadence.example", "INBOX", crlf(plain("a@acme.example", "over TLS", "hi")))
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(keys, ignore_errors=True)


def tls_config(server: TlsDovecot, **changes: Any) -> ImapConfig:
    config = ImapConfig(
        host=server.host, port=server.port, username="tls@cadence.example", password="tls-secret", tls="starttls",
        timeout=5.0, ssl_context=ssl.create_default_context(cafile=str(server.cert)),
    )  # fmt: skip
    return dataclasses.replace(config, **changes)


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_the_mailbox_is_read_over_tls_and_starttls(tls_dovecot: TlsDovecot, tls: str) -> None:
    port = tls_dovecot.tls_port if tls == "tls" else tls_dovecot.port
    _, fetched = asyncio.run(read_all(tls_config(tls_dovecot, tls=tls, port=port), "INBOX", 0))
    assert [b"Subject: over TLS" in raw for _, raw in fetched] == [True]


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_a_certificate_that_is_not_trusted_is_refused(tls_dovecot: TlsDovecot, tls: str) -> None:
    port = tls_dovecot.tls_port if tls == "tls" else tls_dovecot.port
    config = tls_config(tls_dovecot, tls=tls, port=port, ssl_context=None)  # the system's trusted CAs
    with pytest.raises(ImapUnreachable, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        asyncio.run(read_all(config, "INBOX", 0))
