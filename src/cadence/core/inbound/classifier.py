"""What one message is, from its headers and its own text: bounces first, then automatic replies, then the rest."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from email.message import Message

from cadence.core.inbound.auto_replies import auto_reason
from cadence.core.inbound.bounces import classify_bounce
from cadence.core.inbound.complaints import classify_complaint
from cadence.core.inbound.dates import return_date, sent_at
from cadence.core.inbound.kinds import Inbound
from cadence.core.inbound.message import addresses, body_text, first_id, header, headers, one_line, reference_ids
from cadence.core.inbound.note import make_note, own_text

_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe[\s.!]*$", re.I)


def classify(message: Message, *, now: datetime, unsubscribe_addresses: set[str] | frozenset[str]) -> Inbound:
    """What ``message`` is, from its headers and its own text (see the module's docstring).

    ``unsubscribe_addresses`` are addresses that only take unsubscribe requests (List-Unsubscribe's
    mailto when it is not the replies mailbox itself): anything sent to them is an unsubscribe.
    Never raises: a message that cannot be read is ``ignored``.
    """
    try:
        return _classify(message, now=now, unsubscribe_addresses=unsubscribe_addresses)
    except Exception as exc:  # defence in depth: the parsing above is written not to raise
        return Inbound(kind="ignored", reason=f"unreadable message ({type(exc).__name__})")


def _classify(message: Message, *, now: datetime, unsubscribe_addresses: set[str] | frozenset[str]) -> Inbound:
    return replace(_kind_of(message, now=now, unsubscribe_addresses=unsubscribe_addresses), sent_at=sent_at(message))


def _kind_of(message: Message, *, now: datetime, unsubscribe_addresses: set[str] | frozenset[str]) -> Inbound:
    from_addresses = addresses(headers(message, "From"))
    sender = from_addresses[0] if from_addresses else None
    if sender is None:
        reply_to = addresses(headers(message, "Reply-To"))
        sender = reply_to[0] if reply_to else None
    subject = one_line(header(message, "Subject") or "", 998)
    message_id = first_id(message)
    text = body_text(message)
    own = own_text(text)

    complaint = classify_complaint(message, sender, subject)
    if complaint is not None:
        return complaint
    bounce = classify_bounce(message, sender, subject, text)
    if bounce is not None:
        return bounce

    base = Inbound(
        kind="ignored", sender=sender, references=tuple(reference_ids(message)), message_id=message_id,
        subject=subject or None,
    )  # fmt: skip
    auto, bulk = auto_reason(message, subject, own or text)
    if auto is not None:
        return replace(
            base,
            kind="auto_reply",
            return_date=return_date(f"{subject}\n{own or text}", now=now),
            note=make_note(own or text),
            reason=auto,
        )

    recipients = addresses(
        [v for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To") for v in headers(message, name)]
    )
    wanted = {a.lower() for a in unsubscribe_addresses}
    to_unsubscribe = sorted(wanted.intersection(recipients))
    if sender is not None and (to_unsubscribe or _UNSUBSCRIBE_SUBJECT.match(subject)):
        why = f"sent to {to_unsubscribe[0]}" if to_unsubscribe else "subject 'unsubscribe'"
        return replace(base, kind="unsubscribe", note=make_note(own), reason=why)

    if sender is None:
        return replace(base, reason="no sender address")
    # Precedence and List-Id are added by the sender's list server or gateway, to replies too; a newsletter
    # answers nothing, a person answering our email names it in In-Reply-To or References.
    answers = header(message, "In-Reply-To") is not None or bool(base.references)
    if bulk and not answers:
        return replace(base, reason="bulk mail")
    if header(message, "List-Id") is not None and not answers:
        return replace(base, reason="mailing-list mail (List-Id)")
    return replace(base, kind="reply", note=make_note(own or text), reason="a message from a person")
