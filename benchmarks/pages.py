"""Every workspace page and API read under 20 concurrent users, at 10k and at 1M leads, in one run.

    python benchmarks/pages.py [--sizes 10000,1000000] [--seconds 90] [--users 20] [--database-url URL]

At each size, on a PostgreSQL database of its own, a tenant is built (``benchmarks/tenant.py``'s
``build``; with ``--own-tenant`` :func:`seed_tenant` below, cruder and faster: leads over three
years, accounts, ten touches and three tasks a lead, replies, decisions, 50 reps), one manager
account per user and rep accounts and a read API key are added, and ``cadence web`` is started as a
user starts it, its clock at the tenant's present. Then locust, headless,
runs ``benchmarks/pages_locust.py``: ``--users`` users (managers, reps and API clients, 3:2:1) who
sign in and go from page to page, 1 to 3 seconds apart, for ``--warmup`` seconds not counted (the
statistics are reset then), then ``--seconds`` measured.

The last line on stdout is one JSON object: for each page p50 and p95 in milliseconds at each size,
the worst p95 at the largest size, the worst ratio of a page's p95 at the largest size to its p95 at
the smallest, the failures, and the load average. Targets: p95 <= 300 ms at 1M leads, and <= 1.5x
the 10k time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TEMPLATES, database, isolate_environment, log

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
PASSWORD = "bench-password-1234"
SAMPLES = 300


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- The tenant ----------------------------------------------------------------------------------------

OUTCOMES = ("meeting_booked", "not_interested", "bad_fit", "no_response", "unsubscribed", "bounced")
CHANNELS = ("research", "email", "email", "linkedin", "call", "email", "email", "postcard", "call", "email")
DAYS = (1, 2, 5, 7, 8, 10, 12, 14, 18, 21)


def seed_tenant(url: str, leads: int) -> None:
    """A tenant of ``leads`` leads over three years, in bulk (``INSERT ... SELECT generate_series``).

    50 reps, one account per ten leads, one enrollment per lead on ``default``, ten touches a lead
    (sent, done or pending by the lead's age), three tasks a lead (most done, recent ones open),
    a reply for one lead in six and a decision for every lead decided. What the product would have
    written, without running it a million times.
    """
    import sqlalchemy as sa

    from cadence.adapters.files import load_cadences
    from cadence.services.cadence_versions import pin_cadence
    from cadence.services.context import Context
    from cadence.settings import Settings

    ctx = Context(Settings(database_url=url, templates_dir=TEMPLATES))
    cadence = load_cadences(TEMPLATES)["default"]
    with ctx.sessions() as session, session.begin():
        pin_cadence(session, cadence, NOW - timedelta(days=3 * 366))
    ctx.close()
    engine = sa.create_engine(url)
    start = NOW - timedelta(days=3 * 365)
    span = int((NOW - start).total_seconds())
    outcomes = "ARRAY[" + ",".join(f"'{o}'" for o in OUTCOMES) + "]"
    channels = "ARRAY[" + ",".join(f"'{c}'" for c in CHANNELS) + "]"
    days = "ARRAY[" + ",".join(str(d) for d in DAYS) + "]"
    # a lead's enrollment time: spread evenly over the three years, the newest last
    at = f"(CAST(:start AS timestamptz) + (g::bigint * {span} / :n) * interval '1 second')"
    steps = [
        "INSERT INTO reps (email, name, timezone, active, created_at) SELECT 'rep' || r || '@yourco.example', "
        "'Rep ' || r, 'America/New_York', true, :start FROM generate_series(1, 50) r",
        "INSERT INTO accounts (key, name, domain, name_key, owner_id, created_at) SELECT 'd:co' || a || '.example', "
        "'Company ' || a, 'co' || a || '.example', 'company ' || a, 1 + a % 50, :start "
        "FROM generate_series(0, GREATEST(:n / 10, 1) - 1) a",
        # status: recent leads are active or responded, older ones completed or decided
        f"INSERT INTO leads (email, first_name, last_name, title, company, industry, company_size, timezone, source, "
        f"interactions, custom, owner_id, kind, status, persona_fit, inbound, source_rank, lead_class, priority, "
        f"cadence, created_at, updated_at, account_id, country) SELECT 'lead' || g || '@co' || (g / 10) || '.example', "
        f"'First' || g, 'Last' || g, 'VP Engineering', 'Company ' || (g / 10), 'Software', 500, 'America/New_York', "
        f"(ARRAY['webinar','form','list','visit'])[1 + g % 4], 2 + g % 3, '{{}}', 1 + (g / 10) % 50, 'lead', "
        f"CASE WHEN g > :n - :n / 50 THEN (ARRAY['active','active','responded','paused'])[1 + g % 4] "
        f"WHEN g % 40 = 0 THEN (ARRAY['name','unfit','lead'])[1 + g % 3] "
        f"ELSE (ARRAY['completed','decided','decided'])[1 + g % 3] END, "
        f"true, g % 7 = 0, 1 + g % 4, (ARRAY['A','B','C'])[1 + g % 3], 1 + g % 3, 'default', {at}, {at}, "
        f"1 + g / 10, 'US' FROM generate_series(0, :n - 1) g",
        "INSERT INTO enrollments (lead_id, cadence_name, cadence_version, state, enrolled_at, anchor_at, next_step, "
        "next_due_at, priority) SELECT id, 'default', :version, CASE status WHEN 'active' THEN 'active' "
        "WHEN 'responded' "
        "THEN 'responded' WHEN 'paused' THEN 'paused' WHEN 'decided' THEN 'decided' ELSE 'completed' END, "
        "created_at, created_at, CASE WHEN status IN ('active', 'paused') THEN 5 ELSE 10 END, "
        "CASE WHEN status = 'active' THEN created_at + interval '10 days' END, 2 "
        "FROM leads WHERE status NOT IN ('name', 'unfit', 'lead')",
        f"INSERT INTO touches (enrollment_id, lead_id, step_index, day, channel, template, subject, message_id, state, "
        f"due_at, executed_at, attempts, outcome) SELECT e.id, e.lead_id, s, ({days})[s + 1], ({channels})[s + 1], "
        f"CASE WHEN ({channels})[s + 1] = 'email' THEN 'email_' || s END, "
        f"CASE WHEN ({channels})[s + 1] = 'email' THEN 'Hello again, step ' || s END, "
        f"CASE WHEN ({channels})[s + 1] = 'email' AND s < e.next_step THEN '<' || e.id || '.' || s || '@bench>' END, "
        f"CASE WHEN s >= e.next_step THEN 'pending' WHEN ({channels})[s + 1] = 'email' THEN 'sent' ELSE 'done' END, "
        f"e.anchor_at + ({days})[s + 1] * interval '1 day', "
        f"CASE WHEN s < e.next_step THEN e.anchor_at + ({days})[s + 1] * interval '1 day' END, 1, NULL "
        f"FROM enrollments e, generate_series(0, 9) s",
        "INSERT INTO tasks (lead_id, owner_id, enrollment_id, touch_id, channel, title, due_at, priority, status, "
        "created_at, completed_at, outcome) SELECT t.lead_id, l.owner_id, t.enrollment_id, t.id, t.channel, "
        "'Step ' || t.step_index || ': ' || t.channel, t.due_at, 2, CASE WHEN e.state IN ('active', 'paused', "
        "'responded') THEN 'open' ELSE 'done' END, t.due_at, CASE WHEN e.state NOT IN ('active', 'paused', "
        "'responded') THEN t.due_at + interval '3 hours' END, CASE WHEN e.state NOT IN ('active', 'paused', "
        "'responded') THEN 'done' END FROM touches t JOIN leads l ON l.id = t.lead_id "
        "JOIN enrollments e ON e.id = t.enrollment_id WHERE t.channel IN ('research', 'call', 'linkedin') "
        "AND t.state = 'done'",
        "INSERT INTO responses (lead_id, enrollment_id, kind, channel, received_at) SELECT e.lead_id, e.id, "
        "'reply', 'email', e.anchor_at + interval '6 days' FROM enrollments e WHERE e.lead_id % 6 = 0",
        f"INSERT INTO decisions (lead_id, enrollment_id, outcome, reason, qualification_skipped, decided_by, "
        f"decided_at) SELECT e.lead_id, e.id, ({outcomes})[1 + e.lead_id % 6], 'reason ' || (e.lead_id % 9), false, "
        f"'rep1@yourco.example', e.anchor_at + interval '22 days' FROM enrollments e WHERE e.state = 'decided'",
    ]
    with engine.begin() as conn:
        for sql in steps:
            conn.execute(sa.text(sql), {"start": start, "n": leads, "version": cadence.version})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def build_tenant(url: str, leads: int, *, own: bool) -> tuple[str, datetime]:
    """The tenant of ``leads`` leads, and its present: ``tenant.build``'s, else (``own``) :func:`seed_tenant`'s."""
    if own:
        seed_tenant(url, leads)
        return "pages.seed_tenant", NOW
    import tenant

    tenant.build(url, leads, quiet=True)
    return "tenant.build", tenant.NOW


def prepare(url: str, folder: Path, users: int, now: datetime) -> Path:
    """Add the people who log in and the API key; write the sample of what they ask for; return its path."""
    import sqlalchemy as sa

    from cadence.adapters.models import Account, Lead, Rep, Task, User
    from cadence.services.api_keys import Scope, create_key
    from cadence.services.context import Context
    from cadence.services.users import Role, add_user
    from cadence.settings import Settings

    ctx = Context(Settings(database_url=url, templates_dir=TEMPLATES))
    with ctx.sessions() as s, s.begin():
        # one account per user: logins in flight count against their account's limit, as they should
        reps = list(s.scalars(sa.select(Rep).order_by(Rep.id).limit(users)))
        managers = [f"boss{i}@yourco.example" for i in range(users)]
        have = set(s.scalars(sa.select(User.email)))  # a tenant reused from an earlier run has them
        for manager in managers:
            if manager not in have:
                add_user(s, manager, role=Role.MANAGER, password=PASSWORD, now=now)
        for rep in reps:
            if rep.email not in have:
                add_user(s, rep.email, role=Role.REP, password=PASSWORD, now=now)
        key = create_key(s, f"pages benchmark {os.getpid()} {time.time():.0f}", Scope.READ, now=now).key
        leads = list(s.scalars(sa.select(Lead.email).order_by(sa.func.random()).limit(SAMPLES)))
        sample = {
            "managers": managers,
            "reps": {
                rep.email: {
                    "leads": list(s.scalars(sa.select(Lead.email).where(Lead.owner_id == rep.id).limit(SAMPLES))),
                    "tasks": list(s.scalars(sa.select(Task.id).where(Task.owner_id == rep.id).limit(SAMPLES))),
                }
                for rep in reps
            },
            "password": PASSWORD,
            "api_key": key,
            "owners": list(s.scalars(sa.select(Rep.email).order_by(Rep.id))),
            "statuses": ["active", "responded", "decided", "paused", "completed"],
            "leads": leads,
            "accounts": list(s.scalars(sa.select(Account.id).order_by(sa.func.random()).limit(SAMPLES))),
            "tasks": list(s.scalars(sa.select(Task.id).order_by(sa.func.random()).limit(SAMPLES))),
            "searches": [email.split("@")[0][:6] for email in leads[:50]],
        }
    # the dashboard's numbers as cadence web keeps them (its refresher's work, timed here)
    from cadence.services.dashboard_snapshot import refresh

    started = time.perf_counter()
    refresh(ctx, now=now)
    sample["dashboard_refresh_s"] = round(time.perf_counter() - started, 1)
    log(f"dashboard numbers computed in {sample['dashboard_refresh_s']}s")
    ctx.close()
    path = folder / "sample.json"
    path.write_text(json.dumps(sample))
    return path


# -- One size --------------------------------------------------------------------------------------------


def wait_for_web(base: str, process: subprocess.Popen[bytes]) -> None:
    """Until ``cadence web`` answers ``/healthz``."""
    import httpx

    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise SystemExit("cadence web stopped")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("cadence web did not start")
        time.sleep(0.3)


def run_size(
    url: str, args: argparse.Namespace, folder: Path, now: datetime
) -> tuple[dict[str, dict[str, float]], float]:
    """Serve the tenant at ``url`` and run the users against it; each page's p50, p95 and counts, and the
    seconds the dashboard's numbers took to compute."""
    sample = prepare(url, folder, args.users, now)
    port = free_port()
    env = {
        **os.environ,
        "CADENCE_DATABASE_URL": url,
        "CADENCE_TEMPLATES_DIR": str(TEMPLATES),
        "CADENCE_SECRET_KEY": "bench-secret-key-that-is-long-enough",
        "CADENCE_API_REQUESTS_PER_MINUTE": "100000",
        "CADENCE_PAGES_SAMPLE": str(sample),
    }
    web = subprocess.Popen(
        [sys.executable, "-m", "cadence.cli", "web", "--port", str(port), "--now", now.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "web.log", "ab"),  # noqa: SIM115 - the process owns it until it ends
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_web(base, web)
        prefix = folder / "locust"
        locust = [
            str(Path(sys.executable).with_name("locust")),
            "--headless",
            "--only-summary",
            "-f",
            str(Path(__file__).with_name("pages_locust.py")),
            "--host",
            base,
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.users),
            "--run-time",
            f"{args.seconds + args.warmup}s",
            "--csv",
            str(prefix),
        ]
        env["CADENCE_PAGES_WARMUP"] = str(args.warmup)
        log(f"locust: {args.users} users for {args.seconds}s against {base}")
        with (folder / "locust.log").open("ab") as errors:
            subprocess.run(locust, env=env, check=False, stdout=subprocess.DEVNULL, stderr=errors)
        return read_stats(prefix.with_name("locust_stats.csv")), float(
            json.loads(sample.read_text())["dashboard_refresh_s"]
        )
    finally:
        web.terminate()
        try:
            web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            web.kill()


def read_stats(path: Path) -> dict[str, dict[str, float]]:
    """Each named request's p50, p95, count and failures from locust's ``_stats.csv``."""
    pages: dict[str, dict[str, float]] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            if row["Name"] == "Aggregated" or row["Name"] in ("/login", "POST /login"):
                continue
            pages[row["Name"]] = {
                "p50_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "count": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
            }
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="lead counts, comma-separated, smallest first")
    parser.add_argument("--seconds", type=int, default=90, help="how long the users are measured at each size")
    parser.add_argument("--warmup", type=int, default=15, help="seconds of work before that, not counted")
    parser.add_argument("--users", type=int, default=20, help="concurrent users")
    parser.add_argument("--database-url", help="PostgreSQL server to create the benchmark databases on")
    parser.add_argument("--keep", action="store_true", help="keep the databases (their URLs go to stderr)")
    parser.add_argument(
        "--tenant-url",
        action="append",
        default=[],
        metavar="SIZE=URL",
        help="use the tenant of SIZE leads already built at URL (kept; migrated to the head) instead of building one",
    )
    parser.add_argument("--reused-from-tenant", action="store_true", help="the reused tenants were built by tenant.py")
    parser.add_argument(
        "--own-tenant", action="store_true", help="seed with generate_series (faster, cruder) instead of tenant.py"
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    isolate_environment()

    results: list[dict[str, dict[str, float]]] = []
    builders: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="cadence-pages-"))
    reused = dict(item.split("=", 1) for item in args.tenant_url)
    refresh_seconds: list[float] = []
    for size in sizes:
        here = folder / str(size)
        here.mkdir()
        if str(size) in reused:
            # a tenant built before (migrated to the head): its present is the seeder's, or tenant.py's
            import tenant

            builders.append(f"reused ({'tenant.build' if args.reused_from_tenant else 'pages.seed_tenant'})")
            now = tenant.NOW if args.reused_from_tenant else NOW
            stats, seconds = run_size(reused[str(size)], args, here, now)
            results.append(stats)
            refresh_seconds.append(seconds)
            log(f"{size}: " + ", ".join(f"{name} {r['p95_ms']:.0f}" for name, r in sorted(results[-1].items())))
            continue
        with database("postgresql", args.database_url, keep=args.keep) as url:
            if args.keep:
                log(f"database: {url}")
            started = time.perf_counter()
            builder, now = build_tenant(url, size, own=args.own_tenant)
            builders.append(builder)
            log(f"{size} leads built in {time.perf_counter() - started:.0f}s ({builder})")
            stats, seconds = run_size(url, args, here, now)
            results.append(stats)
            refresh_seconds.append(seconds)
            log(f"{size}: " + ", ".join(f"{name} {r['p95_ms']:.0f}" for name, r in sorted(results[-1].items())))
    names = sorted(set().union(*results))
    pages: dict[str, Any] = {}
    for name in names:
        at = [result.get(name, {}) for result in results]
        pages[name] = {
            "p50_ms": [r.get("p50_ms") for r in at],
            "p95_ms": [r.get("p95_ms") for r in at],
            "requests": [int(r.get("count", 0)) for r in at],
            "failures": [int(r.get("failures", 0)) for r in at],
        }
    largest = {name: page["p95_ms"][-1] for name, page in pages.items() if page["p95_ms"][-1] is not None}
    ratios = {
        name: page["p95_ms"][-1] / page["p95_ms"][0]
        for name, page in pages.items()
        if page["p95_ms"][0] and page["p95_ms"][-1] is not None
    }
    worst = max(largest, key=lambda name: largest[name]) if largest else None
    worst_ratio = max(ratios, key=lambda name: ratios[name]) if ratios else None
    print(
        json.dumps(
            {
                "sizes": sizes,
                "users": args.users,
                "seconds": args.seconds,
                "tenant": builders,
                "pages": pages,
                "worst_p95_ms": largest.get(worst) if worst else None,
                "worst_p95_page": worst,
                "worst_ratio": round(ratios[worst_ratio], 2) if worst_ratio else None,
                "worst_ratio_page": worst_ratio,
                "failures": sum(sum(page["failures"]) for page in pages.values()),
                "dashboard_refresh_s": refresh_seconds,
                "cpus": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
