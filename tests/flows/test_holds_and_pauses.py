"""Broken templates hold a cadence's steps; out-of-office pauses end by themselves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cadence.adapters.models import Enrollment, Lead, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.enrollments import get_lead, pause
from flows.advance import advance_cadences, flow_context
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed, templates_with_subject

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
SEND = MONDAY + timedelta(days=1, hours=1)


def test_a_broken_template_holds_its_cadence_and_loses_nothing(
    flow_env: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = templates_with_subject(tmp_path, "{{ lead.frist_name.upper() }}")
    intro = templates / "email" / "introduction.j2"
    good = (TEMPLATES / "email" / "introduction.j2").read_text()
    monkeypatch.setenv("CADENCE_TEMPLATES_DIR", str(templates))
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    held = asyncio.run(advance_cadences(now=SEND))
    assert held["held"] == 2
    assert held["emails_sent"] == 0
    assert "introduction" in str(held["failures"])
    assert flow_env.count() == 0
    with ctx.sessions() as s:
        assert {t.state for t in s.scalars(select(Touch))} == {"held"}
        assert {e.state for e in s.scalars(select(Enrollment))} == {"active"}
    intro.write_text(good)  # the marketer fixes the template
    fixed = asyncio.run(advance_cadences(now=SEND + timedelta(hours=1, minutes=1)))
    assert fixed["emails_sent"] == 2
    assert flow_env.count() == 2
    with ctx.sessions() as s:
        assert {t.state for t in s.scalars(select(Touch))} == {"sent"}


@pytest.mark.parametrize(("zone", "evening"), [("Europe/London", "21:30"), ("Asia/Tokyo", "06:30")])
def test_a_held_step_released_outside_the_send_window_waits_for_the_next_slot(
    flow_env: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zone: str, evening: str
) -> None:
    templates = templates_with_subject(tmp_path, "{{ lead.frist_name.upper() }}")
    intro = templates / "email" / "introduction.j2"
    monkeypatch.setenv("CADENCE_TEMPLATES_DIR", str(templates))
    ctx = flow_context()
    tz = ZoneInfo(zone)
    seed(ctx, [lead_row(0, timezone=zone, country="GB" if zone == "Europe/London" else "JP")], now=MONDAY,
         cadence="nurture")  # fmt: skip
    with ctx.sessions() as s:
        due = s.scalars(select(Enrollment)).one().next_due_at
    assert due is not None
    assert asyncio.run(advance_cadences(now=due))["held"] == 1
    intro.write_text((TEMPLATES / "email" / "introduction.j2").read_text())  # fixed, but only in the evening
    hour, minute = map(int, evening.split(":"))
    local = due.astimezone(tz).replace(hour=hour, minute=minute)
    released = (local if local > due.astimezone(tz) else local + timedelta(days=1)).astimezone(UTC)
    report = asyncio.run(advance_cadences(now=released))
    assert report["emails_sent"] == 0
    assert flow_env.count() == 0
    with ctx.sessions() as s:
        enrollment = s.scalars(select(Enrollment)).one()
        assert enrollment.next_due_at is not None
        opens = enrollment.next_due_at.astimezone(tz)
        assert opens > released
        assert (opens.hour, opens.minute) == (9, 0)  # nurture's window opens at 09:00, the lead's time
        assert opens.weekday() < 5
    assert asyncio.run(advance_cadences(now=enrollment.next_due_at))["emails_sent"] == 1
    assert flow_env.count() == 1


def test_a_pause_with_an_end_resumes_by_itself_and_keeps_the_spacing(flow_env: SmtpSink) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    back = MONDAY + timedelta(days=7)  # the out-of-office says: back next Monday
    with ctx.sessions() as s, s.begin():
        pause(s, get_lead(s, "lead0@acme.example"), now=MONDAY + timedelta(hours=1), until=back)
    assert asyncio.run(advance_cadences(now=SEND))["emails_sent"] == 0
    resumed = asyncio.run(advance_cadences(now=back + timedelta(days=1, hours=1)))
    assert resumed["emails_sent"] == 1
    with ctx.sessions() as s:
        enrollment = s.scalars(select(Enrollment)).one()
        assert enrollment.state == "active"
        assert enrollment.paused_until is None
        # Day 7 of nurture comes a week after the (shifted) day 1, not at once.
        assert enrollment.next_due_at is not None
        assert enrollment.next_due_at >= back + timedelta(days=7)


def test_an_advance_run_wakes_a_snoozed_lead_and_sends_its_first_re_engage_email(flow_env: SmtpSink) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    until = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # a Monday, inside re-engage's window in New York
    with ctx.sessions() as s, s.begin():  # what a "not now, try me in March" reply leaves (tests/replies)
        lead = s.scalars(select(Lead)).one()
        enrollment = s.scalars(select(Enrollment)).one()
        enrollment.state, enrollment.next_due_at = "responded", None
        lead.status, lead.snoozed_until, lead.snooze_cadence = "responded", until, "re-engage"

    assert asyncio.run(advance_cadences(now=until - timedelta(minutes=1)))["snoozes"]["enrolled"] == 0
    result = asyncio.run(advance_cadences(now=until))
    assert (result["snoozes"]["enrolled"], result["emails_sent"]) == (1, 1)
    with ctx.sessions() as s:
        assert [e.cadence_name for e in s.scalars(select(Enrollment).order_by(Enrollment.id))] == [
            "nurture",
            "re-engage",
        ]
