"""Idempotent API requests: the answer to a request sent with an ``Idempotency-Key`` is kept for 24 hours.

The same key (per API key) with the same request gets the kept answer again, and nothing is done
twice; with a different request it is refused. The answer is written in the transaction that did
the work, so a request that failed keeps nothing and can be retried with its key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cadence.adapters.models import ApiIdempotency
from cadence.errors import CadenceError, ValidationError

KEPT = timedelta(hours=24)
MAX_KEY_CHARS = 200


class KeyReused(CadenceError):
    """This Idempotency-Key was used for a different request in the last 24 hours: use a new key."""


@dataclass(frozen=True)
class Kept:
    """An answer given before."""

    status: int
    body: dict[str, Any]


def request_hash(method: str, path: str, body: str) -> str:
    """What identifies a request: its method, path and (canonical) body."""
    return hashlib.sha256(f"{method}\n{path}\n{body}".encode()).hexdigest()


def check_key(value: str) -> str:
    """``value`` as an Idempotency-Key: 1 to 200 visible ASCII characters."""
    key = value.strip()
    if not key or len(key) > MAX_KEY_CHARS or not all(33 <= ord(c) < 127 for c in key):
        raise ValidationError(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters (a UUID will do)")
    return key


def kept_answer(session: Session, api_key_id: int, key: str, hashed: str, *, now: datetime) -> Kept | None:
    """The answer kept for ``key`` (None: none in the last 24 hours); :class:`KeyReused` for another request."""
    row = session.scalar(
        select(ApiIdempotency).where(ApiIdempotency.api_key_id == api_key_id, ApiIdempotency.idempotency_key == key)
    )
    if row is None:
        return None
    if row.created_at <= now - KEPT:
        session.delete(row)
        session.flush()
        return None
    if row.request_hash != hashed:
        raise KeyReused()
    return Kept(row.status, row.body)


def keep_answer(
    session: Session, api_key_id: int, key: str, hashed: str, status: int, body: dict[str, Any], *, now: datetime
) -> None:
    """Keep the answer to ``key`` (in the caller's transaction), and forget answers older than 24 hours."""
    session.execute(delete(ApiIdempotency).where(ApiIdempotency.created_at <= now - KEPT))
    session.add(
        ApiIdempotency(
            api_key_id=api_key_id, idempotency_key=key, request_hash=hashed, status=status, body=body, created_at=now
        )
    )
    session.flush()
