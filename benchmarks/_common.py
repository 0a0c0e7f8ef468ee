"""Shared pieces of the benchmarks: an SMTP sink process, throwaway databases, bulk seeding, Prefect setup.

Nothing here is timed by itself: the scripts time the phases they report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

# Prefect must not write to the user's home or phone home; set before anything imports it.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="cadence-bench-prefect-"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"


def isolate_environment() -> None:
    """Forget the user's cadence settings and Prefect server: a benchmark sets what it uses (a temporary server)."""
    os.environ.pop("PREFECT_API_URL", None)
    for key in [k for k in os.environ if k.startswith("CADENCE_")]:
        del os.environ[key]


MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York: leads are enrolled then
SEND = MONDAY + timedelta(days=1, hours=1)  # Tuesday 10:00 in New York: nurture's day-1 email is due
DEFAULT_PG_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"
MAIL_DOMAIN = "mail.bench.example"


def log(message: str) -> None:
    """Progress on stderr (stdout ends with the JSON line)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- The SMTP sink, in a process of its own --------------------------------------------------------


class SinkProcess:
    """``benchmarks/sink.py`` (aiosmtpd, accepting and counting every message) in a process of its own."""

    def __init__(self, host: str = "127.0.0.1", *, latency_ms: float = 0.0) -> None:
        self.host = host
        self.latency_ms = latency_ms
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SinkProcess:
        self._process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("sink.py")),
                "--host",
                self.host,
                "--latency-ms",
                str(self.latency_ms),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self._ask(None))
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._process is not None
        with contextlib.suppress(OSError):
            self._process.communicate("stop\n", timeout=10)
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)

    def _ask(self, command: str | None) -> str:
        assert self._process is not None
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        if command is not None:
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the SMTP sink stopped")
        return line

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = json.loads(self._ask("stats"))
        return result

    def reset(self) -> None:
        self._ask("reset")

    def wait_for(self, count: int, timeout: float = 30.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["messages"] >= count or time.monotonic() > deadline:
                return stats
            time.sleep(0.05)


# -- Databases ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(backend: str, url: str | None = None, *, keep: bool = False) -> Iterator[str]:
    """A fresh, migrated cadence database of our own (created, then dropped unless ``keep``)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from cadence.adapters.db import make_engine, normalize_url
    from cadence.adapters.schema import upgrade

    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="cadence-bench-"))
        path = folder / "cadence.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        try:
            yield f"sqlite:///{path}"
        finally:
            if not keep:
                for file in folder.iterdir():
                    file.unlink()
                folder.rmdir()
        return
    admin_url = make_url(normalize_url(url or DEFAULT_PG_URL))
    name = f"cadence_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    bench_url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(bench_url)
        upgrade(engine)
        engine.dispose()
        yield bench_url
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def flow_environment(database_url: str, sink_port: int, *, connections: int, batch_size: int) -> dict[str, str]:
    """The CADENCE_* settings of a benchmark run (set in os.environ too)."""
    env = {
        "CADENCE_DATABASE_URL": database_url,
        "CADENCE_TEMPLATES_DIR": str(TEMPLATES),
        "CADENCE_SMTP_HOST": "127.0.0.1",
        "CADENCE_SMTP_PORT": str(sink_port),
        "CADENCE_SMTP_CONNECTIONS": str(connections),
        "CADENCE_MAIL_DOMAIN": MAIL_DOMAIN,
        "CADENCE_BATCH_SIZE": str(batch_size),
    }
    os.environ.update(env)
    return env


# -- Seeding -------------------------------------------------------------------------------------------


LEAD_VALUES = {
    "last_name": "Tester",
    "title": "VP Engineering",
    "company": "Acme",
    "industry": "Software",
    "company_size": "500",
    "source": "webinar",
    "interactions": "3",
    "timezone": "America/New_York",
    "country": "US",
    "address_line1": "1 Main St",
    "city": "New York",
    "postal_code": "10001",
}


@dataclass
class Seeded:
    """What :func:`seed_due_leads` made."""

    leads: int
    seconds: float


def seed_due_leads(ctx: Any, count: int, *, prefix: str, now: datetime = MONDAY, chunk: int = 5000) -> Seeded:
    """``count`` leads of rep Rita on the nurture cadence, enrolled at ``now`` (their day-1 email due a day later).

    The first lead goes through the real import (qualify, assign, enroll); the others are bulk
    copies of its rows with their own address and first name, inserted ``chunk`` at a time.
    """
    import sqlalchemy as sa

    from cadence.adapters.models import Enrollment, Lead, Rep
    from cadence.core.leads import make_lead
    from cadence.services.leads import ImportRow, import_leads
    from cadence.services.reps import add_rep

    started = time.perf_counter()
    with ctx.sessions() as s, s.begin():
        if s.scalar(sa.select(Rep.id).where(Rep.email == "rita@cadence.example")) is None:
            add_rep(s, "rita@cadence.example", "Rita Alvarez", now=now, timezone="America/New_York",
                    signature="Rita | Acme Sales")  # fmt: skip
        first = make_lead({"email": f"{prefix}0@acme.example", "first_name": f"{prefix.title()}0", **LEAD_VALUES})
        import_leads(s, [ImportRow(2, first)], now=now, settings=ctx.settings, rules=ctx.rules,
                     cadences=ctx.cadences, cadence_override="nurture")  # fmt: skip
    leads = Lead.__table__
    enrollments = Enrollment.__table__
    with ctx.engine.connect() as conn:
        lead_row = dict(
            conn.execute(sa.select(leads).where(leads.c.email == f"{prefix}0@acme.example")).mappings().one()
        )
        enrollment_row = dict(
            conn.execute(sa.select(enrollments).where(enrollments.c.lead_id == lead_row["id"])).mappings().one()
        )
    del lead_row["id"], enrollment_row["id"]
    for start in range(1, count, chunk):
        stop = min(count, start + chunk)
        # independent leads, outside any account: the account gate (one email a day per company) stays out
        rows = [{**lead_row, "email": f"{prefix}{i}@acme.example", "first_name": f"{prefix.title()}{i}",
                 "account_id": None} for i in range(start, stop)]  # fmt: skip
        with ctx.engine.begin() as conn:
            ids = (
                conn.execute(sa.insert(leads).returning(leads.c.id, sort_by_parameter_order=True), rows).scalars().all()
            )
            conn.execute(sa.insert(enrollments), [{**enrollment_row, "lead_id": lead_id} for lead_id in ids])
    if ctx.engine.dialect.name == "postgresql":
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE leads"))
            conn.execute(sa.text("VACUUM ANALYZE enrollments"))
    return Seeded(leads=count, seconds=time.perf_counter() - started)


# -- Prefect -------------------------------------------------------------------------------------------


async def count_task_runs(flow_run_id: Any, *, settle_seconds: float = 10.0) -> int:
    """How many task runs the flow run made (the server records them from events: wait until it settles)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    last = -1
    deadline = time.monotonic() + settle_seconds
    async with get_client() as client:
        while True:
            total = 0
            while True:
                page = await client.read_task_runs(flow_run_filter=flow_runs, limit=200, offset=total)
                total += len(page)
                if len(page) < 200:
                    break
            if total == last or time.monotonic() > deadline:
                return total
            last = total
            await asyncio.sleep(1.0)
