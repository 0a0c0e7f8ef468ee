"""The demo: cadence on sample data with nothing configured (``cadence demo``, ``make demo``).

It always uses its own fresh SQLite database under ``./var/demo/``, whatever the environment says,
so that it can never touch a real database.

The story: 25 sample people are imported on a Monday (:data:`DEMO_START`); the advance flow runs on
a simulated clock while scripted events play (replies, an unsubscribe, a meeting) and the reps work
their tasks. :data:`HANDOVER_DAYS` before the end the scripted reps stop and three more people arrive
(:data:`ARRIVALS`): their tasks are left for a person to work in the workspace (``cadence web``), on
the demo accounts the demo creates and prints, with the clock at the end of the simulation.
"""

from __future__ import annotations

import csv
import secrets
import shlex
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from cadence.adapters.csv_leads import parse_leads_csv
from cadence.adapters.schema import upgrade
from cadence.errors import CadenceError
from cadence.services.context import Context
from cadence.services.lead_views import list_leads
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep
from cadence.services.users import Role, add_user
from cadence.settings import Settings

DEMO_START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # a Monday; the demo's clock is simulated
HANDOVER_DAYS = 6
"""How many days before the end the scripted reps stop working and :data:`ARRIVALS` are imported."""
ARRIVALS = "arrivals.csv"
"""The people who arrive at the hand-over (an inbound contact request among them)."""
WEB_URL = "http://127.0.0.1:8000"
"""Where ``cadence web`` listens by default."""


@dataclass(frozen=True)
class DemoAccount:
    """An account of the workspace the demo creates, and what its role sees there."""

    email: str
    role: Role
    name: str
    sees: str


DEMO_ACCOUNTS = (
    DemoAccount("rita.rep@cadence.example", Role.REP, "Rita Alvarez", "her tasks and leads: outcomes, decisions"),
    DemoAccount("mia.marketer@cadence.example", Role.MARKETER, "Mia Marketer", "cadences, templates, live previews"),
    DemoAccount("max.manager@cadence.example", Role.MANAGER, "Max Manager", "the dashboard, every rep's tasks"),
)
"""One account per role; the rep's is Rita's, one of the demo's two reps."""
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def sample_bytes(name: str) -> bytes:
    """A packaged sample file (``leads.csv`` or ``reps.csv``)."""
    return resources.files("cadence.demo").joinpath(name).read_bytes()


def prepare(folder: Path, templates_dir: Path) -> Context:
    """A fresh demo database in ``folder`` with the sample reps and leads imported at :data:`DEMO_START`."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    settings = Settings(database_url=f"sqlite:///{folder / 'cadence.db'}", templates_dir=templates_dir)
    ctx = Context(settings)
    upgrade(ctx.engine)
    parsed = parse_leads_csv(sample_bytes("leads.csv"))
    with ctx.sessions() as s, s.begin():
        for row in csv.DictReader(sample_bytes("reps.csv").decode().splitlines()):
            add_rep(
                s,
                row["email"],
                row["name"],
                now=DEMO_START,
                signature=row["signature"],
                timezone=row["timezone"],
                daily_email_cap=int(row["daily_email_cap"]),
            )
        import_leads(
            s,
            [ImportRow(r.row, r.lead) for r in parsed.rows],
            now=DEMO_START,
            settings=settings,
            rules=ctx.rules,
            cadences=ctx.cadences,
        )
    return ctx


def new_password() -> str:
    """A random password for the demo accounts, easy to type: ``k7pq-3xna-9dmf-v2hc`` (about 79 bits)."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


def add_accounts(ctx: Context, password: str) -> None:
    """The workspace accounts of :data:`DEMO_ACCOUNTS`, all with ``password`` (hashed with argon2id)."""
    with ctx.sessions() as s, s.begin():
        for account in DEMO_ACCOUNTS:
            add_user(s, account.email, role=account.role, password=password, now=DEMO_START, name=account.name)


def import_arrivals(ctx: Context, now: datetime) -> list[str]:
    """Import :data:`ARRIVALS` at ``now`` (each with its owner; enrolled as leads); their addresses."""
    parsed = parse_leads_csv(sample_bytes(ARRIVALS))
    with ctx.sessions() as s, s.begin():
        import_leads(
            s,
            [ImportRow(r.row, r.lead) for r in parsed.rows],
            now=now,
            settings=ctx.settings,
            rules=ctx.rules,
            cadences=ctx.cadences,
        )
    return [r.lead.email for r in parsed.rows if r.lead.email is not None]


def _shown(path: Path) -> str:
    """``path`` as a command typed in the current folder shows it: relative inside it, else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def cadence_command() -> str:
    """How to run this installation's ``cadence`` from here: ``cadence`` when it is the one on PATH, else its path."""
    script = Path(sys.executable).parent / "cadence"
    if not script.exists():
        return "cadence"
    found = shutil.which("cadence")
    if found is not None and Path(found).resolve() == script.resolve():
        return "cadence"
    return _shown(script)


def web_command(folder: Path, templates_dir: Path, now: datetime) -> str:
    """The exact ``cadence web`` command that serves the workspace on the demo's database, at the demo's ``now``."""
    env = {
        "CADENCE_DATABASE_URL": f"sqlite:///{_shown(folder / 'cadence.db')}",
        "CADENCE_TEMPLATES_DIR": _shown(templates_dir),
        "CADENCE_BASE_URL": WEB_URL,
    }
    words = [f"{key}={shlex.quote(value)}" for key, value in env.items()]
    words += [shlex.quote(cadence_command()), "web", "--now", now.isoformat()]
    return " ".join(words)


def workspace_instructions(folder: Path, templates_dir: Path, now: datetime, password: str) -> list[str]:
    """What the demo ends with: how to open the workspace on its data, and the accounts to log in with."""
    width = max(len(a.email) for a in DEMO_ACCOUNTS)
    lines = [
        "open the workspace on the demo data (run this from this folder; Ctrl-C stops it):",
        f"  {web_command(folder, templates_dir, now)}",
        f"then go to {WEB_URL}/login and log in with the password {password} as",
    ]
    lines += [f"  {a.email.ljust(width)}  {a.role.value:<8}  {a.sees}" for a in DEMO_ACCOUNTS]
    lines.append(
        "the password is shown only here; `cadence users set-password EMAIL` (same CADENCE_DATABASE_URL) sets another"
    )
    ended = now.astimezone(UTC)
    lines.append(f"the workspace's clock starts at the simulation's end ({ended:%a %Y-%m-%d %H:%M} UTC) and runs on")
    return lines


def run_demo(folder: Path, templates_dir: Path, echo: Callable[[str], None] = print, days: int = 35) -> Context:
    """Set up the demo data, run the advance flow on a simulated clock over the cadence, and report.

    It ends with how to open the workspace on the demo data (:func:`workspace_instructions`).
    """
    import asyncio
    import os

    from cadence.adapters.smtp_sink import SmtpSink

    if days <= HANDOVER_DAYS:
        raise ValueError(f"the demo runs for more than {HANDOVER_DAYS} days")
    ctx = prepare(folder, templates_dir)
    password = new_password()
    add_accounts(ctx, password)
    with ctx.sessions() as s:
        leads = list_leads(s)
    statuses = Counter(x["status"] for x in leads)
    classes = Counter(x["class"] or "-" for x in leads)
    echo(f"demo database: {folder / 'cadence.db'}")
    echo(f"imported {len(leads)} sample people at {DEMO_START.isoformat()} (simulated clock)")
    echo("  by status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    echo("  by class:  " + ", ".join(f"{k} {v}" for k, v in sorted(classes.items())))
    maildir = folder / "mail"
    with SmtpSink(maildir) as sink:
        os.environ.update(
            {
                "CADENCE_DATABASE_URL": ctx.settings.database_url,
                "CADENCE_TEMPLATES_DIR": str(templates_dir),
                "CADENCE_SMTP_HOST": sink.host,
                "CADENCE_SMTP_PORT": str(sink.port),
                "CADENCE_SMTP_TLS": "none",
            }
        )
        end = DEMO_START + timedelta(days=days)
        handover = end - timedelta(days=HANDOVER_DAYS)
        echo(f"simulating {DEMO_START:%Y-%m-%d} to {end:%Y-%m-%d} with the advance flow; mail goes to {maildir}")
        echo(f"  the reps work their tasks until {handover:%a %Y-%m-%d}, when three more people arrive:")
        echo("  their tasks are left for you, in the workspace")
        result = asyncio.run(_simulate(ctx, DEMO_START, handover, end))
        received = sink.count()
    echo("")
    for line in timeline(ctx):
        echo(line)
    echo("")
    for line in summary(ctx, result, received):
        echo(line)
    echo(f"every email sent is in the Maildir {maildir.resolve()}")
    echo(f"explore it: CADENCE_DATABASE_URL=sqlite:///{_shown(folder / 'cadence.db')} {cadence_command()} leads list")
    echo("")
    for line in workspace_instructions(folder, templates_dir, end, password):
        echo(line)
    return ctx


async def _simulate(ctx: Context, start: datetime, handover: datetime, end: datetime) -> dict[str, object]:
    """The demo's scenario until ``handover``; then the arrivals, and the flow alone (nobody works the tasks)."""
    from flows.advance import simulate_cadences

    worked = _report(await simulate_cadences(start, handover, 3600, "demo"))
    import_arrivals(ctx, handover)
    left = _report(await simulate_cadences(handover, end, 3600))
    return _added(worked, left)


def _report(result: object) -> dict[str, object]:
    """A simulation's report. (A failed run raises its error when the flow is called: no report to add.)"""
    if not isinstance(result, dict):
        raise CadenceError(f"the simulation ended without a report ({type(result).__name__})")
    return result


def _added(first: dict[str, object], second: dict[str, object]) -> dict[str, object]:
    """Two simulation results as one: counts added, counts by key added, lists joined."""
    total: dict[str, object] = {}
    for key in first.keys() | second.keys():
        a, b = first.get(key), second.get(key)
        if isinstance(a, int) and isinstance(b, int):
            total[key] = a + b
        elif isinstance(a, dict) and isinstance(b, dict):
            total[key] = dict(sorted((Counter(a) + Counter(b)).items()))
        elif isinstance(a, list) and isinstance(b, list):
            total[key] = a + b
        else:
            total[key] = b if a is None else a
    return total


_LABELS = {
    "email": "email(s) sent",
    "call": "call task(s)",
    "linkedin": "LinkedIn task(s)",
    "research": "research task(s)",
    "postcard": "postcard(s)",
    "task": "task(s)",
}


def timeline(ctx: Context) -> list[str]:
    """One line per simulated day: what was sent, which tasks were created, replies and decisions."""
    from sqlalchemy import select

    from cadence.adapters.models import Decision, Lead, Response, Task, Touch

    days: dict[str, list[str]] = {}
    with ctx.sessions() as s:
        emails = s.execute(
            select(Touch.executed_at, Touch.step_index).where(Touch.channel == "email", Touch.state == "sent")
        ).all()
        for at, _ in emails:
            days.setdefault(at.date().isoformat(), []).append("email")
        for task in s.scalars(select(Task)):
            days.setdefault(task.created_at.date().isoformat(), []).append(task.channel)
        for at, email, kind in s.execute(
            select(Response.received_at, Lead.email, Response.kind).join(Lead, Lead.id == Response.lead_id)
        ):
            days.setdefault(at.date().isoformat(), []).append(f"{kind} from {email}")
        for at, email, outcome in s.execute(
            select(Decision.decided_at, Lead.email, Decision.outcome).join(Lead, Lead.id == Decision.lead_id)
        ):
            days.setdefault(at.date().isoformat(), []).append(f"decision {outcome} for {email}")
        for at, email, source in s.execute(
            select(Lead.created_at, Lead.email, Lead.source).where(Lead.created_at > DEMO_START)
        ):
            days.setdefault(at.date().isoformat(), []).append(f"new {source or 'lead'}: {email}")
    lines = ["day-by-day (UTC dates):"]
    for day in sorted(days):
        counts = Counter(x for x in days[day] if " " not in x)
        events = [x for x in days[day] if " " in x]
        when = datetime.fromisoformat(day)
        head = ", ".join(f"{n} {_LABELS.get(k, k)}" for k, n in sorted(counts.items()))
        lines.append(f"  {when:%a %Y-%m-%d}  {head}")
        lines.extend(f"                  {e}" for e in events)
    return lines


def summary(ctx: Context, result: dict[str, object], received: int) -> list[str]:
    """Emails per step, tasks per channel, decisions by outcome and reason."""
    from sqlalchemy import func, select

    from cadence.adapters.models import Decision, Task, Touch

    lines = ["summary:"]
    with ctx.sessions() as s:
        per_step = s.execute(
            select(Touch.day, Touch.template, func.count())
            .where(Touch.channel == "email", Touch.state == "sent")
            .group_by(Touch.day, Touch.template)
            .order_by(Touch.day)
        ).all()
        lines.append(f"  emails sent: {sum(n for _, _, n in per_step)} (the SMTP sink received {received})")
        lines.extend(f"    day {day:>2} {template}: {n}" for day, template, n in per_step)
        tasks = s.execute(select(Task.channel, Task.status, func.count()).group_by(Task.channel, Task.status)).all()
        lines.append("  tasks created: " + ", ".join(f"{c} {st} {n}" for c, st, n in sorted(tasks)))
        decisions = s.execute(
            select(Decision.outcome, Decision.reason, func.count()).group_by(Decision.outcome, Decision.reason)
        ).all()
        lines.append(f"  decisions: {sum(n for _, _, n in decisions)}")
        lines.extend(f"    {o}: {n} ({r})" for o, r, n in sorted(decisions, key=lambda d: (-d[2], d[0])))
    lines.append(f"  flow: {result.get('ticks')} ticks, {result.get('batches')} batch task runs, "
                 f"uncertain {result.get('uncertain')}, retried {result.get('retried')}")  # fmt: skip
    return lines
