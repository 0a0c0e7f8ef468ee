"""API intake: lead creations per second through ``POST /api/v1/leads``, with p50 and p95, against a floor.

    python benchmarks/api_intake.py [--backend postgresql|sqlite] [--rate 300] [--seconds 10]
                                    [--clients 16] [--database-url URL]

On a database of its own it starts ``cadence web`` as a user runs it (one process, uvicorn), creates
an intake API key (``CADENCE_API_REQUESTS_PER_MINUTE`` raised so that the key's limit stays out of
the measurement) and a rep, then drives it with asyncio + httpx clients in this process:

- **open loop at ``--rate``** (the bar is 300/s): requests start on a fixed schedule, ``rate`` a
  second for ``--seconds``, whatever the answers do, over at most 64 connections; each one's time
  runs from its scheduled start to its answer (a request that waits for a free connection counts
  its wait). The achieved rate is answers over the time from the first start to the last answer.
- **closed loop with ``--clients``**: that many clients each send their next request as soon as the
  last is answered, for ``--seconds``: the most the app answers.

Each lead is new (its own address and, unless ``--companies N``, its own company), an inbound
contact request in a business morning's time zone: created, qualified, assigned and enrolled in one
transaction, as the API does it. The floor, in
the same run and under the same clients, is ``GET /healthz``: the same app, its middleware and its
thread pool, with no database. The floor runs before and after the leads; the worse of its two
figures is reported. ``cadence web``'s and this process's CPU seconds per request are reported
beside the rates (/proc), and ``load_avg_1m`` says how busy the machine was.

The last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TEMPLATES, database, isolate_environment, log
from speed_to_lead import free_port, percentile, zone_in_window

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


Request = Callable[[object, int], Awaitable[int]]


def summary(latencies_ms: list[float], elapsed: float, errors: int) -> dict[str, float | int]:
    """Rate (answers a second), p50, p95 and max of one phase, and its errors."""
    return {
        "requests": len(latencies_ms),
        "per_second": round(len(latencies_ms) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies_ms), 1),
        "p95_ms": round(percentile(latencies_ms, 0.95), 1),
        "max_ms": round(max(latencies_ms), 1),
        "errors": errors,
    }


async def open_loop(
    send: Callable[[int], Awaitable[int]], rate: float, seconds: float, first: int, connections: int
) -> dict:
    """``rate`` requests a second for ``seconds``, started on schedule; each timed from its scheduled start.

    At most ``connections`` are in flight; a request due while they all are waits for one (and its
    wait counts). Handing httpx thousands of waiting requests at once costs the client more CPU
    than the app spends on them.
    """
    count = round(rate * seconds)
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    in_flight = asyncio.Semaphore(connections)

    async def one(index: int) -> None:
        nonlocal errors
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        async with in_flight:
            if await send(first + index) >= 400:
                errors += 1
        latencies.append((loop.time() - scheduled) * 1000)

    await asyncio.gather(*(one(i) for i in range(count)))
    return summary(latencies, loop.time() - start, errors)


async def closed_loop(send: Callable[[int], Awaitable[int]], clients: int, seconds: float, first: int) -> dict:
    """``clients`` clients, each sending its next request when the last is answered, for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    stop = start + seconds
    counter = iter(range(first, first + 10_000_000))

    async def client() -> None:
        nonlocal errors
        while loop.time() < stop:
            began = loop.time()
            if await send(next(counter)) >= 400:
                errors += 1
            latencies.append((loop.time() - began) * 1000)

    await asyncio.gather(*(client() for _ in range(clients)))
    return summary(latencies, loop.time() - start, errors)


async def drive(base: str, key: str, web_pid: int, args: argparse.Namespace) -> dict[str, object]:
    """Every phase, floor first and last; CPU per request of the app and of the clients."""
    import httpx

    zone = zone_in_window(datetime.now(UTC))
    connections = max(64, args.clients)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:

        async def lead(index: int) -> int:
            company = index % args.companies if args.companies else index
            body = {"email": f"lead{index}@prospect{company}.example", "first_name": "Lee", "last_name": "Tester",
                    "company": f"Prospect {company}", "title": "VP Sales", "source": "contact_request",
                    "timezone": zone}  # fmt: skip
            try:
                answer = await client.post("/api/v1/leads", json=body)
            except httpx.TransportError as exc:  # counted as an error, as a client would see it
                log(f"lead {index}: {exc!r}")
                return 599
            if answer.status_code != 201:
                log(f"lead {index}: {answer.status_code} {answer.text[:200]}")
            elif not answer.json()["enrolled"]:
                log(f"lead {index} was not enrolled: {answer.text[:200]}")
                return 500
            return answer.status_code

        async def health(_index: int) -> int:
            try:
                return (await client.get("/healthz")).status_code
            except httpx.TransportError as exc:
                log(f"healthz: {exc!r}")
                return 599

        # Warm up: connections, the thread pool, the first queries' plans.
        await closed_loop(lead, 4, 2.0, 1_000_000)
        await closed_loop(health, 4, 1.0, 0)
        phases: dict[str, dict] = {}
        next_lead = 0
        for name, send, loop_kind in (
            ("floor_open_before", health, "open"),
            ("leads_open", lead, "open"),
            ("floor_open_after", health, "open"),
            ("floor_closed_before", health, "closed"),
            ("leads_closed", lead, "closed"),
            ("floor_closed_after", health, "closed"),
        ):
            app_cpu, own_cpu = process_cpu_seconds(web_pid), own_cpu_seconds()
            load = os.getloadavg()[0]
            if loop_kind == "open":
                phase = await open_loop(send, args.rate, args.seconds, next_lead, connections)
            else:
                phase = await closed_loop(send, args.clients, args.seconds, next_lead)
            if send is lead:
                next_lead += phase["requests"] + 1
            phase["app_cpu_ms_per_request"] = round(
                (process_cpu_seconds(web_pid) - app_cpu) * 1000 / phase["requests"], 2
            )
            phase["client_cpu_ms_per_request"] = round((own_cpu_seconds() - own_cpu) * 1000 / phase["requests"], 2)
            phase["load_avg_1m"] = round(max(load, os.getloadavg()[0]), 2)
            phases[name] = phase
            log(f"{name}: {phase}")
    return phases


def worse(a: dict, b: dict) -> dict:
    """Of two floor phases, the slower (lower rate, and the higher of each percentile)."""
    return {
        "per_second": min(a["per_second"], b["per_second"]),
        "p50_ms": max(a["p50_ms"], b["p50_ms"]),
        "p95_ms": max(a["p95_ms"], b["p95_ms"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--rate", type=float, default=300.0, help="requests a second in the open-loop phases")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=16, help="clients in the closed-loop phases")
    parser.add_argument(
        "--companies", type=int, default=0, help="spread the leads over this many companies (default: one each)"
    )
    parser.add_argument("--database-url", help="PostgreSQL server to create the benchmark database on")
    args = parser.parse_args(argv)
    isolate_environment()

    import httpx

    from cadence.services.api_keys import Scope, create_key
    from cadence.services.context import Context
    from cadence.services.reps import add_rep
    from cadence.settings import Settings

    with database(args.backend, args.database_url) as url:
        env = {
            **os.environ,
            "CADENCE_DATABASE_URL": url,
            "CADENCE_TEMPLATES_DIR": str(TEMPLATES),
            "CADENCE_SECRET_KEY": "bench-secret",
            "CADENCE_API_REQUESTS_PER_MINUTE": "100000",
        }
        os.environ.update(env)
        ctx = Context(Settings())
        now = datetime.now(UTC)
        with ctx.sessions() as s, s.begin():
            add_rep(s, "rita@yourco.example", "Rita Alvarez", now=now)
            key = create_key(s, "intake benchmark", Scope.INTAKE, now=now).key
        ctx.close()
        port = free_port()
        web = subprocess.Popen(
            [sys.executable, "-m", "cadence.cli", "web", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or web.poll() is not None:
                    raise SystemExit("cadence web did not start")
                time.sleep(0.2)
            phases = asyncio.run(drive(base, key, web.pid, args))
        finally:
            web.terminate()
            try:
                web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                web.kill()
    leads_open, leads_closed = phases["leads_open"], phases["leads_closed"]
    floor_open = worse(phases["floor_open_before"], phases["floor_open_after"])
    floor_closed = worse(phases["floor_closed_before"], phases["floor_closed_after"])
    result = {
        "backend": args.backend,
        "rate_offered": args.rate,
        "clients": args.clients,
        "seconds": args.seconds,
        "leads_per_second": leads_open["per_second"],
        "leads_p50_ms": leads_open["p50_ms"],
        "leads_p95_ms": leads_open["p95_ms"],
        "floor_per_second": floor_open["per_second"],
        "floor_p50_ms": floor_open["p50_ms"],
        "floor_p95_ms": floor_open["p95_ms"],
        "leads_max_per_second": leads_closed["per_second"],
        "leads_closed_p95_ms": leads_closed["p95_ms"],
        "floor_max_per_second": floor_closed["per_second"],
        "ratio_max": round(leads_closed["per_second"] / floor_closed["per_second"], 2),
        "app_cpu_ms_per_lead": leads_closed["app_cpu_ms_per_request"],
        "app_cpu_ms_per_floor_request": phases["floor_closed_before"]["app_cpu_ms_per_request"],
        "errors": sum(p["errors"] for p in phases.values()),
        "met": leads_open["per_second"] >= 0.98 * args.rate and leads_open["p95_ms"] < 100,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(max(p["load_avg_1m"] for p in phases.values()), 2),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
