"""Finding 2 of issue #28: inbound mail is evidence, not authority.

Each forged case of the issue, written into a real replies mailbox (Dovecot) after real emails went
out (aiosmtpd), on SQLite and PostgreSQL: a forged bounce, a plain-text "550" from any postmaster,
an unsubscribe from a stranger carrying a lead's Message-ID, a spoofed out-of-office "back next
year", a spoofed reply that our receiving server did not authenticate. None is acted on; each is kept
for review (``cadence inbound review``, the dashboard's count).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, InboundMessage, Suppression
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.inbound_review import for_review, review_count
from flows.advance import advance_cadences, flow_context
from flows.replies import sync_replies_flow
from tests.flows.conftest import lead_row, seed
from tests.replies.test_sync_replies import (
    MONDAY,
    SEND,
    SYNC,
    Mailbox,
    count,
    enrollment_of,
    flow_env,
    mailbox,
    out_of_office,
    plain,
    postfix_bounce,
    reply,
    sent_to,
)

__all__ = ["flow_env", "mailbox"]  # the fixtures this module uses, shared with the reply tests

OUR_SERVER = "mx.cadence.example"


def authenticated(raw: bytes, result: str, server: str = OUR_SERVER) -> bytes:
    """``raw`` with an Authentication-Results header on top, as a receiving server adds it."""
    return f"Authentication-Results: {server};\n {result}\n".encode() + raw


def sent_emails(flow_env: SmtpSink, leads: int) -> dict[int, EmailMessage]:
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(leads)], now=MONDAY, cadence="nurture")
    assert asyncio.run(advance_cadences(now=SEND))["emails_sent"] == leads
    return {i: sent_to(flow_env, f"lead{i}@acme.example") for i in range(leads)}


def test_forged_bounces_and_unsubscribes_are_kept_for_review_and_suppress_nobody(
    flow_env: SmtpSink, mailbox: Mailbox
) -> None:
    ctx = flow_context()
    sent = sent_emails(flow_env, 2)
    seed_never_emailed = lead_row(9, email="never@acme.example")
    with ctx.sessions() as s, s.begin():
        from cadence.services.leads import import_leads

        import_leads(s, [seed_never_emailed], now=SYNC, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences)
    # A forged DSN naming a lead that was never emailed, and one naming an address that is no lead.
    mailbox.put(postfix_bounce(sent[0], "never@acme.example").replace(str(sent[0]["Message-ID"]).encode(), b"<x@y>"))
    mailbox.put(postfix_bounce(sent[0], "nobody@elsewhere.example"))
    # A plain-text "550" from any postmaster.
    mailbox.put(plain("postmaster@mx.spam.example", "Undelivered Mail Returned to Sender",
                      "<lead1@acme.example>: host said: 550 5.1.1 User unknown", Return_Path="<>"))  # fmt: skip
    # "unsubscribe" from a stranger, carrying lead 1's Message-ID.
    mailbox.put(plain("sam@elsewhere.example", "unsubscribe", "stop", In_Reply_To=str(sent[1]["Message-ID"])))
    # "unsubscribe" from an address nobody ever emailed.
    mailbox.put(plain("someone@elsewhere.example", "unsubscribe", "stop"))

    result = asyncio.run(sync_replies_flow(now=SYNC))

    assert result["kinds"] == {"review": 5}
    assert (result["suppressed"], result["decisions"], result["errors"]) == (0, {}, [])
    assert count(ctx, Suppression) == 0
    assert count(ctx, Decision) == 0
    for email in ("lead0@acme.example", "lead1@acme.example", "never@acme.example"):
        assert enrollment_of(ctx, email).state == "active"
    with ctx.sessions() as s:
        kept = for_review(s)
        assert review_count(s) == 5
    assert all(item["why"].startswith("for review, not acted on: ") for item in kept)
    whys = " | ".join(item["why"] for item in kept)
    assert "returns no message of ours" in whys
    assert "naming other addresses (nobody@elsewhere.example)" in whys
    assert "from another address (sam@elsewhere.example)" in whys
    assert "someone@elsewhere.example, which is no lead's address" in whys


def test_a_genuine_bounce_of_our_message_still_bounces_that_lead_only(flow_env: SmtpSink, mailbox: Mailbox) -> None:
    ctx = flow_context()
    sent = sent_emails(flow_env, 2)
    mailbox.put(postfix_bounce(sent[0], "lead0@acme.example"))
    result = asyncio.run(sync_replies_flow(now=SYNC))
    assert (result["kinds"], result["decisions"]) == ({"bounce": 1}, {"bounced": 1})
    with ctx.sessions() as s:
        assert list(s.scalars(select(Suppression.value))) == ["lead0@acme.example"]
    assert enrollment_of(ctx, "lead1@acme.example").state == "active"


def test_a_spoofed_out_of_office_pauses_a_lead_thirty_days_at_most(flow_env: SmtpSink, mailbox: Mailbox) -> None:
    ctx = flow_context()
    sent = sent_emails(flow_env, 1)
    mailbox.put(out_of_office(sent[0], "I am out of the office until Monday, November 29, 2027."))
    result = asyncio.run(sync_replies_flow(now=SYNC))
    assert result["paused"] == 1
    assert enrollment_of(ctx, "lead0@acme.example").paused_until == SYNC + timedelta(days=30)


def test_a_reply_our_server_did_not_authenticate_is_kept_for_review_and_the_cadence_goes_on(
    flow_env: SmtpSink, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_TRUSTED_AUTHSERV_ID", OUR_SERVER)
    ctx = flow_context()
    sent = sent_emails(flow_env, 3)
    _, spoofed = reply(sent[0], "Not interested, remove me.")
    mailbox.put(
        authenticated(spoofed, "spf=fail smtp.mailfrom=acme.example; dkim=none; dmarc=fail header.from=acme.example")
    )
    # The attacker's own "pass" under another server's name counts for nothing.
    _, forged = reply(sent[1], "Not interested.")
    forged = authenticated(
        authenticated(forged, "dmarc=fail header.from=acme.example"), "dmarc=pass", "mx.evil.example"
    )
    mailbox.put(forged)
    _, genuine = reply(sent[2], "Yes, let's talk on Tuesday.")
    mailbox.put(authenticated(genuine, "spf=pass smtp.mailfrom=acme.example; dkim=pass header.d=acme.example"))

    result = asyncio.run(sync_replies_flow(now=SYNC))

    assert result["kinds"] == {"review": 2, "reply": 1}
    assert (result["suppressed"], result["decisions"]) == (0, {})
    assert enrollment_of(ctx, "lead0@acme.example").state == "active"
    assert enrollment_of(ctx, "lead1@acme.example").state == "active"
    assert enrollment_of(ctx, "lead2@acme.example").state == "responded"
    with ctx.sessions() as s:
        whys = [row.detail or "" for row in s.scalars(select(InboundMessage).where(InboundMessage.kind == "review"))]
    assert all(f"our server ({OUR_SERVER}) did not authenticate the sender" in why for why in whys)


def test_a_reply_in_a_leads_thread_from_another_address_does_not_stop_the_cadence(
    flow_env: SmtpSink, mailbox: Mailbox
) -> None:
    ctx = flow_context()
    sent = sent_emails(flow_env, 1)
    _, raw = reply(sent[0], "Not interested.", sender="Mallory <mallory@elsewhere.example>")
    mailbox.put(raw)
    result = asyncio.run(sync_replies_flow(now=SYNC))
    assert result["kinds"] == {"review": 1}
    assert enrollment_of(ctx, "lead0@acme.example").state == "active"
    assert count(ctx, Suppression) == 0


def test_a_bounce_without_our_headers_is_matched_by_its_signed_verp_address_and_a_forged_one_is_not(
    flow_env: SmtpSink, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_BOUNCE_DOMAIN", "bounces.cadence.example")
    ctx = flow_context()
    sent_emails(flow_env, 2)
    verp = {e.rcpt_tos[0]: e.mail_from for e in flow_env.envelopes}
    assert all(v.startswith("bounce+") and v.endswith("@bounces.cadence.example") for v in verp.values())
    daemon, bounce, unknown = (
        "MAILER-DAEMON@mx.acme.example",
        "Undelivered Mail Returned to Sender",
        "550 5.1.1 unknown",
    )
    mailbox.put(plain(daemon, bounce, f"<lead0@acme.example>: {unknown}", Delivered_To=verp["lead0@acme.example"]))
    forged = verp["lead1@acme.example"].replace("bounce+", "bounce+9").replace("-", "-0", 1)  # another touch, guessed
    mailbox.put(plain(daemon, bounce, f"<lead1@acme.example>: {unknown}", Delivered_To=forged))

    result = asyncio.run(sync_replies_flow(now=SYNC))

    assert result["kinds"] == {"bounce": 1, "review": 1}
    assert result["decisions"] == {"bounced": 1}
    with ctx.sessions() as s:
        assert list(s.scalars(select(Suppression.value))) == ["lead0@acme.example"]
    assert enrollment_of(ctx, "lead1@acme.example").state == "active"
