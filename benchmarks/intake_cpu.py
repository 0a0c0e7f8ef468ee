"""Where an import's and the API's time goes: CPU and statements per row, in this process, without HTTP.

    python benchmarks/intake_cpu.py --rows 10000 [--backend postgresql|sqlite] [--profile FILE]
    python benchmarks/intake_cpu.py --api 300 [--backend postgresql|sqlite] [--profile FILE]

On a fresh database of our own: with ``--rows``, five reps and two suppressions, then
``run_import`` of the CSV file ``import_speed.py`` writes (the same rows); with ``--api``, one rep,
then that many new people through ``upsert_lead`` (what ``POST /api/v1/leads`` does in its
transaction), each at a company of its own, one transaction each, after 20 unmeasured ones.
Measured: this process's CPU (``time.process_time``), the wall time, the SQL statements sent, and
on PostgreSQL the CPU of the server processes that served them (``/proc/PID/stat``). With
``--profile FILE``, a cProfile with a CPU clock is written there (the figures then include its cost).
The last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MONDAY, TEMPLATES, database, isolate_environment, log
from import_speed import write_csv


def _server_cpu(pids: set[int]) -> float:
    """CPU seconds of the PostgreSQL server processes ``pids`` so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="import a file of this many rows")
    parser.add_argument("--api", type=int, default=0, help="create this many people one at a time")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--database-url", help="PostgreSQL server to create the database on")
    parser.add_argument("--profile", help="write a cProfile (CPU clock) of the measured part here")
    args = parser.parse_args()
    if bool(args.rows) == bool(args.api):
        parser.error("give --rows or --api")
    isolate_environment()
    with database(args.backend, args.database_url) as url:
        os.environ["CADENCE_DATABASE_URL"] = url
        os.environ["CADENCE_TEMPLATES_DIR"] = str(TEMPLATES)
        from sqlalchemy import event

        from cadence.services.context import Context
        from cadence.services.intake import upsert_lead
        from cadence.services.lead_import import FileImport, run_import
        from cadence.services.reps import add_rep
        from cadence.services.suppression import suppress
        from cadence.settings import Settings

        ctx = Context(Settings())
        with ctx.sessions() as s, s.begin():
            for number in range(5 if args.rows else 1):
                add_rep(s, f"rep{number}@yourco.example", f"Rep {number}", now=MONDAY)
            if args.rows:
                for value in ("lead5@co5.example", "@co7.example"):
                    suppress(s, value, now=MONDAY)

        def person(i: int) -> None:
            values = {"email": f"p{i}@c{i}.example", "first_name": "Ann", "last_name": "Lee", "title": "VP Sales",
                      "company": f"Company {i}", "source": "contact_form", "timezone": "America/New_York",
                      "country": "US"}  # fmt: skip
            with ctx.sessions() as s, s.begin():
                upsert_lead(ctx, s, values, {}, now=MONDAY)

        source = Path(os.environ.get("TMPDIR", "/tmp")) / f"cadence-intake-cpu-{os.getpid()}.csv"
        if args.rows:
            write_csv(source, args.rows)
        else:
            for i in range(20):
                person(-1 - i)
        pids: set[int] = set()
        statements = [0]
        if args.backend == "postgresql":
            event.listen(ctx.engine, "connect", lambda dbapi, _record: pids.add(dbapi.info.backend_pid))
            ctx.engine.dispose()  # new connections, whose server processes are counted
        event.listen(
            ctx.engine, "before_cursor_execute", lambda *_a, **_k: statements.__setitem__(0, statements[0] + 1)
        )
        profile = cProfile.Profile(time.process_time)
        log(f"measuring ({args.backend})")
        cpu, wall = time.process_time(), time.perf_counter()
        if args.profile:
            profile.enable()
        counts: dict[str, Any] = {}
        try:
            if args.rows:
                report = run_import(ctx, FileImport(source, by="bench"), now=MONDAY).as_dict()
                names = ("imported", "updated", "enrolled", "names", "unfit", "suppressed", "rejected")
                counts = {name: report[name] for name in names}
            else:
                for i in range(args.api):
                    person(i)
        finally:
            if args.profile:
                profile.disable()
            source.unlink(missing_ok=True)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        server = _server_cpu(pids) if pids else None
        if args.profile:
            profile.dump_stats(args.profile)
        ctx.close()
    n = args.rows or args.api
    result = {
        "benchmark": "intake_cpu",
        "what": "import" if args.rows else "api",
        "backend": args.backend,
        "n": n,
        "client_cpu_us_each": round(1e6 * cpu / n),
        "server_cpu_us_each": round(1e6 * server / n) if server is not None else None,
        "wall_us_each": round(1e6 * wall / n),
        "statements_each": round(statements[0] / n, 2),
        "seconds": round(wall, 2),
        **counts,
        "profiled": bool(args.profile),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
