"""Speed to lead: a lead the API enrolls wakes the runner (NOTIFY on PostgreSQL, a poll on SQLite); no schedule waits.

The runner here is the engine's loop on the test's clock (``cadence serve`` runs the ``follow-up-lead``
flow instead); the emails go to a real SMTP sink. The waits below are for correctness only: each is
far longer than the work takes, and no figure of speed is asserted (that is ``benchmarks/speed_to_lead.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from cadence.adapters.models import Task
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.wake import Listener
from cadence.settings import Settings
from cadence.web.app import create_app
from cadence.web.deps import running_from
from tests.web.api_support import MONDAY_10_NY, Keys, seed_api

LEE = {
    "email": "lee@prospect.example",
    "first_name": "Lee",
    "company": "Prospect",
    "source": "contact_request",
    "timezone": "America/New_York",
}
MONDAY_20_NY = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # Monday 20:00 in New York: the window (08-18) is shut
TUESDAY_08_NY = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


class MovableClock:
    """A clock the test can swap for another while the app and the listener run."""

    def __init__(self, at: datetime) -> None:
        self.inner: Callable[[], datetime] = lambda: at

    def __call__(self) -> datetime:
        return self.inner()


@pytest.fixture
def mail_settings(web_settings: Settings, smtp_sink: SmtpSink) -> Settings:
    """The web test settings, sending to the SMTP sink."""
    return web_settings.model_copy(
        update={"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port, "mail_domain": "mail.cadence.example"}
    )


@pytest.fixture
def runner_ctx(mail_settings: Settings) -> Iterator[Context]:
    """The runner's own context (as ``cadence serve`` has its own, apart from ``cadence web``'s)."""
    context = Context(mail_settings)
    yield context
    context.close()


def _start(
    mail_settings: Settings,
    runner_ctx: Context,
    clock: MovableClock,
    serve: Callable[[FastAPI], str],
    runs: list[datetime],
    after_run: Callable[[int], None] = lambda _n: None,
) -> tuple[str, Listener]:
    def run(_email: str) -> None:
        now = clock()
        asyncio.run(run_until_idle(runner_ctx, now=now))
        runs.append(now)
        after_run(len(runs))

    listener = Listener(runner_ctx, run, clock=clock)
    listener.start()
    return serve(create_app(mail_settings, clock=clock)), listener


def test_an_inbound_lead_posted_inside_its_window_gets_its_call_task_and_email_at_once(
    mail_settings: Settings, runner_ctx: Context, smtp_sink: SmtpSink, serve: Callable[[FastAPI], str], ctx: Context
) -> None:
    keys: Keys = seed_api(ctx)
    clock = MovableClock(MONDAY_10_NY)
    runs: list[datetime] = []
    base, listener = _start(mail_settings, runner_ctx, clock, serve, runs)
    try:
        answer = httpx.post(f"{base}/api/v1/leads", json=LEE, headers=keys.header("intake"), timeout=10)
        assert answer.status_code == 201, answer.text
        assert answer.json()["enrolled"] is True
        [message] = smtp_sink.wait_for(1, timeout=60)
    finally:
        listener.stop()
    assert message["To"] == "Lee <lee@prospect.example>"
    assert runs == [MONDAY_10_NY]  # woken by the intake, not by a schedule
    with ctx.sessions() as s:
        assert s.scalars(select(Task.channel)).all() == ["call"]


def test_an_inbound_lead_posted_after_hours_goes_at_the_window_s_opening(
    mail_settings: Settings, runner_ctx: Context, smtp_sink: SmtpSink, serve: Callable[[FastAPI], str], ctx: Context
) -> None:
    keys: Keys = seed_api(ctx)
    clock = MovableClock(MONDAY_20_NY)
    runs: list[datetime] = []

    def after(count: int) -> None:
        if count == 1:  # the night passes: two seconds before the window opens, time runs again
            clock.inner = running_from(TUESDAY_08_NY - timedelta(seconds=2))

    base, listener = _start(mail_settings, runner_ctx, clock, serve, runs, after)
    try:
        answer = httpx.post(f"{base}/api/v1/leads", json=LEE, headers=keys.header("intake"), timeout=10)
        assert answer.json()["first_step_at"] == TUESDAY_08_NY.isoformat()
        [message] = smtp_sink.wait_for(1, timeout=60)
    finally:
        listener.stop()
    assert message["To"] == "Lee <lee@prospect.example>"
    assert runs[0] == MONDAY_20_NY
    assert len(runs) == 2
    assert runs[1] >= TUESDAY_08_NY


def test_a_lead_enrolled_while_nobody_listened_is_followed_up_when_the_listener_starts(
    mail_settings: Settings, runner_ctx: Context, smtp_sink: SmtpSink, serve: Callable[[FastAPI], str], ctx: Context
) -> None:
    keys: Keys = seed_api(ctx)
    clock = MovableClock(MONDAY_10_NY)
    base = serve(create_app(mail_settings, clock=clock))
    answer = httpx.post(f"{base}/api/v1/leads", json=LEE, headers=keys.header("intake"), timeout=10)
    assert answer.json()["enrolled"] is True
    runs: list[datetime] = []

    def run(_email: str) -> None:
        asyncio.run(run_until_idle(runner_ctx, now=clock()))
        runs.append(clock())

    listener = Listener(runner_ctx, run, clock=clock)
    listener.start()  # after the lead was enrolled: the announcement went by unheard
    try:
        [message] = smtp_sink.wait_for(1, timeout=60)
    finally:
        listener.stop()
    assert message["To"] == "Lee <lee@prospect.example>"
    assert runs == [MONDAY_10_NY]
