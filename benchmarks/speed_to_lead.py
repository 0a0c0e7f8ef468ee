"""Speed to lead, end to end: an inbound lead POSTed to the API until its first email is at the SMTP sink.

    python benchmarks/speed_to_lead.py [--backend postgresql|sqlite] [--leads N] [--database-url URL]

On a database of its own, with the SMTP sink of ``benchmarks/sink.py`` in its own process and a
temporary Prefect server, it starts ``cadence web`` and ``cadence serve`` as a user would (two
processes), creates an intake API key, then POSTs N inbound leads (``source: contact_request``) one
after the other, each in a time zone where it is a business day's morning now (inside the inbound
cadence's send window), and times each from just before the POST to the moment its email is at
the sink. The first lead warms up (``cadence serve`` starting, Prefect's first flow run) and is not
counted. The floor, measured in the same run, is the API's own answer time (the POST alone): what
is above it is the wake-up, the ``follow-up-lead`` flow run and the SMTP hand-off.

The last line on stdout is one JSON object: p50 and p95 of both, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SinkProcess, database, flow_environment, isolate_environment, log

ZONES = (
    "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo", "Asia/Shanghai", "Asia/Kolkata", "Asia/Dubai",
    "Europe/Moscow", "Europe/Berlin", "Europe/London", "Atlantic/Azores", "America/Sao_Paulo",
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Pacific/Honolulu",
)  # fmt: skip


def zone_in_window(now: datetime) -> str:
    """A time zone where ``now`` is a weekday between 09:00 and 16:00 (the inbound window is 08:00-18:00)."""
    for name in ZONES:
        local = now.astimezone(ZoneInfo(name))
        if local.weekday() < 5 and 9 <= local.hour < 16:
            return name
    raise SystemExit("no listed time zone has business hours now (a weekend everywhere): run it another time")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--leads", type=int, default=20, help="inbound leads timed, one after the other")
    parser.add_argument("--database-url", help="PostgreSQL server to create the benchmark database on")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one lead's email")
    args = parser.parse_args(argv)
    isolate_environment()

    import httpx
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from cadence.services.api_keys import Scope, create_key
    from cadence.services.context import Context
    from cadence.services.reps import add_rep
    from cadence.settings import Settings

    result: dict[str, object] = {"backend": args.backend, "leads": args.leads}
    processes: list[subprocess.Popen[bytes]] = []
    with SinkProcess() as sink, database(args.backend, args.database_url) as url:
        flow_environment(url, sink.port, connections=2, batch_size=50)
        with prefect_test_harness(server_startup_timeout=120):
            port = free_port()
            env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "CADENCE_SECRET_KEY": "bench-secret"}
            ctx = Context(Settings())
            now = datetime.now(UTC)
            with ctx.sessions() as s, s.begin():
                add_rep(s, "rita@yourco.example", "Rita Alvarez", now=now)
                key = create_key(s, "speed benchmark", Scope.INTAKE, now=now).key
            ctx.close()
            cadence = [sys.executable, "-m", "cadence.cli"]
            try:
                processes.append(subprocess.Popen([*cadence, "serve"], env=env, stdout=subprocess.DEVNULL))
                processes.append(
                    subprocess.Popen([*cadence, "web", "--port", str(port)], env=env, stdout=subprocess.DEVNULL)
                )
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit("cadence web did not start")
                    time.sleep(0.2)
                headers = {"Authorization": f"Bearer {key}"}
                to_email: list[float] = []
                to_answer: list[float] = []
                with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                    for index in range(args.leads + 1):
                        zone = zone_in_window(datetime.now(UTC))
                        # a company of its own: colleagues at one account get one email a day (the account gate)
                        email = f"lead{index}@prospect{index}.example"
                        lead = {"email": email, "first_name": "Lee", "source": "contact_request", "timezone": zone}
                        started = time.perf_counter()
                        answer = client.post("/api/v1/leads", json=lead)
                        answered = time.perf_counter()
                        if answer.status_code != 201 or not answer.json()["enrolled"]:
                            raise SystemExit(f"the lead was not enrolled: {answer.status_code} {answer.text}")
                        sink.wait_for(index + 1, timeout=args.timeout if index else 300)
                        arrived = time.perf_counter()
                        if index == 0:
                            log(f"warm-up lead: email after {arrived - started:.1f}s")
                            continue
                        to_answer.append((answered - started) * 1000)
                        to_email.append((arrived - started) * 1000)
                        log(f"lead {index} ({zone}): answer {to_answer[-1]:.0f} ms, email {to_email[-1]:.0f} ms")
                stats = sink.stats()
                if stats["messages"] != args.leads + 1 or stats.get("duplicate_touches"):
                    raise SystemExit(f"expected one email per lead: {stats}")
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
    result.update(
        post_to_email_p50_ms=round(statistics.median(to_email)),
        post_to_email_p95_ms=round(percentile(to_email, 0.95)),
        post_to_email_max_ms=round(max(to_email)),
        floor_answer_p50_ms=round(statistics.median(to_answer)),
        floor_answer_p95_ms=round(percentile(to_answer, 0.95)),
        cpus=os.cpu_count(),
        load_avg_1m=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
