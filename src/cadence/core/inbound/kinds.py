"""What an inbound message is (:data:`Kind`) and what was read from it (:class:`Inbound`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Kind = Literal["reply", "auto_reply", "bounce", "unsubscribe", "complaint", "ignored"]
KINDS: tuple[Kind, ...] = ("reply", "auto_reply", "bounce", "unsubscribe", "complaint", "ignored")

NOTE_LIMIT = 500
"""The longest note kept from a message's body (characters)."""


@dataclass(frozen=True)
class Inbound:
    """What one inbound message is, and what was read from it."""

    kind: Kind
    sender: str | None = None
    """The sender's address, lower-cased (``From``, else ``Reply-To``); None when there is none."""
    references: tuple[str, ...] = ()
    """Message-IDs this message answers (In-Reply-To, then References newest first); for a bounce, the returned
    message's own Message-ID first."""
    bounced_recipients: tuple[str, ...] = ()
    """For a bounce: the failed recipients; for a spam complaint: the addresses the report names."""
    bounce_permanent: bool = False
    bounce_status: str | None = None
    """For a bounce: the status and diagnostic of the failed recipients, on one line."""
    return_date: date | None = None
    """For an automatic reply: when the sender is back, if the message says."""
    note: str | None = None
    """The first lines of the body (quoted text and signature removed), at most :data:`NOTE_LIMIT` characters."""
    message_id: str | None = None
    subject: str | None = None
    sent_at: datetime | None = None
    """The message's ``Date``, when it has a readable one (aware; UTC when it names no zone)."""
    reason: str = ""
    """Why the message got its kind, for people reading the records."""
