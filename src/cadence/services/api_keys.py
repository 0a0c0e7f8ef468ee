"""Keys of the API (``/api/v1``): created, listed, revoked, and checked on every request.

A key is ``cad_`` followed by 43 random URL-safe characters (256 bits). It is shown once, when it
is created; the database keeps only its SHA-256 (a key is random and long, so a fast hash is
enough: there is nothing to guess) and its first :data:`PREFIX_CHARS` characters, shown in
listings so that a person can tell keys apart. A revoked key is kept (its name stays taken) and
is refused from then on.

Scopes
    ``intake``: create or update leads and record interactions (what a web form or a webinar
    platform needs); ``read``: read leads, their timelines and tasks; ``write``: everything,
    including responses and decisions.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import ApiKey
from cadence.core.leads import clean_text
from cadence.errors import AlreadyExists, NotFound, ValidationError, shown
from cadence.services import audit

KEY_PREFIX = "cad_"
PREFIX_CHARS = 12
MAX_KEY_CHARS = 200
"""A longer ``Authorization`` value is refused without hashing it."""


class Scope(StrEnum):
    """What a key may do (see the module documentation)."""

    INTAKE = "intake"
    READ = "read"
    WRITE = "write"


ALLOWED: dict[Scope, frozenset[Scope]] = {
    Scope.INTAKE: frozenset({Scope.INTAKE, Scope.WRITE}),
    Scope.READ: frozenset({Scope.READ, Scope.WRITE}),
    Scope.WRITE: frozenset({Scope.WRITE}),
}
"""For what each endpoint needs, the scopes that give it: ``write`` gives everything."""


def parse_scope(value: str) -> Scope:
    """The :class:`Scope` named ``value``, or a :class:`ValidationError` listing the choices."""
    try:
        return Scope(value.strip().lower())
    except ValueError:
        raise ValidationError(f"--scope must be intake, read or write, not {shown(value)}") from None


def key_hash(key: str) -> str:
    """The SHA-256 of ``key``, as stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``key`` is the only time it is ever shown."""

    name: str
    scope: Scope
    key: str


def create_key(session: Session, name: str, scope: Scope, *, now: datetime, actor: str = "cli") -> CreatedKey:
    """Create a key named ``name`` with ``scope`` (audited as ``actor``'s); the caller shows ``key`` once and
    commits."""
    cleaned = clean_text("name", name, max_length=100)
    if cleaned is None:
        raise ValidationError("an API key needs a name, such as the tool that will use it")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == cleaned)) is not None:
        raise AlreadyExists(f"an API key named {cleaned!r} exists already: choose another name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(name=cleaned, prefix=key[:PREFIX_CHARS], key_hash=key_hash(key), scope=scope.value, created_at=now)
    )
    session.flush()
    audit.record(session, actor, "api_keys.create", cleaned, {"scope": scope.value}, now=now)
    return CreatedKey(cleaned, scope, key)


def list_keys(session: Session) -> list[dict[str, Any]]:
    """Every key (revoked ones too), by name: never the key itself."""
    return [
        {
            "name": k.name,
            "prefix": k.prefix,
            "scope": k.scope,
            "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in session.scalars(select(ApiKey).order_by(ApiKey.name))
    ]


def revoke_key(session: Session, name: str, *, now: datetime, actor: str = "cli") -> bool:
    """Revoke the key named ``name`` from ``now`` on (audited as ``actor``'s); False when it was revoked already."""
    key = session.scalar(select(ApiKey).where(ApiKey.name == name.strip()))
    if key is None:
        raise NotFound(f"no API key named {name.strip()!r}; `cadence api-keys list` shows them")
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    audit.record(session, actor, "api_keys.revoke", key.name, {"scope": key.scope}, now=now)
    return True


def authenticate(session: Session, presented: str) -> ApiKey | None:
    """The live key ``presented`` is, or None (unknown, malformed or revoked: the caller says the same for all)."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > MAX_KEY_CHARS:
        return None
    wanted = key_hash(presented)
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == wanted))
    if key is None or key.revoked_at is not None or not hmac.compare_digest(key.key_hash, wanted):
        return None
    return key


def allows(key: ApiKey, needed: Scope) -> bool:
    """True when ``key``'s scope gives what an endpoint that needs ``needed`` does."""
    return Scope(key.scope) in ALLOWED[needed]
