"""What a reply says (:data:`Intent`), who it points to (:class:`Referral`) and the verdict (:class:`Reading`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

REVIEW_BELOW = 0.6
"""Readings less sure than this are for a person to review, whatever their intent."""

Intent = Literal[
    "interested",
    "not_now",
    "referral",
    "wrong_person",
    "not_interested",
    "unsubscribe_request",
    "out_of_office",
    "bounce",
    "unclear",
]
INTENTS: tuple[Intent, ...] = (
    "interested",
    "not_now",
    "referral",
    "wrong_person",
    "not_interested",
    "unsubscribe_request",
    "out_of_office",
    "bounce",
    "unclear",
)

UNSAFE_PAIRS: frozenset[tuple[Intent, Intent]] = frozenset(
    (kept, lost) for kept in ("interested", "referral") for lost in ("not_interested", "unsubscribe_request")
)
"""(what the reply says, what it must never be read as): these mistakes end a conversation the lead wanted."""

MAX_EVIDENCE = 5
"""The most pieces of evidence kept with a reading."""


@dataclass(frozen=True)
class Referral:
    """Another person the reply points to, with what it says about them (each may be missing)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The referral as plain data: ``{"name", "email", "phone"}``."""
        return {"name": self.name, "email": self.email, "phone": self.phone}


@dataclass(frozen=True)
class Reading:
    """What one reply says, how sure the rules are, and the words that decided it."""

    intent: Intent
    confidence: float
    """From 0 to 1: near 1 when one intent's words (or the headers) decide alone, low when words disagree."""
    date: date | None = None
    """For ``not_now``: the date the reply names; for ``out_of_office``: the return date; else None."""
    referral: Referral | None = None
    """For ``referral``: the person named; None for every other intent."""
    evidence: tuple[str, ...] = ()
    """The header, words or lines that decided it (at most :data:`MAX_EVIDENCE`), to keep with the message."""
