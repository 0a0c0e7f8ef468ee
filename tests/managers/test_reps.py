"""Managing reps: edit, deactivate with reassignment (to one rep or round-robin), out of office."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cadence.adapters.models import Lead, Rep, Task, User
from cadence.services import audit
from cadence.services.audit import AuditFilter
from cadence.services.context import Context
from cadence.services.leads import import_leads
from cadence.services.reps import add_rep, deactivate_rep, set_away
from cadence.services.users import add_user
from tests.conftest import Cli
from tests.managers.support import NOW, RITA, SAM, lead_row, seed

TOM = "tom@yourco.example"
# each lead at a company of its own: colleagues at one account would go to one owner together
LEADS = {f"lead{n}@acme{n}.example": RITA for n in range(4)} | {"sam1@samco.example": SAM}


def _owners(ctx: Context) -> dict[str, str]:
    with ctx.sessions() as s:
        return {lead.email: lead.owner.email for lead in s.scalars(select(Lead)) if lead.owner is not None}


def _open_task(ctx: Context, lead_email: str, owner: str) -> int:
    with ctx.sessions.begin() as s:
        lead = s.scalars(select(Lead).where(Lead.email == lead_email)).one()
        rep = s.scalars(select(Rep).where(Rep.email == owner)).one()
        task = Task(lead_id=lead.id, owner_id=rep.id, channel="call", title="Call", due_at=NOW, created_at=NOW)
        s.add(task)
        s.flush()
        return task.id


def test_deactivating_a_rep_moves_their_leads_and_open_tasks_to_the_rep_named(ctx: Context) -> None:
    seed(ctx, LEADS)
    task_id = _open_task(ctx, "lead0@acme0.example", RITA)
    with ctx.sessions.begin() as s:
        add_user(s, RITA, role="rep", password="a-long-enough-password", now=NOW)
    with ctx.sessions.begin() as s:
        moved = deactivate_rep(s, RITA, actor="max@yourco.example", now=NOW, reassign_to=SAM)
    assert moved == {"leads": 4, "tasks": 1}
    assert set(_owners(ctx).values()) == {SAM}
    with ctx.sessions() as s:
        assert s.get(Task, task_id).owner.email == SAM  # type: ignore[union-attr]
        rita = s.scalars(select(Rep).where(Rep.email == RITA)).one()
        assert rita.active is False
        assert s.scalars(select(User.active).where(User.email == RITA)).one() is False
        entry = audit.entries(s, AuditFilter(action="reps.deactivate"))[0]
    assert (entry.actor, entry.subject, entry.details["leads"], entry.details["tasks"]) == (
        "max@yourco.example", RITA, 4, 1
    )  # fmt: skip


def test_deactivating_without_a_rep_named_deals_the_leads_round_robin(ctx: Context) -> None:
    seed(ctx, LEADS)
    with ctx.sessions.begin() as s:
        add_rep(s, TOM, "Tom Example", now=NOW)
    with ctx.sessions.begin() as s:
        deactivate_rep(s, RITA, actor="cli", now=NOW)
    owners = list(_owners(ctx).values())
    assert RITA not in owners
    assert sorted([owners.count(TOM), owners.count(SAM)]) == [2, 3]  # Tom had none, Sam one: evened out


def test_new_leads_skip_a_rep_who_is_out_of_office_and_reach_them_after(ctx: Context) -> None:
    seed(ctx, {})
    with ctx.sessions.begin() as s:
        set_away(s, RITA, NOW, NOW + timedelta(days=7), actor="cli", now=NOW)
    rows = [lead_row(n, f"new{n}@newco{n}.example", "") for n in range(2, 6)]
    with ctx.sessions.begin() as s:
        import_leads(s, rows[:2], now=NOW + timedelta(days=1), settings=ctx.settings, rules=ctx.rules,
                     cadences=ctx.cadences)  # fmt: skip
    assert set(_owners(ctx).values()) == {SAM}
    with ctx.sessions.begin() as s:
        import_leads(s, rows[2:], now=NOW + timedelta(days=8), settings=ctx.settings, rules=ctx.rules,
                     cadences=ctx.cadences)  # fmt: skip
    assert sorted(_owners(ctx).values()) == [RITA, RITA, SAM, SAM]


def test_reps_cli_edit_deactivate_and_away(run_cli: Cli, ctx: Context) -> None:
    seed(ctx, LEADS)
    run_cli("reps", "edit", RITA, "--name", "Rita A.", "--timezone", "Europe/Paris", "--by", "max@yourco.example")
    reps = {r["email"]: r for r in run_cli("reps", "list", "--json").json()}
    assert (reps[RITA]["name"], reps[RITA]["timezone"]) == ("Rita A.", "Europe/Paris")
    assert "nothing to change" in run_cli("reps", "edit", RITA, expect=1).stderr
    start, end = (datetime.now(UTC).date() + timedelta(days=n) for n in (1, 8))  # recorded now, after the edit
    away = run_cli("reps", "away", SAM, "--from", start.isoformat(), "--until", end.isoformat())
    assert "new leads go to the other reps" in away.stdout
    assert "after its start" in run_cli("reps", "away", SAM, "--from", end.isoformat(), "--until", start.isoformat(),
                                        expect=1).stderr  # fmt: skip
    done = run_cli("reps", "deactivate", RITA, "--reassign-to", SAM)
    assert "4 leads and 0 open tasks went to sam@yourco.example" in done.stdout
    assert "is not active" in run_cli("reps", "deactivate", RITA, expect=1).stderr
    assert "is not active" in run_cli("reps", "deactivate", SAM, "--reassign-to", RITA, expect=1).stderr
    actions = [e["action"] for e in run_cli("audit", "list", "--action", "reps", "--json").json()]
    assert actions == ["reps.deactivate", "reps.away", "reps.edit", "reps.add", "reps.add"]
