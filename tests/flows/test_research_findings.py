"""Research results reach the messages: the first email waits for the research task, then carries its findings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cadence.adapters.models import Enrollment, Task, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.workspace.leads import lead_details
from flows.advance import advance_cadences, flow_context
from tests.conftest import Cli
from tests.flows.conftest import lead_row, seed, templates_with_subject

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
LEAD = "lead0@acme.example"


def waiting_templates(tmp_path: Path) -> Path:
    """The shipped templates; the default cadence's first email waits for the research, its subject shows the topic."""
    templates = templates_with_subject(tmp_path, "{{ lead.topic or 'no topic' }} | ")
    default = templates / "cadences" / "default.yaml"
    text = default.read_text()
    step = "    template: email/introduction\n"
    assert step in text
    default.write_text(text.replace(step, step + "    wait_for: research\n", 1))
    return templates


def next_due(ctx: Context, enrollment_id: int) -> datetime:
    with ctx.sessions() as s:
        due = s.get_one(Enrollment, enrollment_id).next_due_at
    assert due is not None
    return due


def test_the_first_email_waits_for_the_research_task_and_then_carries_its_findings(
    flow_env: SmtpSink, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = waiting_templates(tmp_path)
    monkeypatch.setenv("CADENCE_TEMPLATES_DIR", str(templates))
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY)
    with ctx.sessions() as s:
        enrollment = s.scalars(select(Enrollment)).one()
        assert enrollment.cadence_name == "default"
        enrollment_id = enrollment.id

    research = asyncio.run(advance_cadences(now=next_due(ctx, enrollment_id)))  # day 1: the research task
    assert research["emails_sent"] == 0
    with ctx.sessions() as s:
        task = s.scalars(select(Task).where(Task.channel == "research")).one()

    due = next_due(ctx, enrollment_id)  # day 2: the first email, but the research is not done
    held = asyncio.run(advance_cadences(now=due))
    assert (held["held"], held["emails_sent"]) == (1, 0)
    assert flow_env.count() == 0
    with ctx.sessions() as s:
        touch = s.scalars(select(Touch).where(Touch.channel == "email")).one()
        assert touch.state == "held"
        reason = f"waiting for the research task “{task.title}” (task {task.id}) to be done"
        assert touch.error == reason
        timeline = lead_details(s, get_lead(s, LEAD), ctx.settings)["timeline"]
        assert [item["outcome"] for item in timeline if item["state"] == "held"] == [reason]  # on the lead's page

    cli = Cli({"CADENCE_DATABASE_URL": database_url, "CADENCE_TEMPLATES_DIR": str(templates)})
    refused = cli("tasks", "done", str(task.id), "--outcome", "done", "--why-now", "a\nb", expect=1)
    assert "must be one line" in refused.stderr + refused.stdout
    cli("tasks", "done", str(task.id), "--outcome", "done", "--now", (due + timedelta(minutes=5)).isoformat(),
        "--why-now", "Acme opened an office in Austin this month", "--topic", "Hiring engineers")  # fmt: skip
    with ctx.sessions() as s:
        lead = get_lead(s, LEAD)
        assert (lead.why_now, lead.topic) == ("Acme opened an office in Austin this month", "Hiring engineers")

    sent = asyncio.run(advance_cadences(now=next_due(ctx, enrollment_id)))
    assert sent["emails_sent"] == 1
    [message] = flow_env.messages()
    assert str(message["Subject"]).startswith("Hiring engineers | ")
