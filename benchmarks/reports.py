"""How long ``cadence report`` takes on a big tenant: one week, and all time, against a count of the touches.

    python benchmarks/reports.py --backend postgresql --sizes 1000000 [--database-url URL] [--repeat 3]
    python benchmarks/reports.py --backend sqlite --sizes 100000
    python benchmarks/reports.py --tenant-url URL   # a tenant kept by ``tenant.py --keep``: not built again

At each size a tenant is built (:func:`tenant.build`) in a database of its own, then the report is
made in-process (:func:`cadence.services.reports.generate_report`, the median of ``--repeat`` runs)
for the last week and for all time, with the time of each step, and once through the command line
(``cadence report --json``, start-up included). Before them, the first roll-up of the settled
enrollments' facts (:func:`cadence.services.reports.rollup.roll_up`, once per tenant) is timed on
its own, and the second (the mark lags one roll-up: it drops and keeps them all again). The floor,
measured in the same run, is ``SELECT count(*) FROM touches`` (one pass over the biggest table).
The last line on stdout is one JSON object; the targets are 2 s for a week and 10 s for all time
at 1M leads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, TEMPLATES, database, isolate_environment, log
from tenant import NOW, build, sample_run

WEEK_S = 2.0
ALL_TIME_S = 10.0


def floor_seconds(ctx: Any, repeat: int) -> float:
    """The median time of ``SELECT count(*) FROM touches``."""
    import sqlalchemy as sa

    times = []
    with ctx.engine.connect() as conn:
        for _ in range(repeat):
            started = time.perf_counter()
            conn.execute(sa.text("SELECT count(*) FROM touches")).scalar_one()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def _recorder(marks: list[tuple[str, float]]) -> Any:
    """A report progress callback that notes when each step starts."""
    return lambda name, _done, _total: marks.append((name, time.perf_counter()))


def time_report(ctx: Any, *, week: bool, repeat: int) -> tuple[float, dict[str, float]]:
    """The median seconds of the report (the last week's, or all time), and each step's seconds in the last run."""
    from cadence.services.reports import generate_report

    since = NOW - timedelta(days=7) if week else None
    times = []
    steps: dict[str, float] = {}
    for _ in range(repeat):
        marks: list[tuple[str, float]] = []
        started = time.perf_counter()
        generate_report(ctx, since=since, until=NOW, now=NOW, progress=_recorder(marks))
        times.append(time.perf_counter() - started)
        steps = {name: round(marks[i + 1][1] - at, 3) for i, (name, at) in enumerate(marks[:-1])}
    return statistics.median(times), steps


def time_roll_up(ctx: Any) -> dict[str, Any]:
    """Wall and CPU seconds of one roll-up of the settled enrollments' facts (the first one keeps them all)."""
    from cadence.services.reports.rollup import roll_up
    from tenant import NOW as now

    wall, cpu = time.perf_counter(), time.process_time()
    with ctx.sessions.begin() as session:
        done = roll_up(session, now)
    return {**done, "seconds": round(time.perf_counter() - wall, 3), "cpu_s": round(time.process_time() - cpu, 3)}


def time_cli(url: str, *, week: bool) -> float:
    """Seconds of ``cadence report --json`` in a process of its own (start-up included)."""
    command = [str(Path(sys.executable).parent / "cadence"), "report", "--json", "--now", NOW.isoformat()]
    if week:
        command += ["--since", (NOW - timedelta(days=7)).isoformat()]
    env = {**os.environ, "CADENCE_DATABASE_URL": url, "CADENCE_TEMPLATES_DIR": str(TEMPLATES)}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cadence report failed: {done.stderr.strip()}")
    json.loads(done.stdout)  # the --json output stays parseable (progress goes to stderr)
    return seconds


def measure(url: str, repeat: int, *, with_all_time: bool = True) -> dict[str, Any]:
    """Every figure of one tenant."""
    import sqlalchemy as sa

    from cadence.services.context import Context
    from cadence.settings import Settings

    ctx = Context(Settings(database_url=url, templates_dir=TEMPLATES))
    try:
        with ctx.engine.connect() as conn:
            leads = conn.execute(sa.text("SELECT count(*) FROM leads")).scalar_one()
            touches = conn.execute(sa.text("SELECT count(*) FROM touches")).scalar_one()
        # The first roll-up keeps the settled enrollments' facts; the mark lags one roll-up, so they are
        # used after the second, which drops and keeps them again (once per tenant: the reports then
        # roll up the new, at most hourly).
        first_roll_up = time_roll_up(ctx)
        log(f"first roll-up: {first_roll_up}")
        second_roll_up = time_roll_up(ctx)
        log(f"second roll-up: {second_roll_up}")
        time_report(ctx, week=True, repeat=1)  # warm the caches
        week, week_steps = time_report(ctx, week=True, repeat=repeat)
        all_time, all_steps = time_report(ctx, week=False, repeat=repeat) if with_all_time else (None, {})
        floor = floor_seconds(ctx, repeat)
    finally:
        ctx.close()
    result = {
        "leads": leads,
        "touches": touches,
        "week_s": round(week, 3),
        "all_time_s": None if all_time is None else round(all_time, 3),
        "floor_count_touches_s": round(floor, 3),
        "first_roll_up": first_roll_up,
        "second_roll_up": second_roll_up,
        "cli_week_s": round(time_cli(url, week=True), 3),
        "cli_all_time_s": round(time_cli(url, week=False), 3) if with_all_time else None,
        "week_steps_s": week_steps,
        "all_time_steps_s": all_steps,
    }
    log(f"{leads} leads: week {week:.2f}s, all time {all_time}s, count(*) of touches {floor:.2f}s")
    log(f"  all-time steps: {all_steps}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--database-url", help="PostgreSQL server to create the tenants' databases on")
    parser.add_argument("--sizes", default="1000000", help="leads of each tenant, comma-separated")
    parser.add_argument("--tenant-url", help="measure this tenant (built by tenant.py --keep) instead of building")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each report (the median counts)")
    parser.add_argument("--week-only", action="store_true", help="leave out the all-time report (minutes at 1M)")
    args = parser.parse_args(argv)
    isolate_environment()
    runs = []
    if args.tenant_url:
        runs.append(measure(args.tenant_url, args.repeat, with_all_time=not args.week_only))
    else:
        sample = sample_run()
        for size in [int(s) for s in args.sizes.split(",")]:
            with database(args.backend, args.database_url) as url:
                built = build(url, size, sample=sample)
                measured = measure(url, args.repeat, with_all_time=not args.week_only)
                runs.append({**measured, "build_seconds": built["build_seconds"]})
    result = {
        "backend": "postgresql" if (args.tenant_url or "").startswith("postgresql") else args.backend,
        "sizes": [r["leads"] for r in runs],
        "week_s": [r["week_s"] for r in runs],
        "all_time_s": [r["all_time_s"] for r in runs],
        "floor_count_touches_s": [r["floor_count_touches_s"] for r in runs],
        "first_roll_up_s": [r["first_roll_up"]["seconds"] for r in runs],
        "second_roll_up_s": [r["second_roll_up"]["seconds"] for r in runs],
        "cli_week_s": [r["cli_week_s"] for r in runs],
        "cli_all_time_s": [r["cli_all_time_s"] for r in runs],
        "targets_s": {"week": WEEK_S, "all_time": ALL_TIME_S},
        "runs": runs,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
