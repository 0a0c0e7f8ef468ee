"""Qualifying answers captured at every conversation (``cadence tasks done --answer``), on SQLite and PostgreSQL;
a meeting booked afterwards asks only for what is missing, and the gate checks the union."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from cadence.adapters.models import Decision, Lead, QualifyingAnswer, Task
from cadence.core.questions import DEFAULT_QUESTIONS
from cadence.services.context import Context
from cadence.services.meetings import record_booking
from tests.conftest import Cli
from tests.services.test_events_applied import ADA, LATER, NOW, RITA, add_call_task, seed


def test_a_connected_call_answers_some_questions_and_the_meeting_task_lists_the_rest(
    ctx: Context, run_cli: Cli
) -> None:
    seed(ctx)
    call = add_call_task(ctx)
    run_cli("tasks", "done", str(call), "--outcome", "connected", "--answer", "committed=yes",
            "--answer", "approves=the CFO", "--answer", "decides=Ada", "--now", NOW.isoformat())  # fmt: skip
    with ctx.sessions() as s:
        rows = s.scalars(sa.select(QualifyingAnswer).order_by(QualifyingAnswer.id)).all()
        assert [(r.question, r.answer, r.answered_by, r.task_id) for r in rows] == [
            ("committed", "yes", RITA, call), ("approves", "the CFO", RITA, call), ("decides", "Ada", RITA, call),
        ]  # fmt: skip
    body = {
        "event": "invitee.created",
        "payload": {"email": ADA, "scheduled_event": {"start_time": "2026-12-10T14:00:00Z"}},
    }
    with ctx.sessions() as s, s.begin():
        booked = record_booking(s, body, LATER)
        task = s.get(Task, booked.task_id)
        assert task is not None
        assert task.instructions is not None
        assert task.instructions.startswith("Ask before the meeting (4 of 7 unanswered):")
        assert "Who approves the purchase? the CFO" in task.instructions


def test_the_hand_off_passes_on_the_union_of_every_answer_and_names_what_is_missing(
    ctx: Context, run_cli: Cli, tmp_path: Path
) -> None:
    seed(ctx)
    call = add_call_task(ctx)
    first = [f"--answer={q.key}=from the call" for q in DEFAULT_QUESTIONS[:4]]
    run_cli("tasks", "done", str(call), "--outcome", "connected", *first, "--now", NOW.isoformat())
    rest = tmp_path / "rest.yaml"
    rest.write_text("".join(f"{q.key}: later\n" for q in DEFAULT_QUESTIONS[4:6]))
    refused = run_cli("decide", ADA, "--outcome", "qualified_handoff", "--answers", str(rest), expect=1)
    assert refused.stderr.startswith(f"error: {rest}: Answer every qualifying question; missing: Do we have a solution")
    rest.write_text("".join(f"{q.key}: later\n" for q in DEFAULT_QUESTIONS[4:]))
    run_cli("decide", ADA, "--outcome", "qualified_handoff", "--answers", str(rest), "--now", LATER.isoformat())
    with ctx.sessions() as s:
        decision = s.scalars(sa.select(Decision)).one()
        assert decision.answers == {q.key: "from the call" for q in DEFAULT_QUESTIONS[:4]} | {
            q.key: "later" for q in DEFAULT_QUESTIONS[4:]
        }


def test_a_call_nobody_answered_answers_nothing(ctx: Context, run_cli: Cli) -> None:
    seed(ctx)
    call = add_call_task(ctx)
    refused = run_cli("tasks", "done", str(call), "--outcome", "no_answer", "--answer", "committed=yes", expect=1)
    assert "no conversation" in refused.stderr
    unknown = run_cli("tasks", "done", str(call), "--outcome", "connected", "--answer", "budget=yes", expect=1)
    assert "unknown question key(s): budget" in unknown.stderr
    with ctx.sessions() as s:
        assert s.scalars(sa.select(QualifyingAnswer)).all() == []
        assert s.get(Task, call) is not None
        assert s.get(Task, call).status == "open"  # type: ignore[union-attr]


def test_who_decides_and_who_approves_name_contacts_of_the_account_who_get_the_role(ctx: Context, run_cli: Cli) -> None:
    seed(ctx, 2)  # lead0 and lead1: one account each
    run_cli("leads", "add-colleague", ADA, "--name", "Dana Dee", "--email", "dana@acme.example", "--now",
            NOW.isoformat())  # fmt: skip
    run_cli("leads", "add-colleague", ADA, "--name", "Gus Gray", "--email", "gus@acme.example", "--role",
            "influencer", "--now", NOW.isoformat())  # fmt: skip
    call = add_call_task(ctx)
    done = ("tasks", "done", str(call), "--outcome", "connected", "--now", NOW.isoformat())
    for answer, reason in (
        ("decides=@lead:lead1@acme.example", "another account"),
        ("decides=@lead:nobody@acme.example", "not a contact yet"),
        ("committed=@lead:dana@acme.example", "only a question about who decides"),
    ):
        assert reason in run_cli(*done, "--answer", answer, expect=1).stderr
    with ctx.sessions() as s:  # a refused answer completes nothing
        assert s.scalar(sa.select(sa.func.count()).select_from(QualifyingAnswer)) == 0
    run_cli(*done, "--answer", "decides=@lead:DANA@acme.example", "--answer", "approves=@lead:gus@acme.example")
    with ctx.sessions() as s:
        rows = s.scalars(sa.select(QualifyingAnswer).order_by(QualifyingAnswer.id)).all()
        contacts = {lead.email: lead for lead in s.scalars(sa.select(Lead))}
        assert [(r.question, r.answer, r.contact_id) for r in rows] == [
            ("decides", "Dana Dee (dana@acme.example)", contacts["dana@acme.example"].id),
            ("approves", "Gus Gray (gus@acme.example)", contacts["gus@acme.example"].id),
        ]
        assert contacts["dana@acme.example"].buying_role == "decision_maker"  # she had no role
        assert contacts["gus@acme.example"].buying_role == "influencer"  # a known role is kept
    coverage = run_cli("accounts", "show", ADA, "--json").json()["coverage"]
    assert (coverage["decision_maker"], coverage["approver"]) == (True, False)  # Gus stays an influencer


def test_a_decision_given_with_a_named_approver_keeps_the_name_and_the_link(
    ctx: Context, run_cli: Cli, tmp_path: Path
) -> None:
    seed(ctx)
    run_cli("leads", "add-colleague", ADA, "--name", "Cleo Cash", "--email", "cleo@acme.example", "--now",
            NOW.isoformat())  # fmt: skip
    answers = tmp_path / "answers.yaml"
    answers.write_text("".join(f"{q.key}: yes\n" for q in DEFAULT_QUESTIONS if q.key != "approves")
                       + "approves: '@lead:cleo@acme.example'\n")  # fmt: skip
    run_cli("decide", ADA, "--outcome", "meeting_booked", "--reason", "demo", "--answers", str(answers),
            "--now", LATER.isoformat())  # fmt: skip
    with ctx.sessions() as s:
        decision = s.scalars(sa.select(Decision)).one()
        assert decision.answers is not None
        assert decision.answers["approves"] == "Cleo Cash (cleo@acme.example)"
        row = s.scalars(sa.select(QualifyingAnswer).where(QualifyingAnswer.question == "approves")).one()
        cleo = s.scalars(sa.select(Lead).where(Lead.email == "cleo@acme.example")).one()
        assert (row.answer, row.contact_id, cleo.buying_role) == ("Cleo Cash (cleo@acme.example)", cleo.id, "approver")


def test_points_at_in_questions_yaml_is_checked_and_defaults_to_the_shipped_pair() -> None:
    from cadence.core.questions import parse_questions
    from cadence.errors import ConfigurationError

    shipped = {q.key: q.points_at for q in DEFAULT_QUESTIONS}
    assert (shipped["decides"], shipped["approves"], shipped["committed"]) == ("decision_maker", "approver", None)
    parsed = parse_questions({"questions": [{"key": "signs", "question": "Who signs?", "points_at": "approver"}]})
    assert parsed[0].points_at == "approver"
    with pytest.raises(ConfigurationError, match="points_at of signs"):
        parse_questions({"questions": [{"key": "signs", "question": "Who signs?", "points_at": "boss"}]})
