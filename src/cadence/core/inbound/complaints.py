"""Spam complaints: the abuse reports (ARF, RFC 5965) a provider sends when a person marks an email as spam.

A report is ``multipart/report; report-type=feedback-report`` with a ``message/feedback-report``
part (``Feedback-Type: abuse``, ``Original-Rcpt-To``, ``Removal-Recipient``) and the original
message, or its headers, attached. What is read here is only evidence: the service acts on a
report only when the attached original's Message-ID is one of ours (a touch we sent).
"""

from __future__ import annotations

from email.message import Message

from cadence.core.inbound.bounces import field_blocks, returned_message_id
from cadence.core.inbound.kinds import Inbound
from cadence.core.inbound.message import addresses, first_id, one_line, param, part_type, walk

MAX_COMPLAINANTS = 5
"""The most addresses one report may name (a report is about one message to one person)."""


def _fields(part: Message) -> dict[str, list[str]]:
    """The fields of a ``message/feedback-report`` part, by lower-cased name."""
    found: dict[str, list[str]] = {}
    for block in field_blocks(part):
        for name, value in block:
            found.setdefault(name, []).append(value)
    return found


def classify_complaint(message: Message, sender: str | None, subject: str) -> Inbound | None:
    """A spam complaint read from an ARF report, or None when the message is not one."""
    if part_type(message) != "multipart/report" or param(message, "report-type").lower() != "feedback-report":
        return None
    fields: dict[str, list[str]] = {}
    for part in walk(message):
        if part_type(part) == "message/feedback-report":
            fields = _fields(part)
            break
    feedback = (fields.get("feedback-type") or ["abuse"])[0].lower()
    returned = returned_message_id(message)
    named = addresses([*fields.get("original-rcpt-to", []), *fields.get("removal-recipient", [])])
    return Inbound(
        kind="complaint" if feedback == "abuse" else "ignored",
        sender=sender,
        references=(returned,) if returned else (),
        bounced_recipients=tuple(dict.fromkeys(named))[:MAX_COMPLAINANTS],
        message_id=first_id(message),
        subject=subject or None,
        reason=one_line(f"feedback report (RFC 5965), type {feedback}", 200),
    )
