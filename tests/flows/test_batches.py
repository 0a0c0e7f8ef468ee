"""A batch end to end: compose, mark, send over several connections, settle; and what a batch decides on its own."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.db import long_writer_turn
from cadence.adapters.models import Decision, Enrollment, Lead, Touch
from cadence.adapters.smtp_sink import SinkFaults, SmtpSink
from cadence.core.decisions import Outcome
from cadence.services.advance import dispatch, run_until_idle, settle
from cadence.services.enrollments import decide, get_lead
from cadence.services.suppression import is_suppressed
from flows.advance import flow_context
from tests.flows.conftest import lead_row, seed, templates_with_subject
from tests.flows.test_advance import MONDAY, SEND


def test_a_large_batch_sends_each_email_once_as_recorded(flow_env: SmtpSink) -> None:
    ctx = flow_context()
    count = 120
    seed(ctx, [lead_row(i) for i in range(count)], now=MONDAY, cadence="nurture")
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=count))
    assert report.emails_sent == count
    messages = flow_env.messages()
    assert len(messages) == count
    assert len({m["X-Cadence-Touch"] for m in messages}) == count
    assert len({m["Message-ID"] for m in messages}) == count
    with ctx.sessions() as s:
        touches = list(s.scalars(select(Touch)))
        assert {t.state for t in touches} == {"sent"}
        assert {t.message_id for t in touches} == {m["Message-ID"] for m in messages}
        assert {t.subject for t in touches} == {m["Subject"] for m in messages}


def test_a_render_time_fault_holds_only_the_lead_it_concerns(
    flow_env: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fine for the template check's sample lead (and every other one), broken for one company.
    broken = '{% if lead.company == "Broken Co" %}{{ lead.nope.deeper }}{% endif %}'
    templates = templates_with_subject(tmp_path, broken)
    monkeypatch.setenv("CADENCE_TEMPLATES_DIR", str(templates))
    ctx = flow_context()
    count = 30
    rows = [lead_row(i) for i in range(count - 1)] + [lead_row(count, company="Broken Co")]
    seed(ctx, rows, now=MONDAY, cadence="nurture")
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=count))
    assert (report.emails_sent, report.held) == (count - 1, 1)
    assert "introduction" in str(report.failures)
    assert flow_env.count() == count - 1
    with ctx.sessions() as s:
        held = s.scalars(select(Touch).where(Touch.state == "held")).one()
        assert s.get_one(Lead, held.lead_id).company == "Broken Co"
        assert s.get_one(Enrollment, held.enrollment_id).state == "active"


def test_settling_moves_a_batchs_enrollments_on_in_one_statement(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(30)], now=MONDAY, cadence="nurture")
    moved: list[tuple[int, int]] = []
    real = settle.move_on

    def spy(session: Session, moves: list[dict[str, Any]]) -> int:
        count = real(session, moves)
        moved.append((count, len(moves)))
        return count

    monkeypatch.setattr(settle, "move_on", spy)
    assert asyncio.run(run_until_idle(ctx, now=SEND, batch_size=30)).emails_sent == 30
    assert moved == [(30, 30)]  # none fell back to one by one
    with ctx.sessions() as s:
        assert {(e.next_step, e.last_touch_day) for e in s.scalars(select(Enrollment))} == {(1, 1)}


def test_a_send_time_bounce_adds_no_decision_to_a_lead_decided_since_it_was_enrolled(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    flow_env.faults = SinkFaults(reject_recipients={"lead0@acme.example"})
    real = dispatch._deliver

    def decided_meanwhile(*args: Any) -> Any:
        # The rep decides once the email is marked `sending`; RCPT is refused before any hand-off check.
        with ctx.sessions() as other, other.begin():
            decide(other, get_lead(other, "lead0@acme.example"), Outcome.NOT_INTERESTED, now=SEND,
                   reason="said so on the phone", decided_by="rita")  # fmt: skip
        return real(*args)

    monkeypatch.setattr(dispatch, "_deliver", decided_meanwhile)
    report = asyncio.run(run_until_idle(ctx, now=SEND))
    assert report.bounced == 1
    with ctx.sessions() as s:
        assert [d.outcome for d in s.scalars(select(Decision))] == [Outcome.NOT_INTERESTED.value]
        assert is_suppressed(s, "lead0@acme.example")
        assert s.scalars(select(Touch.state)).one() == "bounced"


def test_on_sqlite_the_run_claims_only_in_the_long_writers_turn(flow_env: SmtpSink, backend: str) -> None:
    # An import (or another `cadence run`) holds the turn: on SQLite the run waits for it before
    # claiming, so that the pause after each of their transactions is left to the short writers.
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(3)], now=MONDAY, cadence="nurture")
    reports = []
    run = threading.Thread(target=lambda: reports.append(asyncio.run(run_until_idle(ctx, now=SEND, batch_size=3))))
    with long_writer_turn(ctx.engine, pause=0.0):
        run.start()
        run.join(timeout=1.0)
        with ctx.sessions() as s:
            claimed_meanwhile = s.scalar(select(func.count()).select_from(Touch))
    run.join(timeout=60)
    assert claimed_meanwhile == (0 if backend == "sqlite" else 3)
    assert [r.emails_sent for r in reports] == [3]


def test_on_sqlite_the_run_pauses_after_what_it_wrote_not_after_an_empty_claim(
    flow_env: SmtpSink, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pause in a long writer's turn makes way for the writers waiting behind a write; a claim that
    # found nothing due wrote nothing and ends the run, so it keeps no one waiting (a simulated month
    # of hourly ticks used to spend 150 ms on each empty claim: the demo took 229 s instead of 90 s).
    from cadence.adapters import db

    pauses: list[float] = []
    sleep = time.sleep
    monkeypatch.setattr(db.time, "sleep", lambda seconds: (pauses.append(seconds), sleep(seconds))[1])
    ctx = flow_context()
    nothing = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=3))
    empty_claims = [p for p in pauses if p == db.SQLITE_WRITER_PAUSE_S]
    seed(ctx, [lead_row(i) for i in range(3)], now=MONDAY, cadence="nurture")
    pauses.clear()
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=3))
    assert nothing.emails_sent == 0
    assert empty_claims == []
    assert report.emails_sent == 3
    # the claim and the settlement of the one batch pause on SQLite; the last, empty claim does not
    assert pauses.count(db.SQLITE_WRITER_PAUSE_S) == (2 if backend == "sqlite" else 0)
