"""The demo: cadence on sample data with nothing configured (``cadence demo``, ``make demo``).

It always uses its own fresh SQLite database under ``./var/demo/``, whatever the environment says,
so that it can never touch a real database.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from cadence.adapters.csv_leads import parse_leads_csv
from cadence.adapters.schema import upgrade
from cadence.services.context import Context
from cadence.services.leads import ImportRow, import_leads, list_leads
from cadence.services.reps import add_rep
from cadence.settings import Settings

DEMO_START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # a Monday; the demo's clock is simulated


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


def run_demo(folder: Path, templates_dir: Path, echo: Callable[[str], None] = print, days: int = 35) -> Context:
    """Set up the demo data, run the advance flow on a simulated clock over the cadence, and report."""
    import asyncio
    import os

    from cadence.adapters.smtp_sink import SmtpSink

    ctx = prepare(folder, templates_dir)
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
        from flows.advance import simulate_cadences

        end = DEMO_START + timedelta(days=days)
        echo(f"simulating {DEMO_START:%Y-%m-%d} to {end:%Y-%m-%d} with the advance flow; mail goes to {maildir}")
        result = asyncio.run(simulate_cadences(DEMO_START, end, 3600, "demo"))
        received = sink.count()
    echo("")
    for line in timeline(ctx):
        echo(line)
    echo("")
    for line in summary(ctx, result, received):
        echo(line)
    echo(f"every email sent is in the Maildir {maildir.resolve()}")
    return ctx


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
