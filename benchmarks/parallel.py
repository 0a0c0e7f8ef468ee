"""Two advance runs at once on PostgreSQL: they split the work, do no step twice, and finish sooner than one.

    python benchmarks/parallel.py [--steps N] [--database-url URL] [--runs 2]

On one database of our own (created on the server, dropped at the end), with the SMTP sink of
``benchmarks/sink.py`` in its own process and one Prefect server:

1. N due leads are seeded and one advance flow run (in a process of its own) sends them all: the rate of one run;
2. N other due leads are seeded and ``--runs`` advance flow runs are started at once, each in its own
   process (as several Prefect workers would run them); the rate is N over the time until the last ends;
3. every email must have reached the sink exactly once (no X-Cadence-Touch twice) and every touch be
   ``sent`` once. The last line on stdout is one JSON object with both rates and their factor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SEND, SinkProcess, database, flow_environment, isolate_environment, log, seed_due_leads


def worker(batch_size: int) -> int:
    """One advance flow run (the environment says where); prints its report and duration as JSON."""
    from flows.advance import advance_cadences

    started = time.perf_counter()
    report = asyncio.run(advance_cadences(now=SEND, batch_size=batch_size))
    print(json.dumps({"seconds": time.perf_counter() - started, "report": report}), flush=True)
    return 0


def run_workers(count: int, batch_size: int, env: dict[str, str]) -> tuple[float, list[dict[str, Any]]]:
    """Start ``count`` advance flow runs at once, each in its own process; (seconds until the last ends, outputs)."""
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", "--batch-size", str(batch_size)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    outputs = []
    for process in processes:
        out, _ = process.communicate(timeout=3600)
        if process.returncode != 0:
            raise SystemExit(f"an advance run failed (exit {process.returncode})")
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return time.perf_counter() - started, outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000, help="due email steps for each measurement")
    parser.add_argument("--database-url", help="PostgreSQL server to create the benchmark database on")
    parser.add_argument("--runs", type=int, default=2, help="advance runs at once")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections of each run")
    parser.add_argument("--batch-size", type=int, default=500, help="due steps per batch")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.batch_size)
    isolate_environment()

    import sqlalchemy as sa
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from cadence.adapters.models import Touch
    from cadence.services.context import Context
    from cadence.settings import Settings

    result: dict[str, Any] = {"backend": "postgresql", "steps": args.steps, "runs": args.runs}
    with SinkProcess() as sink, database("postgresql", args.database_url) as url:
        flow_environment(url, sink.port, connections=args.connections, batch_size=args.batch_size)
        with prefect_test_harness(server_startup_timeout=120):
            env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
            ctx = Context(Settings())
            rates: dict[int, float] = {}
            for runs, prefix in ((1, "one"), (args.runs, "many")):
                sink.reset()
                seed_due_leads(ctx, args.steps, prefix=prefix)
                seconds, outputs = run_workers(runs, args.batch_size, env)
                stats = sink.wait_for(args.steps)
                sent = [o["report"]["emails_sent"] for o in outputs]
                rates[runs] = args.steps / seconds
                log(f"{runs} run(s) at once: {sent} emails in {seconds:.1f}s = {rates[runs]:.0f}/s; sink {stats}")
                if sum(sent) != args.steps or stats["messages"] != args.steps or stats["duplicate_touches"]:
                    raise SystemExit(f"the runs did not send each email exactly once: {sent} {stats}")
                if runs > 1 and min(sent) == 0:
                    raise SystemExit(f"one run did nothing: the work was not split ({sent})")
                result[f"sent_by_each_{runs}"] = sent
            with ctx.sessions() as session:
                touches = session.execute(
                    sa.select(sa.func.count(), sa.func.count(sa.distinct(Touch.enrollment_id))).where(
                        Touch.state == "sent"
                    )
                ).one()
            if touches[0] != 2 * args.steps or touches[1] != 2 * args.steps:
                raise SystemExit(f"touches: {touches[0]} sent for {touches[1]} enrollments, expected {2 * args.steps}")
            ctx.close()
    result.update(
        one_run_per_s=round(rates[1], 1),
        parallel_per_s=round(rates[args.runs], 1),
        factor=round(rates[args.runs] / rates[1], 2),
        duplicate_sends=0,
        cpus=os.cpu_count(),
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
