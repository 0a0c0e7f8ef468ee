"""Suppressions: addresses and domains that are never emailed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Suppression
from cadence.core.leads import clean_text, normalize_email
from cadence.errors import ValidationError


def suppression_key(value: str) -> str:
    """Normalize ``bob@x.example`` or ``@x.example`` (a whole domain) for storage."""
    text = (value or "").strip().lower()
    if text.startswith("@"):
        domain = text[1:]
        if not domain or "@" in domain or "." not in domain or any(c.isspace() for c in domain):
            raise ValidationError(f"{value!r} is not a domain such as @example.com")
        return "@" + normalize_email(f"x@{domain}").split("@", 1)[1]
    return normalize_email(text)


def is_suppressed(session: Session, email: str) -> bool:
    """True when ``email`` or its domain is suppressed."""
    address = email.lower()
    domain = "@" + address.rsplit("@", 1)[-1]
    return session.scalar(select(Suppression.id).where(Suppression.value.in_([address, domain])).limit(1)) is not None


def suppressed_among(session: Session, emails: list[str]) -> set[str]:
    """The addresses of ``emails`` that are suppressed, themselves or by their domain (one query a thousand)."""
    found: set[str] = set()
    addresses = sorted({email.lower() for email in emails})
    for start in range(0, len(addresses), 1000):
        chunk = addresses[start : start + 1000]
        values = set(chunk) | {"@" + address.rsplit("@", 1)[-1] for address in chunk}
        hits = set(session.scalars(select(Suppression.value).where(Suppression.value.in_(sorted(values)))))
        found |= {a for a in chunk if a in hits or "@" + a.rsplit("@", 1)[-1] in hits}
    return found


def suppress(session: Session, value: str, *, now: datetime, reason: str | None = None) -> Suppression:
    """Suppress an address or a domain (idempotent: suppressing twice keeps the first reason)."""
    key = suppression_key(value)
    existing = session.scalar(select(Suppression).where(Suppression.value == key))
    if existing is not None:
        return existing
    row = Suppression(value=key, reason=clean_text("reason", reason, max_length=1000), created_at=now)
    session.add(row)
    session.flush()
    return row


def list_suppressions(session: Session) -> list[dict[str, str | None]]:
    """Every suppressed address and domain, newest first."""
    rows = session.scalars(select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc()))
    return [{"value": r.value, "reason": r.reason, "since": r.created_at.isoformat()} for r in rows]


def unsuppress(session: Session, value: str) -> bool:
    """Remove a suppression (a mistaken domain, say); True if there was one."""
    row = session.scalar(select(Suppression).where(Suppression.value == suppression_key(value)))
    if row is None:
        return False
    session.delete(row)
    return True
