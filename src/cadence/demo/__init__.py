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
from cadence.services.leads import ImportRow, due_items, import_leads, list_leads
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


def run_demo(folder: Path, templates_dir: Path, echo: Callable[[str], None] = print) -> Context:
    """Set up the demo data and show what cadence made of it."""
    ctx = prepare(folder, templates_dir)
    with ctx.sessions() as s:
        leads = list_leads(s)
        statuses = Counter(x["status"] for x in leads)
        classes = Counter(x["class"] or "-" for x in leads)
        echo(f"demo database: {folder / 'cadence.db'}")
        echo(f"imported {len(leads)} sample people at {DEMO_START.isoformat()} (simulated clock)")
        echo("  by status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
        echo("  by class:  " + ", ".join(f"{k} {v}" for k, v in sorted(classes.items())))
        for days in (0, 1, 2):
            at = DEMO_START + timedelta(days=days, hours=8)
            items = due_items(s, now=at)
            channels = Counter(i["channel"] for i in items)
            echo(f"  due by {at:%a %Y-%m-%d %H:%M} UTC: {len(items)} step(s) " + str(dict(channels)))
    return ctx
