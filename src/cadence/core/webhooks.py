"""Outbound webhooks, the pure part: the event types, an endpoint's address, signing, when to retry.

Signing follows the Standard Webhooks specification (https://www.standardwebhooks.com): the
signature is the HMAC-SHA256, keyed with the secret's bytes (``whsec_`` then base64), of
``{webhook-id}.{webhook-timestamp}.{body}``, sent as ``webhook-signature: v1,{base64}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from cadence.errors import ValidationError, shown


class EventType(StrEnum):
    """The events a subscription can ask for."""

    LEAD_CREATED = "lead.created"
    LEAD_QUALIFIED = "lead.qualified"
    TOUCH_SENT = "touch.sent"
    RESPONSE_RECEIVED = "response.received"
    DECISION_RECORDED = "decision.recorded"
    TASK_CREATED = "task.created"
    TASK_COMPLETED = "task.completed"
    MEETING_BOOKED = "meeting.booked"


EVENT_TYPES = tuple(e.value for e in EventType)
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2000


def parse_events(values: Iterable[str]) -> list[str]:
    """The event types named in ``values`` (each may hold several, comma-separated), in the canonical order.

    ``*`` or ``all`` stands for every type. Raises :class:`ValidationError` naming an unknown one.
    """
    names = {part.strip().lower() for value in values for part in value.split(",") if part.strip()}
    if not names:
        raise ValidationError(f"name at least one event: {', '.join(EVENT_TYPES)} (or all)")
    if names & {"*", "all"}:
        return list(EVENT_TYPES)
    unknown = sorted(names - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(f"unknown event {shown(unknown[0])}; known: {', '.join(EVENT_TYPES)} (or all)")
    return [e for e in EVENT_TYPES if e in names]


def check_url(url: str) -> str:
    """``url`` if it is an http(s) address with a host and nothing that could break a request line."""
    value = url.strip()
    if not value or len(value) > MAX_URL_LENGTH:
        raise ValidationError(f"a webhook address has 1 to {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in value):
        raise ValidationError("a webhook address has no spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValidationError(f"not a web address: {shown(value)} ({exc})") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError(f"a webhook address is http:// or https:// with a host, not {shown(value)}")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("a webhook address carries no user or password: the signature authenticates")
    return value


def secret_bytes(secret: str) -> bytes:
    """The key a ``whsec_`` secret stands for (its base64 part, decoded)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValidationError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("a webhook secret is whsec_ followed by base64") from exc
    if len(key) < 24:
        raise ValidationError("a webhook secret has at least 24 bytes")
    return key


def secret_from(key: bytes) -> str:
    """The ``whsec_`` form of ``key`` (random bytes the caller drew)."""
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of ``body`` sent as ``message_id`` at ``timestamp`` (Unix seconds)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, message_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt at ``at``: id, timestamp, signature and the JSON content type."""
    timestamp = int(at.timestamp())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def next_attempt(
    *,
    attempts: int,
    first_attempt_at: datetime,
    now: datetime,
    base: timedelta,
    cap: timedelta,
    window: timedelta,
) -> datetime | None:
    """When to try again after the ``attempts``-th failure at ``now``; None: the window is over, dead-letter it.

    The delay doubles from ``base`` up to ``cap``; a retry that would fall after ``window`` from the
    first attempt is not made.
    """
    delay = min(base * (2 ** min(max(0, attempts - 1), 40)), cap)
    due = now + delay
    return None if due - first_attempt_at > window else due
