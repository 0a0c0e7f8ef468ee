"""Spam complaints (ARF feedback reports) in the replies mailbox: real Dovecot, real SMTP sink, both databases.

A report suppresses the address and records the decision only when the original it attaches is an
email we sent (its Message-ID is one of our touches); a report about anything else changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, InboundMessage, Suppression
from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.inbound import classify
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.replies import sync_replies
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed
from tests.replies.test_sync_replies import MONDAY, SEND, SYNC, Mailbox, new_mailbox
from tests.support.dovecot import DovecotServer


@pytest.fixture
def sent(
    database_url: str, dovecot: DovecotServer, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Context, Mailbox, EmailMessage]]:
    """Two leads emailed for real; the replies mailbox; the email lead0 got."""
    box = new_mailbox(dovecot, monkeypatch)
    ctx = Context(Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC",
                           smtp_host=smtp_sink.host, smtp_port=smtp_sink.port))  # fmt: skip
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    asyncio.run(run_until_idle(ctx, now=SEND))
    (original,) = [m for m in smtp_sink.messages() if "lead0@acme.example" in str(m["To"])]
    yield ctx, box, original
    ctx.close()


def arf(original: EmailMessage | bytes, *, reporter: str = "fbl@feedback.mail-provider.example") -> bytes:
    """An abuse report as providers send them (RFC 5965): a text part, the feedback report, the original."""
    raw = original if isinstance(original, bytes) else original.as_bytes()
    return (
        (
            f"From: {reporter}\nTo: replies@cadence.example\nSubject: Abuse report\nDate: {format_datetime(SYNC)}\n"
            "Message-ID: <fbl-1@feedback.mail-provider.example>\nMIME-Version: 1.0\n"
            'Content-Type: multipart/report; report-type="feedback-report"; boundary="b1"\n\n'
            "--b1\nContent-Type: text/plain\n\n"
            "This is an email abuse report for an email message received from IP 192.0.2.1.\n\n"
            "--b1\nContent-Type: message/feedback-report\n\n"
            "Feedback-Type: abuse\nUser-Agent: ProviderFBL/1.0\nVersion: 1\nOriginal-Rcpt-To: lead0@acme.example\n\n"
            "--b1\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n"
        ).encode()
        + raw.replace(b"\r\n", b"\n")
        + b"\n--b1--\n"
    )


def test_a_spam_complaint_about_our_email_suppresses_the_address_and_records_the_decision(
    sent: tuple[Context, Mailbox, EmailMessage],
) -> None:
    ctx, box, original = sent
    box.put(arf(original))
    report = asyncio.run(sync_replies(ctx, now=SYNC))
    assert report.kinds == {"complaint": 1}
    assert dict(report.decisions) == {"unsubscribed": 1}
    with ctx.sessions() as s:
        assert s.scalars(select(Suppression.value)).all() == ["lead0@acme.example"]
        decision = s.scalars(select(Decision)).one()
        assert "marked our email as spam" in (decision.reason or "")
        assert "fbl@feedback.mail-provider.example" in (decision.reason or "")
        row = s.scalars(select(InboundMessage)).one()
        assert row.kind == "complaint"
        assert row.touch_id is not None
        states = {e.lead.email: e.state for e in s.scalars(select(Enrollment))}
        assert states == {"lead0@acme.example": "decided", "lead1@acme.example": "active"}


def test_a_complaint_about_a_message_we_did_not_send_changes_nothing(
    sent: tuple[Context, Mailbox, EmailMessage],
) -> None:
    ctx, box, original = sent
    forged = original.as_bytes().replace(str(original["Message-ID"]).encode(), b"<c.1.forged@mail.cadence.example>")
    box.put(arf(forged))
    report = asyncio.run(sync_replies(ctx, now=SYNC))
    assert report.kinds == {"complaint": 1}
    assert report.unmatched == 1
    with ctx.sessions() as s:
        assert s.scalars(select(Suppression)).all() == []
        assert s.scalars(select(Decision)).all() == []
        assert "no message of ours" in (s.scalars(select(InboundMessage.detail)).one() or "")


@pytest.mark.one_database
def test_a_feedback_report_is_read_as_a_complaint_with_the_originals_message_id() -> None:
    import email
    import email.policy
    from datetime import UTC, datetime

    original = (
        b"From: rita@cadence.example\nTo: lead0@acme.example\nSubject: Hi\nMessage-ID: <c.7.ab@cadence.example>\n\nHi\n"
    )
    message = email.message_from_bytes(arf(original), policy=email.policy.default)
    found = classify(message, now=datetime(2026, 12, 1, tzinfo=UTC), unsubscribe_addresses=set())
    assert found.kind == "complaint"
    assert found.references == ("<c.7.ab@cadence.example>",)
    assert found.bounced_recipients == ("lead0@acme.example",)
    not_abuse = arf(original).replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    message = email.message_from_bytes(not_abuse, policy=email.policy.default)
    assert classify(message, now=datetime(2026, 12, 1, tzinfo=UTC), unsubscribe_addresses=set()).kind == "ignored"
