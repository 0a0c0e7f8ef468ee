"""Does finding and claiming due steps stay cheap as enrollments grow? PostgreSQL, 100k then 1M enrollments.

    python benchmarks/scale.py --backend postgresql [--database-url URL] [--sizes 100000,1000000]

A database of our own is created on the server (default: the local one) and dropped at the end. It
is seeded in bulk (``INSERT ... SELECT`` from ``generate_series``, copying a lead imported through the
real code path) with ``--due-share`` of the enrollments due (due times spread over the last day, many
sharing the same instant, as after a bulk import) and the rest due over the next 30 days.

At each size it times what each advance batch does to find its work: the lapsed-pause look-up and
``claim_due`` for ``--batch-size`` steps, committed (the median of ``--batches`` batches), and shows
the plan (EXPLAIN ANALYZE) of both queries. The last line on stdout is one JSON object with both
times and their ratio. The time of one batch must not grow with the table: it reads the oldest
due rows off the partial indexes and stops.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MONDAY, TEMPLATES, database, isolate_environment, log, seed_due_leads

NOW = MONDAY + timedelta(days=30)  # everything "due" is due before this


def grow(ctx: Any, target: int, due_share: float) -> float:
    """Add enrollments (and their leads) until there are ``target``; return the seconds it took."""
    import sqlalchemy as sa

    started = time.perf_counter()
    every = max(1, round(1 / due_share))
    with ctx.engine.begin() as conn:
        template_lead, template_enrollment = conn.execute(
            sa.text("SELECT lead_id, id FROM enrollments ORDER BY id LIMIT 1")
        ).one()
        have = conn.execute(sa.text("SELECT count(*) FROM enrollments")).scalar_one()
        if have >= target:
            return 0.0
        # account_id left out: independent leads, outside the account gate (one email a day per company)
        cols = ", ".join(_columns(conn, "leads", "id", "email", "first_name", "account_id"))
        conn.execute(
            sa.text(
                f"INSERT INTO leads (email, first_name, {cols}) "
                f"SELECT 'scale' || g || '@acme.example', 'Scale' || g, {cols} "
                "FROM leads, generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS g "
                "WHERE leads.id = :template"
            ),
            {"start": have, "stop": target - 1, "template": template_lead},
        )
        enrollment_columns = _columns(conn, "enrollments", "id", "lead_id", "next_due_at")
        ecols = ", ".join(enrollment_columns)
        ecols_e = ", ".join(f"e.{c}" for c in enrollment_columns)
        # Every `every`-th enrollment is due: within the last day, many at the same minute (an import);
        # the others fall due over the next 30 days.
        conn.execute(
            sa.text(
                f"INSERT INTO enrollments (lead_id, next_due_at, {ecols}) "
                f"SELECT l.id, CASE WHEN l.id % CAST(:every AS integer) = 0 "
                "THEN CAST(:now AS timestamp) - (l.id % 97) * interval '15 minutes' "
                "ELSE CAST(:now AS timestamp) + (l.id % 43200) * interval '1 minute' + interval '1 minute' END, "
                f"{ecols_e} FROM leads l, enrollments e "
                "WHERE e.id = :template AND l.id > (SELECT max(lead_id) FROM enrollments)"
            ),
            {"every": every, "now": NOW.replace(tzinfo=None), "template": template_enrollment},
        )
    with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE leads"))
        conn.execute(sa.text("VACUUM ANALYZE enrollments"))
        conn.execute(sa.text("VACUUM ANALYZE touches"))
    return time.perf_counter() - started


def _columns(conn: Any, table: str, *leave_out: str) -> list[str]:
    """The columns of ``table`` but ``leave_out``, in order."""
    import sqlalchemy as sa

    query = sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :table ORDER BY ordinal_position"
    )
    return [c for c in conn.execute(query, {"table": table}).scalars() if c not in leave_out]


def reset_claims(ctx: Any) -> None:
    """Undo the claims of a measurement: no touches, and the claimed enrollments due as they were."""
    import sqlalchemy as sa

    with ctx.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE enrollments SET next_due_at = CAST(:now AS timestamp) - (lead_id % 97) * interval '15 minutes' "
                "WHERE id IN (SELECT enrollment_id FROM touches)"
            ),
            {"now": NOW.replace(tzinfo=None)},
        )
        conn.execute(sa.text("DELETE FROM touches"))
    with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE enrollments"))
        conn.execute(sa.text("VACUUM ANALYZE touches"))


def plans(ctx: Any, batch_size: int) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of the two look-ups an advance batch makes (in a transaction rolled back)."""
    import sqlalchemy as sa

    from cadence.adapters.models import Enrollment

    queries = {
        "claim": sa.select(Enrollment)
        .where(Enrollment.state == "active", Enrollment.next_due_at <= NOW)
        .order_by(Enrollment.next_due_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True, of=Enrollment),
        "lapsed_pauses": sa.select(Enrollment)
        .where(Enrollment.state == "paused", Enrollment.paused_until <= NOW)
        .order_by(Enrollment.paused_until)
        .limit(batch_size)
        .with_for_update(skip_locked=True, of=Enrollment),
    }
    result: dict[str, list[str]] = {}
    with ctx.engine.connect() as conn:
        for name, query in queries.items():
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            result[name] = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")]
        conn.rollback()
    return result


def time_claims(ctx: Any, batch_size: int, batches: int) -> list[float]:
    """Seconds of each of ``batches`` successive batches' look-ups: lapsed pauses, then claim_due (committed)."""
    from cadence.services.advance import resume_lapsed_pauses
    from cadence.services.claims import claim_due

    times = []
    for _ in range(batches):
        started = time.perf_counter()
        resume_lapsed_pauses(ctx, now=NOW, limit=batch_size)
        with ctx.sessions() as session, session.begin():
            batch = claim_due(session, now=NOW, limit=batch_size, settings=ctx.settings)
        times.append(time.perf_counter() - started)
        if len(batch.claims) < batch_size:
            log(f"only {len(batch.claims)} steps were due: use a bigger size or a smaller batch")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql"], default="postgresql")
    parser.add_argument("--database-url", help="PostgreSQL server to create the benchmark database on")
    parser.add_argument("--sizes", default="100000,1000000", help="enrollment counts, comma-separated, ascending")
    parser.add_argument("--due-share", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=200, help="steps per claim (CADENCE_BATCH_SIZE)")
    parser.add_argument("--batches", type=int, default=5, help="claims timed at each size (the median counts)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    isolate_environment()

    from cadence.services.context import Context
    from cadence.settings import Settings

    result: dict[str, Any] = {"backend": args.backend, "batch_size": args.batch_size, "due_share": args.due_share}
    claim_ms: dict[str, float] = {}
    seed_s: dict[str, float] = {}
    index_used: dict[str, bool] = {}
    with database(args.backend, args.database_url) as url:
        ctx = Context(Settings(database_url=url, templates_dir=TEMPLATES))
        seed_due_leads(ctx, 1, prefix="scale", now=MONDAY)  # the template lead, through the real import
        for size in sizes:
            seconds = grow(ctx, size, args.due_share)
            seed_s[str(size)] = round(seconds, 1)
            log(f"{size} enrollments ({seconds:.0f}s to add them)")
            shown = plans(ctx, args.batch_size)
            for name, lines in shown.items():
                log(f"plan of the {name} query at {size}:\n    " + "\n    ".join(lines))
            index_used[str(size)] = all(
                any("Index Scan" in line or "Index Only Scan" in line for line in lines) for lines in shown.values()
            ) and not any("Seq Scan on enrollments" in line for lines in shown.values() for line in lines)
            time_claims(ctx, args.batch_size, 1)  # warm the caches and the connection pool
            reset_claims(ctx)
            times = time_claims(ctx, args.batch_size, args.batches)
            claim_ms[str(size)] = round(statistics.median(times) * 1000, 2)
            log(f"claims at {size}: " + ", ".join(f"{t * 1000:.1f} ms" for t in times))
            reset_claims(ctx)
        ctx.close()
    first, last = claim_ms[str(sizes[0])], claim_ms[str(sizes[-1])]
    result.update(
        sizes=sizes,
        claim_batch_ms=claim_ms,
        ratio=round(last / first, 3),
        index_used=index_used,
        seed_seconds=seed_s,
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
