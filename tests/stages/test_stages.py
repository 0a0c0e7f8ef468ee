"""Stages of maturation on both databases: the rules of ``stages.yaml`` applied by the shell, moves by hand,
the history, and leads per stage in the report."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from cadence.adapters.models import StageChange, Task
from cadence.core.decisions import Outcome
from cadence.services.context import Context
from cadence.services.enrollments import decide
from cadence.services.reports.build import generate_report
from cadence.services.reports.render import render_text
from cadence.services.tasks import complete_task
from tests.conftest import Cli
from tests.stages.conftest import LEAD, MONDAY, lead_of, reply


def history(ctx: Context) -> list[tuple[str, str | None, str, str]]:
    with ctx.sessions() as s:
        lead = lead_of(s)
        rows = s.scalars(select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id))
        return [(c.stage, c.previous, c.by, c.reason) for c in rows]


def test_a_new_lead_is_in_the_first_stage_since_it_was_imported(seeded: Context, run_cli: Cli) -> None:
    shown = run_cli("leads", "show", LEAD, "--json").json()
    assert shown["stage"]["key"] == "identify_contacts"
    assert shown["stage"]["name"] == "Identify contacts"
    assert shown["stage"]["since"] == MONDAY.isoformat()
    assert shown["stage"]["history"] == []


def test_an_interested_reply_moves_the_lead_to_the_initial_conversation(seeded: Context) -> None:
    applied = reply(seeded, "interested", at=MONDAY + timedelta(days=1))
    assert applied.stage is not None
    assert history(seeded) == [("initial_conversation", None, "cadence", "rule: intent interested")]
    with seeded.sessions() as s:
        lead = lead_of(s)
        assert (lead.stage, lead.stage_entered_at) == ("initial_conversation", MONDAY + timedelta(days=1))


def test_an_unclear_or_unsure_reading_moves_nothing(seeded: Context) -> None:
    reply(seeded, "interested", at=MONDAY + timedelta(days=1), confidence=0.3)
    assert history(seeded) == []


def test_a_connected_call_then_a_meeting_move_the_lead_forward_step_by_step(seeded: Context) -> None:
    with seeded.sessions() as s, s.begin():
        task = Task(lead_id=lead_of(s).id, owner_id=lead_of(s).owner_id, channel="call", title="Call",
                    due_at=MONDAY, status="open", created_at=MONDAY)  # fmt: skip
        s.add(task)
        s.flush()
        complete_task(s, task.id, "connected", now=MONDAY + timedelta(hours=1))
    with seeded.sessions() as s, s.begin():
        decide(s, lead_of(s), Outcome.MEETING_BOOKED, now=MONDAY + timedelta(days=2), qualification_skipped=True,
               decided_by="rita@cadence.example")  # fmt: skip
    assert history(seeded) == [
        ("initial_conversation", None, "cadence", "rule: task call connected"),
        ("group_meeting", "initial_conversation", "cadence", "rule: decision meeting_booked"),
    ]


def test_a_rule_never_moves_a_lead_back(seeded: Context) -> None:
    with seeded.sessions() as s, s.begin():
        decide(s, lead_of(s), Outcome.MEETING_BOOKED, now=MONDAY, qualification_skipped=True)
    reply(seeded, "referral", at=MONDAY + timedelta(days=1))
    assert [h[0] for h in history(seeded)] == ["group_meeting"]


def test_a_person_moves_a_lead_back_by_hand_with_a_reason_kept_in_the_history(seeded: Context, run_cli: Cli) -> None:
    reply(seeded, "interested", at=MONDAY + timedelta(days=1))
    moved = run_cli("leads", "stage", LEAD, "vetting", "--reason", "checking budget", "--by", "rita@cadence.example",
                    "--now", "2026-12-10T12:00:00Z", "--json").json()  # fmt: skip
    assert (moved["stage"], moved["previous"]) == ("vetting", "initial_conversation")
    assert moved["reason"] == "checking budget"
    out = run_cli("leads", "stage", LEAD, "Initial conversation", "--reason", "budget not there yet").stdout
    assert "Vetting -> Initial conversation" in out
    shown = run_cli("leads", "show", LEAD, "--json").json()["stage"]
    assert shown["key"] == "initial_conversation"
    assert [(h["stage"], h["by"], h["reason"]) for h in shown["history"]] == [
        ("initial_conversation", "operator", "budget not there yet"),
        ("vetting", "rita@cadence.example", "checking budget"),
        ("initial_conversation", "cadence", "rule: intent interested"),
    ]


def test_a_move_by_hand_without_a_reason_or_to_no_stage_is_refused(seeded: Context, run_cli: Cli) -> None:
    refused = run_cli("leads", "stage", LEAD, "won", "--reason", "x", expect=1)
    assert "unknown stage 'won'" in refused.stderr
    empty = run_cli("leads", "stage", LEAD, "vetting", "--reason", " ", expect=1)
    assert "say why the lead moves" in empty.stderr
    assert history(seeded) == []


def test_the_report_shows_leads_per_stage_and_the_median_days_in_it(ctx: Context) -> None:
    from tests.flows.conftest import lead_row, seed

    seed(ctx, [lead_row(i) for i in range(4)], now=MONDAY)
    reply(ctx, "interested", at=MONDAY + timedelta(days=2), email="lead1@acme.example")
    reply(ctx, "interested", at=MONDAY + timedelta(days=4), email="lead2@acme.example")
    report = generate_report(ctx, since=None, until=None, now=MONDAY + timedelta(days=10))
    rows = {r["stage"]: (r["leads"], r["median_days"]) for r in report["stages"]}
    assert rows["identify_contacts"] == (2, 10.0)
    assert rows["initial_conversation"] == (2, 7.0)  # 8 and 6 days
    assert rows["handed_over"] == (0, None)
    assert list(rows)[:2] == ["identify_contacts", "initial_conversation"]
    text = render_text(report)
    assert "Stages of maturation" in text
    [line] = [x for x in text.splitlines() if x.startswith("Initial conversation ")]
    assert line.split()[-2:] == ["2", "7.0"]


def test_templates_check_reports_a_faulty_stages_file_at_its_line(tmp_path: Path, run_cli: Cli) -> None:
    import shutil

    from tests.conftest import TEMPLATES

    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    text = (folder / "stages.yaml").read_text(encoding="utf-8").replace("stage: referrals", "stage: referal")
    (folder / "stages.yaml").write_text(text, encoding="utf-8")
    result = run_cli("templates", "check", str(folder), "--json", expect=1).json()
    [problem] = result["problems"]
    assert problem["path"].endswith("stages.yaml")
    assert problem["line"] == text.splitlines().index("  - intent: referral") + 1
    assert "moves to 'referal', which is no stage" in problem["reason"]
    assert json.dumps(problem)
