"""The pacing of one sending mailbox: ramp-up, daily allowance, spacing and jitter (pure, plain values)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cadence.core.pacing import (
    Gate,
    Ramp,
    daily_allowance,
    describe_rate,
    floor_interval,
    interval,
    parse_ramp,
    spacing,
    verdict,
)
from cadence.errors import ValidationError

NOW = datetime(2026, 12, 1, 14, tzinfo=UTC)


@pytest.mark.parametrize(("day", "expected"), [(0, 10), (1, 15), (7, 45), (8, 50), (30, 50), (-1, 10)])
def test_a_ramp_starts_low_grows_each_day_and_stops_at_its_maximum(day: int, expected: int) -> None:
    assert Ramp(10, 5, 50).allowance(day) == expected


def test_the_daily_cap_bounds_the_ramp() -> None:
    assert daily_allowance(30, Ramp(10, 5, 50), 8) == 30
    assert daily_allowance(30, Ramp(10, 5, 50), 1) == 15
    assert daily_allowance(30, None, 0) == 30


@pytest.mark.parametrize(
    ("text", "problem"),
    [("10:5", "START:STEP:MAX"), ("a:b:c", "START:STEP:MAX"), ("0:5:50", "START must be"), ("60:5:50", "START must"),
     ("10:0:50", "STEP must be"), ("-1:5:50", "START:STEP:MAX")],
)  # fmt: skip
def test_a_bad_ramp_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        parse_ramp(text)


def test_a_ramp_reads_and_prints_the_same() -> None:
    assert str(parse_ramp(" 10:5:50 ")) == "10:5:50"


def test_the_window_is_shared_by_the_days_allowance_never_closer_than_the_floor() -> None:
    nine_hours = timedelta(hours=9)
    assert spacing(nine_hours, 10, minimum=timedelta(seconds=90), per_minute=None) == timedelta(minutes=54)
    assert spacing(nine_hours, 1000, minimum=timedelta(seconds=90), per_minute=None) == timedelta(seconds=90)
    assert spacing(nine_hours, 1000, minimum=timedelta(0), per_minute=1) == timedelta(seconds=60)
    assert floor_interval(timedelta(seconds=10), 2) == timedelta(seconds=30)


def test_jitter_moves_each_interval_either_way_but_never_under_the_floor() -> None:
    base, floor = timedelta(minutes=60), timedelta(minutes=50)
    assert interval(base, jitter=0.3, draw=0.0, floor=floor) == floor  # 42 minutes, raised to the floor
    assert interval(base, jitter=0.3, draw=0.5, floor=floor) == base
    assert interval(base, jitter=0.3, draw=0.999, floor=floor) < timedelta(minutes=78)
    rng = random.Random(3)
    drawn = [interval(base, jitter=0.3, draw=rng.random(), floor=timedelta(0)) for _ in range(50)]
    assert len(set(drawn)) == 50
    assert all(timedelta(minutes=42) <= d <= timedelta(minutes=78) for d in drawn)
    again = random.Random(3)
    assert drawn == [interval(base, jitter=0.3, draw=again.random(), floor=timedelta(0)) for _ in range(50)]


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        (Gate(allowance=10, sent_today=3, next_send_at=None), "send"),
        (Gate(allowance=10, sent_today=3, next_send_at=NOW), "send"),
        (Gate(allowance=10, sent_today=3, next_send_at=NOW + timedelta(seconds=1)), "paced"),
        (Gate(allowance=10, sent_today=10, next_send_at=None), "day_used"),
        (Gate(allowance=10, sent_today=12, next_send_at=NOW + timedelta(hours=1)), "day_used"),
    ],
)
def test_the_gate_lets_an_email_go_only_within_the_allowance_and_at_its_turn(gate: Gate, expected: str) -> None:
    assert verdict(gate, NOW) == expected


def test_the_rate_reads_in_words() -> None:
    assert describe_rate(10, timedelta(minutes=54)) == "up to 10 emails today, about one every 54 minutes"
    assert describe_rate(1, timedelta(hours=9)) == "up to 1 email today, about one every 9.0 hours"
    assert describe_rate(500, timedelta(seconds=90)) == "up to 500 emails today, about one every 90 seconds"
