"""The render process: a large batch's emails are rendered and built in a process of their own.

Against the real process (``python -m cadence.services.outgoing``), a real SMTP server and the
test database; the process is killed for real where the tests say so.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from cadence.adapters.models import Enrollment, Lead, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services import advance, outgoing
from cadence.services.advance import run_until_idle, template_variables, templates_for
from cadence.services.context import Context
from cadence.services.outgoing import Built, Draft, MailIdentity, RenderProcess, build
from flows.advance import flow_context
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed, templates_with_subject
from tests.flows.test_advance import MONDAY, SEND

IDENTITY = MailIdentity("mail.cadence.example", None, None)


@pytest.fixture
def render_process() -> Iterator[RenderProcess]:
    """A render process of the test's own (not the shared one)."""
    process = RenderProcess()
    yield process
    process.close()


@pytest.fixture(autouse=True)
def fresh_shared_render_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no shared render process, and leaves none (nor a failure remembered).

    A batch uses the render process from 24 emails on here (one wave of the tests' 3 connections),
    not 100: the same paths, with fewer leads to seed.
    """
    monkeypatch.setattr(advance, "RENDER_PROCESS_MIN_EMAILS", 24)
    outgoing.render_process().close()
    yield
    outgoing.render_process().close()


class Spy:
    """Counts the waves the shared render process was asked for, and what it answered (it still does the work)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, before: Any = None) -> None:
        self.calls = 0
        self.answered = 0
        real = RenderProcess.build_wave

        def build_wave(process: RenderProcess, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if before is not None:
                before(process, self.calls)
            answer = real(process, *args, **kwargs)
            self.answered += answer is not None
            return answer

        monkeypatch.setattr(RenderProcess, "build_wave", build_wave)


def drafts(ctx: Context, count: int, template: str = "email/introduction") -> list[Draft]:
    """Drafts of ``count`` emails of the nurture cadence's first step, for made-up leads."""
    cadence = ctx.cadence("nurture")
    owner = SimpleNamespace(name="Rita Alvarez", email="rita@cadence.example", signature="Rita | Acme Sales")
    made = []
    for i in range(count):
        lead = SimpleNamespace(
            email=f"lead{i}@acme.example", first_name=f"Lead{i}", last_name="Tester", title="VP Engineering",
            company="Acme", industry="Software", company_size=500, phone=None, linkedin_url=None,
            address_line1="1 Main St", address_line2=None, city="New York", region=None, postal_code="10001",
            country="US", timezone="America/New_York", source="webinar", interactions=3, custom={}, lead_class="A",
            owner=owner, owner_id=1, priority=1,
        )  # fmt: skip
        variables = template_variables(ctx, lead, cadence, 0, now=SEND)  # type: ignore[arg-type]
        made.append(
            Draft(
                touch_id=i + 1,
                template=template,
                message_id=f"<c.{i + 1}.test@mail.cadence.example>",
                variables=variables,
                lead_email=lead.email,
                owner_name=owner.name,
                owner_email=owner.email,
            )
        )
    return made


def parsed(built: Built) -> email.message.EmailMessage:
    message = email.message_from_bytes(built.data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


@pytest.mark.one_database
def test_the_render_process_builds_the_messages_the_sending_process_builds(
    flow_env: SmtpSink, render_process: RenderProcess
) -> None:
    ctx = flow_context()
    wave = drafts(ctx, 5)
    there = render_process.build_wave(TEMPLATES, IDENTITY, wave, now=SEND)
    here = [build(templates_for(ctx), IDENTITY, draft, now=SEND) for draft in wave]
    assert there is not None
    assert render_process.pid is not None
    assert render_process.pid != os.getpid()
    for a, b in zip(there, here, strict=True):
        assert isinstance(a, Built)
        assert isinstance(b, Built)
        assert a.subject == b.subject
        ours, theirs = parsed(a), parsed(b)
        # The same headers with the same values (the MIME boundary is drawn at random for each message).
        assert [(k, v) for k, v in ours.items() if k != "Content-Type"] == [
            (k, v) for k, v in theirs.items() if k != "Content-Type"
        ]
        assert [(p.get_content_type(), p.get_content()) for p in ours.iter_parts()] == [
            (p.get_content_type(), p.get_content()) for p in theirs.iter_parts()
        ]
    assert parsed(there[0])["X-Cadence-Touch"] == "1"
    assert "Lead0" in parsed(there[0]).get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.one_database
def test_a_template_fault_is_answered_with_its_reason_and_the_process_keeps_serving(
    flow_env: SmtpSink, render_process: RenderProcess, tmp_path: Path
) -> None:
    templates = templates_with_subject(tmp_path, "{{ lead.nope.deeper }}")
    ctx = flow_context()
    answer = render_process.build_wave(templates, IDENTITY, drafts(ctx, 2), now=SEND)
    assert answer is not None
    assert all(isinstance(reason, str) and "introduction" in reason for reason in answer), answer
    again = render_process.build_wave(TEMPLATES, IDENTITY, drafts(ctx, 1), now=SEND)
    assert again is not None
    assert isinstance(again[0], Built)


def test_a_render_process_that_died_is_not_used_and_is_started_again_later(
    flow_env: SmtpSink, render_process: RenderProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = flow_context()
    assert render_process.build_wave(TEMPLATES, IDENTITY, drafts(ctx, 1), now=SEND) is not None
    first = render_process.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert render_process.build_wave(TEMPLATES, IDENTITY, drafts(ctx, 1), now=SEND) is None
    assert render_process.build_wave(TEMPLATES, IDENTITY, drafts(ctx, 1), now=SEND) is None  # not at once
    monkeypatch.setattr(RenderProcess, "RESTART_AFTER_S", 0.0)
    answer = render_process.build_wave(TEMPLATES, IDENTITY, drafts(ctx, 1), now=SEND)
    assert answer is not None
    assert isinstance(answer[0], Built)
    assert render_process.pid not in (None, first)


def test_a_large_batch_is_built_in_the_render_process_and_each_email_sent_once(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = flow_context()
    count = advance.RENDER_PROCESS_MIN_EMAILS + 20
    seed(ctx, [lead_row(i) for i in range(count)], now=MONDAY, cadence="nurture")
    spy = Spy(monkeypatch)
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=count))
    assert report.emails_sent == count
    assert spy.calls >= count // (ctx.settings.smtp_connections * advance.WAVE_PER_CONNECTION)
    assert spy.answered == spy.calls
    messages = flow_env.messages()
    assert len(messages) == count
    assert len({m["X-Cadence-Touch"] for m in messages}) == count
    assert len({m["Message-ID"] for m in messages}) == count
    with ctx.sessions() as s:
        touches = list(s.scalars(select(Touch)))
        assert {t.state for t in touches} == {"sent"}
        assert {t.message_id for t in touches} == {m["Message-ID"] for m in messages}
        assert {t.subject for t in touches} == {m["Subject"] for m in messages}


def test_a_small_batch_is_built_here(flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = flow_context()
    count = advance.RENDER_PROCESS_MIN_EMAILS + 5
    seed(ctx, [lead_row(i) for i in range(count)], now=MONDAY, cadence="nurture")
    spy = Spy(monkeypatch)
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=advance.RENDER_PROCESS_MIN_EMAILS - 1))
    assert (report.batches, report.emails_sent) == (3, count)  # the third finds nothing more
    assert spy.calls == 0
    assert flow_env.count() == count


def test_with_the_render_process_turned_off_a_large_batch_is_built_here(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_RENDER_PROCESS", "false")
    ctx = flow_context()
    assert ctx.settings.render_process is False
    count = advance.RENDER_PROCESS_MIN_EMAILS + 5
    seed(ctx, [lead_row(i) for i in range(count)], now=MONDAY, cadence="nurture")
    spy = Spy(monkeypatch)
    assert asyncio.run(run_until_idle(ctx, now=SEND, batch_size=1000)).emails_sent == count
    assert spy.calls == 0
    assert flow_env.count() == count


def test_a_render_time_fault_holds_only_the_lead_it_concerns(
    flow_env: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fine for the template check's sample lead (and every other one), broken for one company.
    broken = '{% if lead.company == "Broken Co" %}{{ lead.nope.deeper }}{% endif %}'
    templates = templates_with_subject(tmp_path, broken)
    monkeypatch.setenv("CADENCE_TEMPLATES_DIR", str(templates))
    ctx = flow_context()
    count = advance.RENDER_PROCESS_MIN_EMAILS + 10
    rows = [lead_row(i) for i in range(count - 1)] + [lead_row(count, company="Broken Co")]
    seed(ctx, rows, now=MONDAY, cadence="nurture")
    spy = Spy(monkeypatch)
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=count))
    assert spy.answered >= 1
    assert (report.emails_sent, report.held) == (count - 1, 1)
    assert "introduction" in str(report.failures)
    assert flow_env.count() == count - 1
    with ctx.sessions() as s:
        held = s.scalars(select(Touch).where(Touch.state == "held")).one()
        assert s.get_one(Lead, held.lead_id).company == "Broken Co"
        assert s.get_one(Enrollment, held.enrollment_id).state == "active"


def test_when_the_render_process_dies_mid_run_the_rest_is_built_here_and_nothing_is_lost(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = flow_context()
    count = advance.RENDER_PROCESS_MIN_EMAILS + 50
    seed(ctx, [lead_row(i) for i in range(count)], now=MONDAY, cadence="nurture")
    killed: list[int] = []

    def kill_on_second_wave(process: RenderProcess, call: int) -> None:
        # Two waves are asked for at once: the first may still be starting the process when the second comes.
        if call >= 2 and not killed and process.pid is not None:
            killed.append(process.pid)
            os.kill(process.pid, signal.SIGKILL)
            while Path(f"/proc/{killed[0]}").exists() and process.pid is not None:
                time.sleep(0.01)

    spy = Spy(monkeypatch, before=kill_on_second_wave)
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=count))
    assert killed
    assert spy.calls >= 2
    assert spy.answered < spy.calls
    assert report.emails_sent == count
    messages = flow_env.messages()
    assert len(messages) == count
    assert len({m["X-Cadence-Touch"] for m in messages}) == count


def test_the_render_process_ends_with_the_process_that_started_it(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from cadence.services.outgoing import RenderProcess\n"
        "process = RenderProcess()\n"
        "assert process.start()\n"
        "print(process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert Path(f"/proc/{child}").exists()
        os.kill(parent.pid, signal.SIGKILL)  # no atexit, no cleanup: only the closed pipe tells the child
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(child):
            time.sleep(0.05)
        assert not _alive(child), "the render process outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not reaped yet, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_a_batch_claimed_in_parts_weighs_all_its_capped_emails_together(flow_env: SmtpSink) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(6)], now=MONDAY, cap=2, cadence="nurture")
    with ctx.sessions() as s, s.begin():
        for enrollment in s.scalars(select(Enrollment)):
            lead = s.get_one(Lead, enrollment.lead_id)
            first_four = int(lead.email.removeprefix("lead").split("@")[0]) < 4
            # The first four fall due first but matter least; the last two are claimed in later parts.
            lead.priority = 5 if first_four else 1
            enrollment.next_due_at = SEND - timedelta(hours=1 if first_four else 0)
    assert -(-6 // advance.CLAIM_PARTS) < 4  # the first part holds only low-priority leads
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=6))
    assert (report.emails_sent, report.capped) == (2, 4)
    assert sorted(m["To"] for m in flow_env.messages()) == [
        "Lead4 Tester <lead4@acme.example>",
        "Lead5 Tester <lead5@acme.example>",
    ]


def test_the_record_moves_a_waves_enrollments_on_in_one_statement(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(30)], now=MONDAY, cadence="nurture")
    moved: list[tuple[int, int]] = []
    real = advance._move_on

    def spy(session: Any, moves: list[dict[str, Any]], postgresql: bool) -> int:
        count = real(session, moves, postgresql)
        moved.append((count, len(moves)))
        return count

    monkeypatch.setattr(advance, "_move_on", spy)
    assert asyncio.run(run_until_idle(ctx, now=SEND, batch_size=30)).emails_sent == 30
    assert moved
    assert all(count == size for count, size in moved), moved  # none fell back to one by one
    assert sum(size for _, size in moved) == 30
    with ctx.sessions() as s:
        assert {(e.next_step, e.last_touch_day) for e in s.scalars(select(Enrollment))} == {(1, 1)}
