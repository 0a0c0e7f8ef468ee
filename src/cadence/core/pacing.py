"""How fast one sending mailbox may send: its daily allowance (cap and ramp-up) and the spacing of its emails.

Pure: the caller passes the day number, the counts and the random draw (a float in ``[0, 1)``), so
that a simulated clock and a seeded random generator give the same schedule every time.

A mailbox sends at most ``allowance`` emails a local day: its daily cap, or less while it ramps up
(``START:STEP:MAX``: ``START`` on its first sending day, ``STEP`` more each day after, never more than
``MAX``). Its emails are spread over the send window: one every ``window / allowance``, never closer
than the minimum interval (nor than ``60 / per_minute`` seconds), each interval moved by a random
share of itself (the jitter) so that no two days look alike; the jitter never goes under the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cadence.errors import ValidationError

MAX_DAILY = 100_000
"""The largest daily cap, ramp value or per-minute cap a mailbox can have."""


@dataclass(frozen=True)
class Ramp:
    """A ramp-up: ``start`` emails on the first sending day, ``step`` more each day, up to ``maximum``."""

    start: int
    step: int
    maximum: int

    def allowance(self, day: int) -> int:
        """The emails allowed on sending day ``day`` (0 is the first day the mailbox sent)."""
        return min(self.maximum, self.start + self.step * max(0, day))

    def __str__(self) -> str:
        return f"{self.start}:{self.step}:{self.maximum}"


def parse_ramp(text: str) -> Ramp:
    """``START:STEP:MAX`` (``10:5:50``) as a :class:`Ramp`; :class:`ValidationError` says what is wrong."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValidationError(f"ramp {text!r} is not START:STEP:MAX with whole numbers, e.g. 10:5:50")
    start, step, maximum = (int(p) for p in parts)
    if not 1 <= start <= maximum <= MAX_DAILY:
        raise ValidationError(f"ramp {text!r}: START must be at least 1 and at most MAX (at most {MAX_DAILY:,})")
    if step < 1:
        raise ValidationError(f"ramp {text!r}: STEP must be at least 1")
    return Ramp(start, step, maximum)


def daily_allowance(daily_cap: int, ramp: Ramp | None, day: int) -> int:
    """The emails a mailbox may send on its sending day ``day``: its cap, or its ramp's value if lower."""
    return daily_cap if ramp is None else min(daily_cap, ramp.allowance(day))


def floor_interval(minimum: timedelta, per_minute: int | None) -> timedelta:
    """The least time between two emails: the minimum interval, or ``60 / per_minute`` seconds if longer."""
    if per_minute:
        return max(minimum, timedelta(seconds=60 / per_minute))
    return minimum


def spacing(window: timedelta, allowance: int, *, minimum: timedelta, per_minute: int | None) -> timedelta:
    """The usual time between two emails: the send window shared by the day's allowance, at least the floor."""
    base = window / max(1, allowance)
    return max(base, floor_interval(minimum, per_minute))


def interval(base: timedelta, *, jitter: float, draw: float, floor: timedelta) -> timedelta:
    """``base`` moved by up to ``jitter`` of itself either way (``draw`` in ``[0, 1)``), never under ``floor``."""
    moved = base * (1 + jitter * (2 * draw - 1))
    return max(moved, floor)


Verdict = Literal["send", "day_used", "paced"]
"""What the gate says of a mailbox's next email: it goes now, its day's allowance is used, or it waits its turn."""


@dataclass(frozen=True)
class Gate:
    """What decides whether one mailbox may send now."""

    allowance: int
    sent_today: int
    next_send_at: datetime | None


def verdict(gate: Gate, now: datetime) -> Verdict:
    """``send`` when the mailbox may send an email at ``now``; ``day_used`` when it sent its allowance
    of the day (the email waits for the mailbox's next day); ``paced`` before its next send time."""
    if gate.sent_today >= gate.allowance:
        return "day_used"
    if gate.next_send_at is not None and gate.next_send_at > now:
        return "paced"
    return "send"


def describe_rate(allowance: int, every: timedelta) -> str:
    """The rate in words: ``up to 20 emails today, about one every 27 minutes``."""
    seconds = every.total_seconds()
    if seconds >= 3600:
        pace = f"about one every {seconds / 3600:.1f} hours"
    elif seconds >= 120:
        pace = f"about one every {round(seconds / 60)} minutes"
    else:
        pace = f"about one every {round(seconds)} seconds"
    return f"up to {allowance} email{'s' if allowance != 1 else ''} today, {pace}"
