"""Pass-back on both databases: a lead passed back goes to the lead-development queue, gets the development
cadence, and returns to its owner with a task when it is qualified again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cadence.adapters.models import Enrollment, Lead, Task
from cadence.core.decisions import Outcome
from cadence.services.context import Context
from cadence.services.enrollments import decide
from cadence.services.reps import add_rep
from cadence.settings import Settings
from tests.conftest import Cli
from tests.stages.conftest import LEAD, MONDAY, lead_of, reply

DEV = "devi@cadence.example"
RITA = "rita@cadence.example"


def add_developer(ctx: Context, email: str = DEV) -> None:
    with ctx.sessions() as s, s.begin():
        add_rep(s, email, "Devi Patel", now=MONDAY, role="developer")


def pass_it_back(ctx: Context, at: object = MONDAY + timedelta(days=3)) -> None:
    with ctx.sessions() as s, s.begin():
        decide(s, lead_of(s), Outcome.PASSED_BACK, now=at, reason="no budget before Q3", decided_by=RITA)  # type: ignore[arg-type]


def owner_and_home(ctx: Context) -> tuple[str | None, int | None]:
    with ctx.sessions() as s:
        lead = lead_of(s)
        return (lead.owner.email if lead.owner else None), lead.home_owner_id


def enrollments(ctx: Context) -> list[tuple[str, str]]:
    with ctx.sessions() as s:
        rows = s.scalars(select(Enrollment).order_by(Enrollment.id))
        return [(e.cadence_name, e.state) for e in rows]


def open_tasks(ctx: Context) -> list[tuple[str, str]]:
    with ctx.sessions() as s:
        rows = s.scalars(select(Task).where(Task.status == "open").order_by(Task.id))
        return [(t.owner.email if t.owner else "", t.title) for t in rows]


def test_a_passed_back_lead_goes_to_the_developer_on_the_development_cadence(seeded: Context) -> None:
    add_developer(seeded)
    pass_it_back(seeded)
    assert owner_and_home(seeded)[0] == DEV
    assert enrollments(seeded) == [("default", "decided"), ("development", "active")]
    [(owner, title)] = open_tasks(seeded)
    assert (owner, title) == (DEV, "Develop Lead0 Tester: passed back to lead development")
    with seeded.sessions() as s:
        lead = lead_of(s)
        assert lead.status == "active"
        task = s.scalars(select(Task).where(Task.status == "open")).one()
        assert task.instructions is not None
        assert task.instructions.startswith("Passed back: no budget before Q3")


def test_the_developer_qualifies_it_and_it_returns_to_its_owner_with_a_task(seeded: Context) -> None:
    add_developer(seeded)
    pass_it_back(seeded)
    with seeded.sessions() as s, s.begin():
        decide(s, lead_of(s), Outcome.QUALIFIED, now=MONDAY + timedelta(days=40), reason="budget approved",
               decided_by=DEV)  # fmt: skip
    assert owner_and_home(seeded) == (RITA, None)
    assert enrollments(seeded) == [("default", "decided"), ("development", "decided")]
    assert open_tasks(seeded) == [(RITA, "Lead0 Tester is back from lead development")]


def test_an_interested_reply_during_development_brings_it_back_with_the_answer_task(seeded: Context) -> None:
    add_developer(seeded)
    pass_it_back(seeded)
    reply(seeded, "interested", at=MONDAY + timedelta(days=20))
    assert owner_and_home(seeded) == (RITA, None)
    titles = open_tasks(seeded)
    assert (RITA, "Answer Lead0 Tester and book a meeting") in titles
    assert (RITA, "Lead0 Tester is back from lead development") in titles
    assert all(owner == RITA for owner, _ in titles)


def test_without_a_developer_the_manager_develops_it(settings: Settings) -> None:
    from tests.flows.conftest import lead_row, seed

    ctx = Context(settings.model_copy(update={"manager_email": "max@cadence.example"}))
    try:
        seed(ctx, [lead_row(0)], now=MONDAY)
        with ctx.sessions() as s, s.begin():
            add_rep(s, "max@cadence.example", "Max Manager", now=MONDAY)
        pass_it_back(ctx)
        assert owner_and_home(ctx)[0] == "max@cadence.example"
        assert enrollments(ctx)[-1] == ("development", "active")
    finally:
        ctx.close()


def test_with_neither_it_stays_with_its_owner_on_the_development_cadence(seeded: Context) -> None:
    pass_it_back(seeded)
    assert owner_and_home(seeded)[0] == RITA
    assert enrollments(seeded)[-1] == ("development", "active")
    [(owner, _title)] = open_tasks(seeded)
    assert owner == RITA


def test_a_second_pass_back_still_returns_to_the_first_owner(seeded: Context) -> None:
    add_developer(seeded)
    add_developer(seeded, "dan@cadence.example")
    pass_it_back(seeded)
    first = owner_and_home(seeded)[0]
    pass_it_back(seeded, MONDAY + timedelta(days=30))
    with seeded.sessions() as s:
        lead = lead_of(s)
        rita = s.scalars(select(Lead.owner_id).where(Lead.email == LEAD)).one()
        assert lead.home_owner_id is not None
        assert lead.home_owner_id != rita
    assert first in (DEV, "dan@cadence.example")
    with seeded.sessions() as s, s.begin():
        decide(s, lead_of(s), Outcome.QUALIFIED, now=MONDAY + timedelta(days=50))
    assert owner_and_home(seeded) == (RITA, None)


def test_developers_get_no_new_leads_and_are_listed_with_their_role(seeded: Context, run_cli: Cli) -> None:
    assert (
        "added developer Devi Patel <devi@cadence.example>"
        in run_cli("reps", "add", DEV, "--name", "Devi Patel", "--role", "developer").stdout
    )
    refused = run_cli("reps", "add", "x@cadence.example", "--name", "X", "--role", "boss", expect=1)
    assert "a rep's role is rep or developer, not 'boss'" in refused.stderr
    roles = {r["email"]: r["role"] for r in run_cli("reps", "list", "--json").json()}
    assert roles == {RITA: "rep", DEV: "developer"}
    from pathlib import Path

    Path("more.csv").write_text("email,first_name,source,interactions\nnew@acme.example,New,webinar,3\n")
    run_cli("leads", "import", "more.csv")
    assert [x["owner"] for x in run_cli("leads", "list", "--json").json() if x["email"] == "new@acme.example"] == [RITA]


def test_a_refusal_during_development_is_decided_over_the_pass_back(seeded: Context) -> None:
    add_developer(seeded)
    pass_it_back(seeded)
    reply(seeded, "not_interested", at=MONDAY + timedelta(days=10), note="We chose another vendor")
    assert enrollments(seeded) == [("default", "decided"), ("development", "decided")]
    with seeded.sessions() as s:
        from cadence.services.enrollments import current_decision

        decision = current_decision(s, lead_of(s).id)
        assert decision is not None
        assert (decision.outcome, decision.reason) == ("not_interested", "We chose another vendor")
