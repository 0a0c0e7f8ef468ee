"""Finding 8 of #28: human replies read as automatic replies, ignored as bulk mail, or taken for bounces."""

from __future__ import annotations

import pytest

from tests.core.test_inbound import OURS, read

REPLY_HEADERS = f"From: Lead <lead@acme.example>\nTo: rita@cadence.example\nIn-Reply-To: {OURS}\nReferences: {OURS}\n"


@pytest.mark.parametrize(
    "subject",
    [
        "Absence of a budget is our real problem",
        "On vacation next week, but let's meet",
        "Out of office tomorrow: can we meet Friday instead?",
        "Automatic replies are not what we need",
        "I'm out of budget until Q2, sorry",
        "Away from the office often, so call my mobile",
        "On vacation until Monday, but let's meet after",
    ],
)
def test_a_person_whose_subject_starts_like_an_out_of_office_label_is_replying(subject: str) -> None:
    inbound = read(f"{REPLY_HEADERS}Subject: {subject}\n\nSounds good, Thursday works for us.\n")
    assert (inbound.kind, inbound.reason) == ("reply", "a message from a person")


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: A quick question",
        "Out of office",
        "Out of Office AutoReply: A quick question",
        "Automatic reply: A quick question",
        "[Auto-Reply] A quick question",
        "(Automatic reply) A quick question",
        "Absence: A quick question",
        "Abwesenheitsnotiz",
        "OOO - A quick question",
        "Réponse automatique : A quick question",
        "Out of office until 5 December",
    ],
)
def test_an_out_of_office_label_in_the_subject_still_marks_an_automatic_reply(subject: str) -> None:
    inbound = read(f"{REPLY_HEADERS}Subject: {subject}\n\nI am out of the office until December 5.\n")
    assert (inbound.kind, inbound.reason) == ("auto_reply", "out-of-office subject")


@pytest.mark.parametrize("extra", ["Precedence: bulk\n", "Precedence: list\n", "List-Id: <sales.acme.example>\n"])
def test_a_reply_carrying_bulk_or_list_headers_is_still_a_reply(extra: str) -> None:
    inbound = read(f"{REPLY_HEADERS}{extra}Subject: Re: A quick question\n\nYes, send me the pricing.\n")
    assert inbound.kind == "reply"
    assert inbound.references == (OURS,)


@pytest.mark.parametrize(
    "body",
    [
        "Thanks, I will reply with the figures tomorrow.",
        "We will respond to the RFP next week; can you call?",
        "We will return the signed contract on Friday.",
        "I will be back in touch after our board meeting.",
    ],
)
def test_a_bulk_marked_reply_that_promises_an_answer_is_not_an_out_of_office(body: str) -> None:
    inbound = read(f"{REPLY_HEADERS}Precedence: bulk\nSubject: Re: A quick question\n\n{body}\n")
    assert inbound.kind == "reply"


@pytest.mark.parametrize("body", ["I am out of the office until December 5.", "I will be back on Monday 7 December."])
def test_a_bulk_marked_out_of_office_note_is_still_an_automatic_reply(body: str) -> None:
    inbound = read(f"{REPLY_HEADERS}Precedence: bulk\nSubject: Re: A quick question\n\n{body}\n")
    assert inbound.kind == "auto_reply"


@pytest.mark.parametrize("extra", ["Precedence: bulk\n", "List-Id: <news.acme.example>\n"])
def test_bulk_and_list_mail_that_answers_nothing_is_still_ignored(extra: str) -> None:
    inbound = read(f"From: news@acme.example\n{extra}Subject: Our December newsletter\n\nNews!\n")
    assert inbound.kind == "ignored"


FORWARDED = """\
From: Lead <lead@acme.example>
To: rita@cadence.example
Subject: Delivery notification
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

Our courier's delivery notification is attached; can you confirm the address?

--b
Content-Type: message/rfc822

From: courier@ship.example
Subject: Your parcel
Message-ID: <parcel-1@ship.example>

It arrives on Tuesday.
--b--
"""


def test_a_leads_own_message_titled_delivery_notification_with_an_attachment_is_a_reply() -> None:
    inbound = read(FORWARDED)
    assert inbound.kind == "reply"
    assert inbound.bounced_recipients == ()


def test_the_same_report_from_a_mail_system_is_still_a_bounce() -> None:
    inbound = read(
        FORWARDED.replace("Lead <lead@acme.example>", "Mail Delivery System <mailer-daemon@mx.acme.example>")
    )
    assert inbound.kind == "bounce"


def test_the_same_report_sent_with_a_null_return_path_is_still_a_bounce() -> None:
    inbound = read(
        "Return-Path: <>\n" + FORWARDED.replace("Lead <lead@acme.example>", "Mail System <mail@acme.example>")
    )
    assert inbound.kind == "bounce"
