"""What a message in the replies mailbox is: real-world replies, out-of-office notes, bounces and unsubscribes."""

from __future__ import annotations

import email
import email.policy
import time
from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadence.core.inbound import KINDS, NOTE_LIMIT, Inbound, classify, own_text, return_date

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # a Monday
OURS = "<c.12.ab34cd56ef78@mail.cadence.example>"
UNSUBSCRIBE = frozenset({"unsubscribe@cadence.example"})


def parse(raw: str | bytes) -> EmailMessage:
    data = raw.encode() if isinstance(raw, str) else raw
    message = email.message_from_bytes(
        data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return message


def read(raw: str | bytes, *, now: datetime = NOW, unsubscribe: frozenset[str] = UNSUBSCRIBE) -> Inbound:
    return classify(parse(raw), now=now, unsubscribe_addresses=set(unsubscribe))


# -- real-world samples (addresses and hosts changed to .example) ---------------------------------

GMAIL_REPLY = f"""\
MIME-Version: 1.0
Date: Tue, 1 Dec 2026 10:12:44 -0500
References: {OURS}
In-Reply-To: {OURS}
Message-ID: <CAF3x9q=reply-1@mail.acme.example>
Subject: Re: A quick question about Acme's roadmap
From: Lead Zero <Lead0@Acme.example>
To: Rita Alvarez <rita@cadence.example>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Hi Rita,

Yes, a short call makes sense. Tuesday at 10 works for me =E2=80=94 can you=
 send an invite?

Thanks,
Lead

On Tue, Dec 1, 2026 at 8:00 AM Rita Alvarez <rita@cadence.example>
wrote:

> Hi Lead,
>
> Would a 15-minute call next week be useful?
>

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">Hi Rita,<br><br>Yes, a short call makes sense.</div>

--000000000000a1b2c3--
"""

OUTLOOK_REPLY_STRIPPED = """\
From: Lead One <lead1@acme.example>
To: "rita@cadence.example" <rita@cadence.example>
Subject: RE: A quick question
Date: Tue, 1 Dec 2026 16:02:11 +0000
Message-ID: <DM6PR01MB-stripped@acme.example>
Content-Type: text/html; charset="us-ascii"
MIME-Version: 1.0

<html><head><style>p {margin:0}</style></head><body>
<p>Not now, please check back in Q2.</p>
<p>Regards,<br>Lead One</p>
<div style="border-top:solid #E1E1E1 1.0pt">
<p><b>From:</b> Rita Alvarez &lt;rita@cadence.example&gt;<br><b>Sent:</b> Tuesday, December 1, 2026 8:00 AM</p>
<p>Hi Lead, would a 15-minute call next week be useful?</p>
</div></body></html>
"""

EXCHANGE_OUT_OF_OFFICE = f"""\
From: Lead Two <lead2@acme.example>
To: Rita Alvarez <rita@cadence.example>
Subject: Automatic reply: A quick question about Acme's roadmap
Thread-Topic: A quick question about Acme's roadmap
Date: Tue, 1 Dec 2026 13:00:05 +0000
Message-ID: <ooo-exchange-1@acme.example>
In-Reply-To: {OURS}
References: {OURS}
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: lead2@acme.example
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Thank you for your message. I am out of the office until Monday, December 1=
4, with limited access to email. For urgent matters please contact
sales-desk@acme.example.

Kind regards,
Lead Two
"""

GMAIL_VACATION = f"""\
From: Lead Three <lead3@acme.example>
To: rita@cadence.example
Subject: Away
In-Reply-To: {OURS}
Message-ID: <vacation-3@acme.example>
Auto-Submitted: auto-replied
Precedence: bulk
X-Autoreply: yes
Content-Type: text/plain; charset=UTF-8

I'm travelling with limited access to email and will reply when I can.
"""

POSTFIX_BOUNCE = f"""\
Return-Path: <>
Date: Tue,  1 Dec 2026 15:00:02 +0000 (UTC)
From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: replies@cadence.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4F3A21C0.1764601202/mx.acme.example"
Message-Id: <20261201150002.4F3A21C0@mx.acme.example>

This is a MIME-encapsulated message.

--4F3A21C0.1764601202/mx.acme.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.acme.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<lead4@acme.example>: host mx.acme.example[192.0.2.10] said: 550 5.1.1
    <lead4@acme.example>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--4F3A21C0.1764601202/mx.acme.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.example
X-Postfix-Queue-ID: 4F3A21C0
X-Postfix-Sender: rfc822; replies@cadence.example
Arrival-Date: Tue,  1 Dec 2026 15:00:01 +0000 (UTC)

Final-Recipient: rfc822; Lead4@acme.example
Original-Recipient: rfc822;lead4@acme.example
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.acme.example
Diagnostic-Code: smtp; 550 5.1.1 <lead4@acme.example>: Recipient address
    rejected: User unknown in virtual mailbox table

--4F3A21C0.1764601202/mx.acme.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <replies@cadence.example>
From: Rita Alvarez <rita@cadence.example>
To: Lead Four <lead4@acme.example>
Subject: A quick question about Acme's roadmap
Message-ID:
 {OURS}
Date: Tue, 01 Dec 2026 15:00:00 +0000

--4F3A21C0.1764601202/mx.acme.example--
"""

POSTFIX_DELAY = (
    POSTFIX_BOUNCE.replace("Undelivered Mail Returned to Sender", "Delayed Mail (still being retried)")
    .replace("Action: failed", "Action: delayed")
    .replace("Status: 5.1.1", "Status: 4.4.1")
)

GMAIL_BOUNCE_WITH_MESSAGE = f"""\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>
To: rita@cadence.example
Subject: Delivery Status Notification (Failure)
Message-ID: <gmail-dsn-1@mx.google.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; boundary="b1"; report-type=delivery-status

--b1
Content-Type: text/plain; charset="UTF-8"

Address not found
Your message wasn't delivered to gone@acme.example because the address couldn't be found.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.example

Final-Recipient: rfc822; gone@acme.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.

--b1
Content-Type: message/rfc822

From: Rita Alvarez <rita@cadence.example>
To: gone@acme.example
Subject: Hello
Message-ID: {OURS}

Hi!

--b1--
"""

EXIM_BOUNCE = f"""\
From: Mail Delivery System <Mailer-Daemon@mail.acme.example>
To: replies@cadence.example
Subject: Mail delivery failed: returning message to sender
Auto-Submitted: auto-replied
Message-Id: <E1kXYZ-0001Ab-Cd@mail.acme.example>

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  lead7@acme.example
    host mx.acme.example [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<lead7@acme.example>:
    550 5.1.1 User unknown

------ This is a copy of the message, including all the headers. ------

Return-path: <replies@cadence.example>
From: Rita Alvarez <rita@cadence.example>
To: lead7@acme.example
Subject: A quick question
Message-ID: {OURS}

Hi Lead, would a call help?
"""

QMAIL_BOUNCE = f"""\
From: MAILER-DAEMON@mx.acme.example
To: replies@cadence.example
Subject: failure notice

Hi. This is the qmail-send program at mx.acme.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<lead8@acme.example>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 User unknown
Giving up on 192.0.2.1.

--- Below this line is a copy of the message.

Message-ID: {OURS}
Subject: A quick question
"""

LIST_UNSUBSCRIBE_MAILTO = """\
From: lead5@acme.example
To: replies@cadence.example
Subject: unsubscribe
Message-ID: <unsub-5@acme.example>
Content-Type: text/plain

This message was automatically generated by Mail to unsubscribe you from this mailing list.
"""


class TestReplies:
    def test_a_threaded_reply_keeps_its_references_and_only_its_own_words(self) -> None:
        inbound = read(GMAIL_REPLY)
        assert inbound.kind == "reply"
        assert inbound.sender == "lead0@acme.example"
        assert inbound.references == (OURS,)
        assert inbound.message_id == "<CAF3x9q=reply-1@mail.acme.example>"
        assert inbound.note is not None
        assert inbound.note.startswith(
            "Hi Rita,\n\nYes, a short call makes sense. Tuesday at 10 works for me — can you"
        )
        assert "15-minute" not in inbound.note
        assert "wrote" not in inbound.note

    def test_an_html_only_reply_without_threading_headers_is_still_a_reply_from_its_sender(self) -> None:
        inbound = read(OUTLOOK_REPLY_STRIPPED)
        assert inbound.kind == "reply"
        assert inbound.references == ()
        assert inbound.sender == "lead1@acme.example"
        assert inbound.note == "Not now, please check back in Q2.\n\nRegards,\nLead One"

    def test_a_long_reply_is_cut_to_a_short_note(self) -> None:
        inbound = read(f"From: a@acme.example\nSubject: Re: hi\n\n{'word ' * 400}\n")
        assert inbound.note is not None
        assert len(inbound.note) <= NOTE_LIMIT
        assert inbound.note.endswith("…")

    def test_a_reply_with_encoded_headers_is_decoded(self) -> None:
        inbound = read(
            "From: =?utf-8?q?Ren=C3=A9e?= <renee@acme.example>\n"
            "Subject: =?utf-8?b?UmU6IEdyw7zDn2U=?=\n"
            "Content-Type: text/plain; charset=utf-8\n\nMerci!\n"
        )
        assert (inbound.kind, inbound.sender, inbound.subject) == ("reply", "renee@acme.example", "Re: Grüße")

    @pytest.mark.parametrize(
        ("extra", "reason"),
        [
            ("List-Id: <news.acme.example>\n", "mailing-list mail (List-Id)"),
            ("Precedence: bulk\n", "bulk mail"),
        ],
    )
    def test_mailing_list_and_bulk_mail_is_ignored(self, extra: str, reason: str) -> None:
        inbound = read(f"From: news@acme.example\n{extra}Subject: Our December newsletter\n\nNews!\n")
        assert (inbound.kind, inbound.reason) == ("ignored", reason)

    def test_a_message_without_a_sender_is_ignored(self) -> None:
        assert read("Subject: Re: hello\n\nHi\n").kind == "ignored"


class TestAutomaticReplies:
    def test_an_exchange_out_of_office_is_an_automatic_reply_with_its_return_date(self) -> None:
        inbound = read(EXCHANGE_OUT_OF_OFFICE)
        assert inbound.kind == "auto_reply"
        assert inbound.reason == "Auto-Submitted: auto-generated"
        assert inbound.return_date == date(2026, 12, 14)
        assert inbound.references == (OURS,)
        assert inbound.sender == "lead2@acme.example"

    def test_a_vacation_responder_without_a_date_has_no_return_date(self) -> None:
        inbound = read(GMAIL_VACATION)
        assert inbound.kind == "auto_reply"
        assert inbound.return_date is None
        assert inbound.note == "I'm travelling with limited access to email and will reply when I can."

    @pytest.mark.parametrize(
        "headers",
        [
            "Auto-Submitted: auto-replied; owner-email=lead@acme.example\n",
            "X-Autoreply: yes\n",
            "X-Autorespond: Out of office\n",
            "Precedence: auto_reply\n",
            "Precedence: junk\nSubject: Thanks\n",
            "Subject: Out of Office: A quick question\n",
            "Subject: Automatic reply: A quick question\n",
            "Subject: Auto: A quick question\n",
            "Subject: Abwesenheitsnotiz: A quick question\n",
            "Subject: Réponse automatique : A quick question\n",
        ],
    )
    def test_each_common_automatic_reply_mark_is_recognized(self, headers: str) -> None:
        subject = "" if "Subject:" in headers else "Subject: Re: A quick question\n"
        raw = f"From: lead@acme.example\n{headers}{subject}\nI am out of the office until December 5.\n"
        inbound = read(raw)
        assert inbound.kind == "auto_reply"
        assert inbound.return_date == date(2026, 12, 5)

    def test_auto_submitted_no_is_a_person_writing(self) -> None:
        raw = "From: lead@acme.example\nAuto-Submitted: no\nSubject: Re: hi\n\nI am out of the office until Dec 5.\n"
        assert read(raw).kind == "reply"

    def test_a_person_mentioning_their_holiday_is_not_an_automatic_reply(self) -> None:
        raw = "From: lead@acme.example\nSubject: Re: hi\n\nI'm on holiday until December 5, let's talk after.\n"
        assert read(raw).kind == "reply"


class TestReturnDates:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("I am out of the office until December 5.", date(2026, 12, 5)),
            ("I'll be back on Monday 7 December.", date(2026, 12, 7)),
            ("Out until 12/05/2026.", date(2026, 12, 5)),
            ("Away until 2026-12-05.", date(2026, 12, 5)),
            ("Returning 5 Dec.", date(2026, 12, 5)),
            ("I will be back in the office on the 7th of December", date(2026, 12, 7)),
            ("Back in the office on Wednesday, December 9, 2026.", date(2026, 12, 9)),
            ("I will return to the office on Jan 4th.", date(2027, 1, 4)),
            ("On leave until 15.01.2027.", date(2027, 1, 15)),
            ("Until 25/12 I have no access to email.", date(2026, 12, 25)),
            ("I am back on Monday.", date(2026, 12, 7)),
            ("Back tomorrow.", date(2026, 12, 1)),
            ("Out through Friday, Dec 4.", date(2026, 12, 5)),
            ("Out of office from December 1 to December 9.", date(2026, 12, 10)),
            ("Out until Friday, Dec 4, returning Monday, Dec 7.", date(2026, 12, 7)),
        ],
    )
    def test_common_english_wording_names_the_return_date(self, text: str, expected: date) -> None:
        assert return_date(text, now=NOW) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "I have limited access to email.",
            "I'm out until 10.30 today.",  # a time, not a date
            "Our office opened on December 1, 2020.",  # a date, but not a return
            "Back on 2029-01-01.",  # too far ahead to believe
        ],
    )
    def test_no_return_date_is_read_where_none_is_given(self, text: str) -> None:
        assert return_date(text, now=NOW) is None

    def test_a_date_early_next_year_rolls_over_the_new_year(self) -> None:
        assert return_date("until January 4", now=datetime(2026, 12, 20, tzinfo=UTC)) == date(2027, 1, 4)

    def test_a_date_just_past_stays_in_this_year(self) -> None:
        # Read late: "until December 5" means the one just past, not one almost a year ahead.
        assert return_date("until December 5", now=datetime(2026, 12, 20, tzinfo=UTC)) == date(2026, 12, 5)

    def test_a_weekday_picks_the_year_it_falls_in(self) -> None:
        # January 4 is a Monday in 2027, not in 2026.
        assert return_date("back on Monday, January 4", now=datetime(2026, 3, 1, tzinfo=UTC)) == date(2027, 1, 4)

    def test_an_ambiguous_numeric_date_is_read_as_the_nearest_one_ahead(self) -> None:
        assert return_date("until 05/12", now=NOW) == date(2026, 12, 5)  # 5 December, not 12 May
        assert return_date("until 12/05", now=NOW) == date(2026, 12, 5)


class TestBounces:
    def test_a_postfix_delivery_status_notification_is_a_permanent_bounce(self) -> None:
        inbound = read(POSTFIX_BOUNCE)
        assert inbound.kind == "bounce"
        assert inbound.bounce_permanent
        assert inbound.bounced_recipients == ("lead4@acme.example",)
        assert inbound.references[0] == OURS
        assert inbound.bounce_status is not None
        assert inbound.bounce_status.startswith("lead4@acme.example: 5.1.1 smtp; 550 5.1.1")
        assert "\n" not in inbound.bounce_status

    def test_a_delayed_delivery_notice_is_ignored(self) -> None:
        inbound = read(POSTFIX_DELAY)
        assert inbound.kind == "ignored"
        assert "delayed" in inbound.reason

    def test_the_returned_message_id_is_read_from_an_attached_message(self) -> None:
        inbound = read(GMAIL_BOUNCE_WITH_MESSAGE)
        assert (inbound.kind, inbound.bounced_recipients, inbound.references) == (
            "bounce",
            ("gone@acme.example",),
            (OURS,),
        )

    @pytest.mark.parametrize(
        ("raw", "recipient"), [(EXIM_BOUNCE, "lead7@acme.example"), (QMAIL_BOUNCE, "lead8@acme.example")]
    )
    def test_common_non_standard_bounces_are_recognized(self, raw: str, recipient: str) -> None:
        inbound = read(raw)
        assert inbound.kind == "bounce"
        assert inbound.bounce_permanent
        assert inbound.bounced_recipients == (recipient,)
        assert inbound.references == (OURS,)

    def test_a_bounce_is_not_mistaken_for_an_automatic_reply(self) -> None:
        assert "Auto-Submitted: auto-replied" in POSTFIX_BOUNCE
        assert read(POSTFIX_BOUNCE).kind == "bounce"


class TestUnsubscribes:
    def test_a_list_unsubscribe_mailto_message_is_an_unsubscribe(self) -> None:
        inbound = read(LIST_UNSUBSCRIBE_MAILTO, unsubscribe=frozenset())
        assert (inbound.kind, inbound.sender, inbound.reason) == (
            "unsubscribe",
            "lead5@acme.example",
            "subject 'unsubscribe'",
        )

    @pytest.mark.parametrize("subject", ["UNSUBSCRIBE", "  Unsubscribe  ", "unsubscribe!"])
    def test_the_subject_is_read_case_insensitively_and_trimmed(self, subject: str) -> None:
        assert read(f"From: a@acme.example\nSubject: {subject}\n\n").kind == "unsubscribe"

    def test_anything_sent_to_the_unsubscribe_address_is_an_unsubscribe(self) -> None:
        raw = (
            "From: a@acme.example\nTo: Unsubscribe <UNSUBSCRIBE@cadence.example>\nSubject: please remove me\n\nThanks\n"
        )
        assert read(raw).kind == "unsubscribe"

    def test_a_reply_that_mentions_unsubscribing_is_a_reply_for_a_person_to_read(self) -> None:
        raw = "From: a@acme.example\nSubject: Re: hi\n\nPlease unsubscribe me.\n"
        assert read(raw).kind == "reply"


class TestOwnText:
    @pytest.mark.parametrize(
        "quote_start",
        [
            "> quoted",
            "-----Original Message-----",
            "From: Rita <rita@cadence.example>",
            "On Tue, Dec 1, 2026 at 8:00 AM Rita <rita@cadence.example> wrote:",
            "Le mar. 1 déc. 2026 à 08:00, Rita a écrit :",
            "Am Di., 1. Dez. 2026 um 08:00 Uhr schrieb Rita <rita@cadence.example>:",
            "-- ",
            "Sent from my iPhone",
        ],
    )
    def test_quoted_text_and_signatures_are_left_out(self, quote_start: str) -> None:
        assert own_text(f"Sounds good.\n\n{quote_start}\nOlder text\n") == "Sounds good."


# -- hostile input --------------------------------------------------------------------------------

_HEADER_NAMES = [
    "From", "To", "Subject", "Message-ID", "In-Reply-To", "References", "Auto-Submitted", "X-Autoreply",
    "Precedence", "Content-Type", "Content-Transfer-Encoding", "List-Id", "Reply-To", "Date", "Content-Disposition",
]  # fmt: skip
_NASTY_VALUES = [
    "multipart/report; report-type=delivery-status; boundary=x",
    'multipart/mixed; boundary="',
    "message/rfc822",
    "text/plain; charset=x-unknown-9",
    "=?utf-8?q?=FF=FE?= <a@>",
    '"unterminated <@@@>',
    "<<<<>>>> <a@b> <",
    "base64",
    "quoted-printable",
    "auto-replied",
    "=?bogus?x?zz?=",
]
_header_lines = st.tuples(
    st.sampled_from(_HEADER_NAMES),
    st.one_of(st.sampled_from(_NASTY_VALUES), st.text(max_size=60)),
).map(lambda pair: f"{pair[0]}: {pair[1]}")


@st.composite
def hostile_messages(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(_header_lines, max_size=12))
    body = draw(
        st.one_of(
            st.binary(max_size=300),
            st.sampled_from(
                [
                    b"--x\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: ;\r\nAction: failed\r\n",
                    b"--x\r\nContent-Type: message/rfc822\r\n\r\n\r\n--x--",
                    b"--x\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <\r\n--x",
                    b"=\r\n=ZZ=\r\n",
                ]
            ),
        )
    )
    head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
    return head + b"\r\n\r\n" + body


def _html(body: str) -> str:
    return f"From: a@acme.example\nSubject: Re: hi\nContent-Type: text/html\n\n{body}"


def _bounce(body: str) -> str:
    return f"From: MAILER-DAEMON@mx.acme.example\nSubject: Undelivered Mail Returned to Sender\n\n{body}"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_html("<a b='" * 20_000), id="unclosed tags"),
        pytest.param(_html("<script" * 20_000), id="unclosed scripts"),
        pytest.param(_bounce("\n" * 100_000), id="blank lines"),
        pytest.param(_bounce("following addresses failed:\n" + "a@" * 50_000 + "\n"), id="at signs"),
        pytest.param("From: a@acme.example\nReferences: " + " ".join(f"<{i}@x>" for i in range(50_000)), id="refs"),
        pytest.param(f"From: a@acme.example\nAuto-Submitted: auto-replied\n\n{'back on Monday ' * 5000}", id="dates"),
    ],
)
def test_hostile_messages_are_classified_quickly(raw: str) -> None:
    message = parse(raw)
    started = time.perf_counter()
    classify(message, now=NOW, unsubscribe_addresses=set())
    assert time.perf_counter() - started < 2.0  # each took from 5 s to minutes with naive patterns


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_classify_without_raising(raw: bytes) -> None:
    inbound = classify(email.message_from_bytes(raw, policy=email.policy.default), now=NOW, unsubscribe_addresses=set())
    assert inbound.kind in KINDS
    assert not inbound.reason.startswith("unreadable")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_messages())
def test_hostile_headers_and_bodies_classify_without_raising(raw: bytes) -> None:
    inbound = classify(
        email.message_from_bytes(raw, policy=email.policy.default), now=NOW, unsubscribe_addresses=set(UNSUBSCRIBE)
    )
    assert inbound.kind in KINDS
    assert not inbound.reason.startswith("unreadable")
    assert inbound.note is None or len(inbound.note) <= NOTE_LIMIT
    assert all(len(r) <= 250 for r in inbound.references)
