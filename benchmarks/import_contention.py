"""An import, the web app and the advance flow together on SQLite: how long do the other writers wait?

    python benchmarks/import_contention.py [--rows 20000] [--seconds-before 5]

On a SQLite database of our own, with the SMTP sink of ``benchmarks/sink.py`` and ``cadence web``
each in a process of its own:

1. 600 leads are imported with their first steps due, and one user of the workspace is created;
2. for ``--seconds-before`` seconds, with no import, a writer thread (``suppress add`` as the service
   does it: one short transaction), one-click unsubscribes POSTed to ``cadence web`` and ``cadence
   run`` (the advance flow) in a loop measure their times: the floor;
3. then ``cadence leads import`` of ``--rows`` new leads (persona fits, enrolled) runs, and the same
   three writers run throughout it;
4. the last line on stdout is one JSON object: per writer the count, the longest and the median time
   during the import and before it, whether any "database is locked" (or a 503) was seen, the
   longest wait of any writer during the import, and the longest holders of the write lock during
   the import (``longest_holders``: every process runs with ``CADENCE_SQLITE_TRACE``, which logs each
   SQLite write transaction's hold time, process and code; ``holders`` sums them per process and code).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MONDAY, SEND, TEMPLATES, SinkProcess, isolate_environment, log

SECRET = "import-contention-benchmark-secret-key-0123456789"


class Writers:
    """The three other writers, each in a thread, recording (seconds, failed) per attempt while ``phase`` says."""

    def __init__(self, env: dict[str, str], url: str, web: str, unsubscribe: list[str]) -> None:
        self.env, self.url, self.web = env, url, web
        self.unsubscribe = list(unsubscribe)
        self.phase = "before"
        self.times: dict[str, dict[str, list[float]]] = {}
        self.failures: dict[str, list[str]] = {}
        self.stop = threading.Event()

    def note(self, writer: str, seconds: float, failure: str | None = None) -> None:
        self.times.setdefault(writer, {}).setdefault(self.phase, []).append(seconds)
        if failure:
            self.failures.setdefault(writer, []).append(f"{self.phase}: {failure[:200]}")

    def suppress_loop(self) -> None:
        from sqlalchemy import delete

        from cadence.adapters.db import make_engine
        from cadence.adapters.models import Suppression

        engine = make_engine(self.url)
        number = 0
        while not self.stop.is_set():
            number += 1
            started = time.perf_counter()
            failure = None
            try:
                with engine.begin() as connection:
                    connection.execute(
                        Suppression.__table__.insert().values(
                            value=f"blocked{number}@bench.example", reason="bench", created_at=MONDAY
                        )
                    )
                    connection.execute(delete(Suppression).where(Suppression.value == f"blocked{number}@bench.example"))
            except Exception as exc:
                failure = str(exc)
            self.note("suppress_add", time.perf_counter() - started, failure)
            time.sleep(0.05)
        engine.dispose()

    def web_loop(self) -> None:
        while not self.stop.is_set() and self.unsubscribe:
            token = self.unsubscribe.pop()
            request = urllib.request.Request(
                f"{self.web}/unsubscribe/{token}", data=b"List-Unsubscribe=One-Click", method="POST"
            )
            started = time.perf_counter()
            failure = None
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    answer.read()
            except urllib.error.HTTPError as exc:
                failure = f"HTTP {exc.code}"
            except OSError as exc:
                failure = str(exc)
            self.note("web_unsubscribe", time.perf_counter() - started, failure)
            time.sleep(0.1)

    def advance_loop(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "cadence.cli", "run", "--now", SEND.isoformat()],
                env=self.env,
                capture_output=True,
                text=True,
            )
            failure = None
            if done.returncode != 0 or "locked" in done.stderr:
                failure = f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
            self.note("advance_run", time.perf_counter() - started, failure)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cadence ARGS``; fail loudly when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "cadence.cli", *args], env=env, input=stdin, capture_output=True, text=True
    )
    if done.returncode not in (0, 3):
        raise SystemExit(f"cadence {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


def leads_csv(path: Path, rows: int, prefix: str) -> None:
    """A CSV of ``rows`` leads that fit the shipped persona and are enrolled."""
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,last_name,title,company,industry,company_size,timezone,source,interactions\n")
        for i in range(rows):
            out.write(
                f"{prefix}{i}@bench.example,Ann{i},Lee,VP Sales,Company {i % 997},software,{50 + i % 400},"
                f"America/New_York,webinar,3\n"
            )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "max_s": round(max(values), 3) if values else None,
        "median_s": round(statistics.median(values), 3) if values else None,
    }


def holders(trace: Path, began: float, ended: float) -> dict[str, Any]:
    """The write transactions that ended during the import, from the trace: the longest ten, and per
    process and code their count, longest and total hold time (the eight that held it longest in all)."""
    lines = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines() if line.strip()]
    during = [line for line in lines if began <= line["at"] <= ended]
    longest = sorted(during, key=lambda line: line["held_s"], reverse=True)[:10]
    groups: dict[tuple[str, str], list[float]] = {}
    for line in during:
        groups.setdefault((line["command"], line["where"]), []).append(line["held_s"])
    per = [
        {"command": command, "where": where, "count": len(held), "max_s": max(held), "total_s": round(sum(held), 2)}
        for (command, where), held in groups.items()
    ]
    per.sort(key=lambda group: group["total_s"], reverse=True)
    return {
        "transactions_during": len(during),
        "longest_holders": [
            {key: line[key] for key in ("held_s", "waited_s", "command", "where", "end")} for line in longest
        ],
        "holders": per[:8],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the import (default 20,000)")
    parser.add_argument("--seconds-before", type=float, default=5.0, help="floor measured this long first")
    args = parser.parse_args()
    isolate_environment()
    folder = Path(tempfile.mkdtemp(prefix="cadence-contention-"))
    url = f"sqlite:///{folder / 'cadence.db'}"
    with SinkProcess() as sink:
        env = {
            **os.environ,
            "CADENCE_DATABASE_URL": url,
            "CADENCE_TEMPLATES_DIR": str(TEMPLATES),
            "CADENCE_SECRET_KEY": SECRET,
            "CADENCE_SMTP_HOST": sink.host,
            "CADENCE_SMTP_PORT": str(sink.port),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src"),
            "CADENCE_SQLITE_TRACE": str(folder / "transactions.jsonl"),
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith("CADENCE_")})
        cli(env, "init")
        cli(env, "reps", "add", "rita@yourco.example", "--name", "Rita", "--timezone", "America/New_York")
        cli(env, "reps", "add", "sam@yourco.example", "--name", "Sam", "--timezone", "America/New_York")
        seed = folder / "seed.csv"
        leads_csv(seed, 600, "seed")
        cli(env, "leads", "import", str(seed), "--now", MONDAY.isoformat())
        big = folder / "import.csv"
        leads_csv(big, args.rows, "new")
        from cadence.core.tokens import sign_unsubscribe

        tokens = [sign_unsubscribe(f"seed{i}@bench.example", SECRET) for i in range(600)]
        port = free_port()
        web = subprocess.Popen(
            [sys.executable, "-m", "cadence.cli", "web", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.1)
            writers = Writers(env, url, base, tokens)
            threads = [
                threading.Thread(target=loop, daemon=True)
                for loop in (writers.suppress_loop, writers.web_loop, writers.advance_loop)
            ]
            for thread in threads:
                thread.start()
            log(f"floor: {args.seconds_before:.0f} s of the three writers without an import")
            time.sleep(args.seconds_before)
            writers.phase = "during"
            log(f"importing {args.rows:,} rows")
            started = time.perf_counter()
            import_began = time.time()
            done = cli(env, "leads", "import", str(big), "--now", MONDAY.isoformat(), "--json")
            import_seconds = time.perf_counter() - started
            import_ended = time.time()
            writers.phase = "after"
            writers.stop.set()
            for thread in threads:
                thread.join(timeout=120)
        finally:
            web.terminate()
            web.wait(timeout=30)
    report = json.loads(done.stdout)
    during = {name: summary(phases.get("during", [])) for name, phases in writers.times.items()}
    before = {name: summary(phases.get("before", [])) for name, phases in writers.times.items()}
    failures = dict(writers.failures.items())
    locked = any("locked" in item or "HTTP 503" in item for items in failures.values() for item in items)
    longest = max((value["max_s"] or 0.0) for name, value in during.items() if name != "advance_run")
    result = {
        "benchmark": "import_contention",
        "backend": "sqlite",
        "rows": args.rows,
        "import_seconds": round(import_seconds, 1),
        "rows_per_s": round(args.rows / import_seconds, 1),
        "imported": report["imported"],
        "enrolled": report["enrolled"],
        "during": during,
        "floor": before,
        "failures": failures,
        "database_locked": locked,
        "longest_wait_s": longest,
        "advance_longest_run_s": during.get("advance_run", {}).get("max_s"),
        "advance_floor_run_s": before.get("advance_run", {}).get("max_s"),
        **holders(folder / "transactions.jsonl", import_began, import_ended),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
