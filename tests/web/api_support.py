"""Helpers of the API tests: a database with two reps, API keys of each scope, clients that send them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cadence.services.api_keys import Scope, create_key
from cadence.services.context import Context
from cadence.services.reps import add_rep

MONDAY_10_NY = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
"""Monday 30 November 2026, 10:00 in New York: inside the inbound cadence's send window."""


@dataclass(frozen=True)
class Keys:
    """A key of each scope."""

    intake: str
    read: str
    write: str

    def header(self, scope: str) -> dict[str, str]:
        """The ``Authorization`` header for the key of ``scope``."""
        return {"Authorization": f"Bearer {getattr(self, scope)}"}


def seed_api(ctx: Context, now: datetime = MONDAY_10_NY) -> Keys:
    """Two reps (New York) and three keys, one of each scope."""
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@yourco.example", "Rita Alvarez", now=now, timezone="America/New_York")
        add_rep(s, "sam@yourco.example", "Sam Okafor", now=now, timezone="America/New_York")
        keys = {scope: create_key(s, f"{scope} tool", scope, now=now).key for scope in Scope}
    return Keys(keys[Scope.INTAKE], keys[Scope.READ], keys[Scope.WRITE])
