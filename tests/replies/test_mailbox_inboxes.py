"""Replies read from each sending mailbox's own inbox, next to (or instead of) the shared replies mailbox.

Real Dovecot (each inbox a user of its own), real SMTP (aiosmtpd), both databases, the IMAP
passwords in Prefect Secret blocks as the SMTP passwords are.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from prefect.blocks.system import Secret
from sqlalchemy import select

from cadence.adapters.imap import ImapError
from cadence.adapters.models import InboundMessage, MailboxState, SendingMailbox
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.mailboxes import ImapOptions, add_mailbox
from flows.advance import advance_cadences, flow_context
from flows.replies import sync_replies_flow
from tests.flows.conftest import lead_row, seed
from tests.replies.test_sync_replies import (
    MONDAY,
    SEND,
    SYNC,
    Mailbox,
    enrollment_of,
    flow_env,
    latest_table,
    new_mailbox,
    reply,
    sent_to,
)
from tests.support.dovecot import DovecotServer

__all__ = ["flow_env"]  # the flow tests' environment, shared (a conftest's fixtures stay in its folder)

OWN = "rita@outreach.cadence.example"


def own_inbox(flow_env: SmtpSink, dovecot: DovecotServer, *, password_in_block: str | None = None) -> Mailbox:
    """Rita's own sending mailbox: SMTP through the sink, its inbox a Dovecot user of its own whose password
    is in a Prefect Secret block (``password_in_block``: a wrong one there instead)."""
    user = f"rita-{secrets.token_hex(4)}@outreach.cadence.example"
    password = f"pw-{secrets.token_hex(6)}"
    dovecot.add_user(user, password)
    block = f"rita-imap-{secrets.token_hex(4)}"
    Secret(value=password_in_block or password).save(block, overwrite=True)
    ctx = flow_context()
    with ctx.sessions() as s, s.begin():
        add_mailbox(s, OWN, rep_email="rita@cadence.example", smtp_host=flow_env.host, smtp_port=flow_env.port,
                    smtp_tls="none", now=MONDAY, daily_cap=50, actor="max@cadence.example",
                    imap=ImapOptions(host=dovecot.host, port=dovecot.port, tls="none", username=user,
                                     password_block=block))  # fmt: skip
    return Mailbox(dovecot, user, password)


def seed_leads(n: int) -> None:
    seed(flow_context(), [lead_row(i) for i in range(n)], now=MONDAY, cadence="nurture")


def send_first_emails(sink: SmtpSink, n: int) -> None:
    """Run the engine every 15 minutes from Tuesday's window until the ``n`` first emails are out (the
    mailbox paces them: one every few minutes, not all at once)."""
    for step in range(24):
        if sink.count() >= n:
            return
        asyncio.run(advance_cadences(now=SEND + timedelta(minutes=15 * step)))
    assert sink.count() == n


def test_a_reply_in_a_reps_own_mailbox_stops_that_lead_and_nothing_else(
    flow_env: SmtpSink, dovecot: DovecotServer
) -> None:
    seed_leads(3)
    box = own_inbox(flow_env, dovecot)
    send_first_emails(flow_env, 3)
    sent = {i: sent_to(flow_env, f"lead{i}@acme.example") for i in range(3)}
    assert {m["From"] for m in sent.values()} == {f"Rita Alvarez <{OWN}>"}
    box.put(reply(sent[0], "Yes, let's talk on Tuesday.")[1])
    # Evidence rules hold whatever the inbox: a reply in lead1's thread from someone else is only kept for review.
    box.put(reply(sent[1], "Please stop.", sender="someone@elsewhere.example")[1])

    result = asyncio.run(sync_replies_flow(now=SYNC))

    [own] = result["mailboxes"]
    assert own["mailbox"] == f"the mailbox {OWN}"
    assert (own["kinds"], result["replies"], result["failed"]) == ({"reply": 1, "review": 1}, 1, [])
    assert [enrollment_of(flow_context(), f"lead{i}@acme.example").state for i in range(3)] == [
        "responded", "active", "active",
    ]  # fmt: skip
    with flow_context().sessions() as s:
        assert set(s.scalars(select(InboundMessage.account))) == {OWN}
        assert [(m.account, m.folder, m.last_uid) for m in s.scalars(select(MailboxState))] == [(OWN, "INBOX", 2)]
    again = asyncio.run(sync_replies_flow(now=SYNC))
    assert (again["fetched"], again["processed"]) == (0, 0)


def test_a_reps_own_inbox_is_read_from_the_day_the_mailbox_was_added_not_its_years_of_mail(
    flow_env: SmtpSink, dovecot: DovecotServer
) -> None:
    seed_leads(3)
    box = own_inbox(flow_env, dovecot)  # added on Monday 30 November
    send_first_emails(flow_env, 3)
    sent = {i: sent_to(flow_env, f"lead{i}@acme.example") for i in range(3)}
    long_ago = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)  # lead2 wrote to Rita in October, before any cadence
    box.put(reply(sent[2], "About last year's order.", threaded=False, at=long_ago)[1], received=long_ago)
    box.put(reply(sent[0], "Yes, let's talk on Tuesday.")[1])

    result = asyncio.run(sync_replies_flow(now=SYNC))

    assert (result["fetched"], result["replies"]) == (1, 1)
    assert [enrollment_of(flow_context(), f"lead{i}@acme.example").state for i in range(3)] == [
        "responded", "active", "active",
    ]  # fmt: skip


def test_the_shared_mailbox_and_a_reps_own_are_read_in_one_run_each_with_its_own_watermark(
    flow_env: SmtpSink, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = new_mailbox(dovecot, monkeypatch)
    seed_leads(3)
    box = own_inbox(flow_env, dovecot)
    send_first_emails(flow_env, 3)
    sent = {i: sent_to(flow_env, f"lead{i}@acme.example") for i in range(3)}
    shared.put(reply(sent[0], "Call me on Monday.")[1])
    box.put(reply(sent[1], "Send me the deck, please.")[1])
    _, copy = reply(sent[2], "Happy to talk.")
    shared.put(copy)  # the same reply reached both inboxes (Cc): acted on once
    box.put(copy)

    result = asyncio.run(sync_replies_flow(now=SYNC))

    assert [r["mailbox"] for r in result["mailboxes"]] == [
        f"the shared replies mailbox ({shared.user})", f"the mailbox {OWN}",
    ]  # fmt: skip
    assert (result["fetched"], result["replies"], result["kinds"]) == (4, 3, {"duplicate": 1, "reply": 3})
    assert {enrollment_of(flow_context(), f"lead{i}@acme.example").state for i in range(3)} == {"responded"}
    with flow_context().sessions() as s:
        states = {(m.account, m.folder): m.last_uid for m in s.scalars(select(MailboxState))}
    assert states == {("", "INBOX"): 2, (OWN, "INBOX"): 2}

    later = reply(sent[0], "And bring a colleague.")[1]
    box.put(later)  # a new message in one inbox only: read, the others' old ones are not read again
    again = asyncio.run(sync_replies_flow(now=SYNC))
    assert [(r["fetched"], r["last_uid"]) for r in again["mailboxes"]] == [(0, 2), (1, 3)]


def test_a_mailbox_that_refuses_its_login_is_reported_while_the_others_are_read_and_read_once_fixed(
    flow_env: SmtpSink, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = new_mailbox(dovecot, monkeypatch)
    seed_leads(2)
    box = own_inbox(flow_env, dovecot, password_in_block="not-the-password")
    send_first_emails(flow_env, 2)
    sent = {i: sent_to(flow_env, f"lead{i}@acme.example") for i in range(2)}
    shared.put(reply(sent[0], "Yes, a call works.")[1])
    box.put(reply(sent[1], "Tuesday is good.")[1])

    with pytest.raises(
        ImapError,
        match=rf"1 of 2 replies mailbox\(es\) could not be read \(the others were\): "
        rf"the mailbox {OWN}: the IMAP server refused the login of {box.user}.*"
        r"check the mailbox's --imap-user and the mailbox's --imap-password-block",
    ):
        asyncio.run(sync_replies_flow(now=SYNC))  # fmt: skip

    assert enrollment_of(flow_context(), "lead0@acme.example").state == "responded"
    assert enrollment_of(flow_context(), "lead1@acme.example").state == "active"
    table = asyncio.run(latest_table("sync-replies-report"))
    [not_read] = [r for r in table if r["what"] == "NOT READ (read again next run)"]
    assert not_read["mailbox"] == f"the mailbox {OWN}"
    assert "refused the login" in str(not_read["detail"])

    with flow_context().sessions() as s:
        # Only the shared mailbox was read: the other's watermark was never set, so nothing of it is skipped.
        assert s.scalars(select(InboundMessage.account)).all() == [""]
        assert s.scalars(select(MailboxState.account)).all() == [""]
        block = s.scalars(select(SendingMailbox.imap_password_block)).one()
    assert block is not None
    Secret(value=box.password).save(block, overwrite=True)  # the password is fixed

    fixed = asyncio.run(sync_replies_flow(now=SYNC))
    assert (fixed["failed"], [r["fetched"] for r in fixed["mailboxes"]]) == ([], [0, 1])
    assert enrollment_of(flow_context(), "lead1@acme.example").state == "responded"
