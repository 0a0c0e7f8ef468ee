"""Database faults, shared by ``tests/reliability`` (bounded, in CI) and ``benchmarks/chaos.py`` (longer).

* :class:`PostgresRestarts`: a private PostgreSQL server (``tests.support.postgresql_cluster``) is
  restarted (``pg_ctl restart -m fast``) and crashed (``-m immediate``) in the middle of sending,
  while two advance runs share the work: ``cadence run`` in a process of its own and
  :func:`~cadence.services.advance.run_until_idle` in a thread of this one. A short restart must
  be ridden out (every run carries on); an outage longer than ``CADENCE_DB_RETRY_SECONDS`` must
  stop the runs cleanly (one line, exit code 1, no traceback), and the next round finishes the work.
* :class:`SqliteLocked`: another process holds SQLite's write lock (``BEGIN IMMEDIATE``) while a run
  sends: for less than the busy timeout the run waits and finishes; for longer it stops cleanly,
  and a later run finishes the work.
* :class:`SqliteConcurrentUse`: an advance run, the CLI commands reps and ops run, and the web
  workspace, all at once on one SQLite file with the product's own busy timeout: every command
  succeeds and "database is locked" appears nowhere.

The figures are :class:`~tests.reliability.scenarios.Figures` (with ``restarts`` and the scenario's
own counts); ``problems`` lists every run or command that did not end as it must (empty when all is well).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cadence.adapters.db import make_engine
from cadence.adapters.models import Lead, Task
from cadence.adapters.schema import upgrade
from cadence.core.tokens import sign_unsubscribe
from cadence.services.advance import RunReport, run_until_idle
from cadence.services.context import Context
from cadence.settings import Settings
from tests.reliability.scenarios import (
    CADENCE,
    MAIL_DOMAIN,
    MONDAY,
    ROOT,
    SEND,
    TEMPLATES,
    Figures,
    TouchLog,
    figures,
    lead_values,
    pending,
    seed_leads,
)
from tests.support.postgresql_cluster import PostgresCluster, ShutdownMode

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s+File \".+\", line \d+", re.MULTILINE)
LOCKED = "database is locked"
RUN_SECONDS = 180  # a `cadence run` that takes longer than this is stuck


# -- runs and how they ended ---------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """How one advance run (or one command) ended."""

    runner: str  # "cadence run", "in-process", or the command line
    now: datetime | None
    finished: bool = False  # it did its work and exited 0
    stopped: str | None = None  # the one-line error it stopped with (a clean failure)
    problem: str | None = None  # what was wrong with how it ended: a traceback, an odd exit code, ...
    hit: str | None = None  # the fault it was running through ("fast", "immediate", "outage", "lock")

    @property
    def clean(self) -> bool:
        """It finished, or stopped with one clear line."""
        return self.problem is None and (self.finished or self.stopped is not None)


def judge_cli(runner: str, now: datetime | None, returncode: int, stdout: str, stderr: str) -> RunOutcome:
    """How a ``cadence`` command ended, read off its exit code and its output as a terminal shows it.

    Exit 0: finished (``cadence run`` also prints its report, with ``"stopped": null``). Exit 1:
    stopped cleanly when the last line is ``error: ...`` about the database. Anything else, and any
    traceback or "database is locked" leaking out, is a problem.
    """
    outcome = RunOutcome(runner, now)
    both = f"{stdout}\n{stderr}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    if TRACEBACK.search(both):
        outcome.problem = f"a traceback reached the terminal (exit code {returncode}):\n{both[-4000:]}"
    elif returncode == 0:
        outcome.finished = True
        if runner == "cadence run":
            try:
                stopped = json.loads(stdout[stdout.index("{") :]).get("stopped")
            except ValueError:
                outcome.problem = f"exit code 0 without the run's report:\n{both[-4000:]}"
            else:
                if stopped is not None:
                    outcome.problem = f"exit code 0 for a run that stopped: {stopped}"
    elif returncode == 1 and lines and lines[-1].startswith("error: ") and "database" in lines[-1]:
        outcome.stopped = lines[-1]
    else:
        outcome.problem = f"exit code {returncode} without one clear error line:\n{both[-4000:]}"
    return outcome


class CadenceRun:
    """``cadence run --now T`` in a process of its own (as ``KillNine`` starts them), its output in files."""

    def __init__(self, env: Mapping[str, str], work_dir: Path, number: int, now: datetime) -> None:
        self.now = now
        self.out = work_dir / f"run-{number:04d}.out"
        self.err = work_dir / f"run-{number:04d}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [str(CADENCE), "run", "--now", now.isoformat()], env=dict(env), cwd=ROOT,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
            )  # fmt: skip

    def running(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def wait(self) -> RunOutcome:
        """Wait for the run to end (a stuck run is a problem); how it ended."""
        try:
            self.process.wait(RUN_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
            return RunOutcome("cadence run", self.now, problem=f"still running after {RUN_SECONDS} s")
        return judge_cli("cadence run", self.now, self.process.returncode,
                         self.out.read_text(errors="replace"), self.err.read_text(errors="replace"))  # fmt: skip


class InProcessRun:
    """:func:`run_until_idle` in a thread of this process, on a context (and an engine) of its own."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.now = now
        self.report: RunReport | None = None
        self.error: str | None = None
        self._settings = settings
        self._thread = threading.Thread(target=self._run, name=f"advance-{now.isoformat()}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ctx = Context(self._settings)
        try:
            self.report = asyncio.run(run_until_idle(ctx, now=self.now))
        except BaseException:  # anything the run raised is a problem of how it ended: keep it
            self.error = traceback.format_exc()
        finally:
            ctx.close()

    def running(self) -> bool:
        """True while the run goes on."""
        return self._thread.is_alive()

    def wait(self) -> RunOutcome:
        """Wait for the run to end; how it ended (a raised exception is a problem, ``stopped`` a clean stop)."""
        self._thread.join(RUN_SECONDS)
        outcome = RunOutcome("in-process", self.now)
        if self._thread.is_alive():
            outcome.problem = f"still running after {RUN_SECONDS} s"
        elif self.error is not None:
            outcome.problem = f"the run raised:\n{self.error[-4000:]}"
        elif self.report is not None and self.report.stopped:
            outcome.stopped = self.report.stopped
            if "\n" in outcome.stopped:
                outcome.problem = f"the run stopped with more than one line: {outcome.stopped!r}"
        else:
            outcome.finished = True
        return outcome


def stops(outcomes: Sequence[RunOutcome]) -> dict[str, int]:
    """The runs that stopped cleanly (one line, no traceback), and those that did something wrong."""
    return {
        "stopped_cleanly": sum(o.stopped is not None and o.problem is None for o in outcomes),
        "problems": sum(o.problem is not None for o in outcomes),
    }


def run_environment(settings: Settings, prefect: Mapping[str, str]) -> dict[str, str]:
    """The environment of a ``cadence`` command on ``settings``: ours (without CADENCE_*), and ``prefect``'s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    env.update(prefect)
    env.update(
        CADENCE_DATABASE_URL=settings.database_url,
        CADENCE_TEMPLATES_DIR=str(settings.templates_dir),
        CADENCE_SMTP_HOST=settings.smtp_host,
        CADENCE_SMTP_PORT=str(settings.smtp_port),
        CADENCE_SMTP_CONNECTIONS=str(settings.smtp_connections),
        CADENCE_MAIL_DOMAIN=settings.mail_domain,
        CADENCE_LEASE_SECONDS=str(settings.lease_seconds),
        CADENCE_BATCH_SIZE=str(settings.batch_size),
        CADENCE_RETRY_BASE_SECONDS=str(settings.retry_base_seconds),
        CADENCE_RETRY_MAX_SECONDS=str(settings.retry_max_seconds),
        CADENCE_DB_RETRY_SECONDS=str(settings.db_retry_seconds),
        CADENCE_SQLITE_BUSY_TIMEOUT_MS=str(settings.sqlite_busy_timeout_ms),
        CADENCE_SECRET_KEY=settings.secret_key.get_secret_value(),
        CADENCE_DEFAULT_TIMEZONE=settings.default_timezone,
    )
    return env


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.002) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def fault_settings(database_url: str, sink_port: int, **overrides: Any) -> Settings:
    """The settings of the fault scenarios' runs: the sink, short leases and retry delays."""
    values: dict[str, Any] = {
        "database_url": database_url, "templates_dir": TEMPLATES, "smtp_host": "127.0.0.1", "smtp_port": sink_port,
        "smtp_connections": 4, "mail_domain": MAIL_DOMAIN, "lease_seconds": 2, "batch_size": 40,
        "retry_base_seconds": 1, "retry_max_seconds": 2,
    }  # fmt: skip
    return Settings(**{**values, **overrides})


def migrated_postgresql(cluster: PostgresCluster, name: str = "cadence") -> str:
    """A new database on ``cluster`` with cadence's schema; its URL."""
    url = cluster.create_database(name)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


# -- PostgreSQL restarted mid-run ----------------------------------------------------------------------


@dataclass(frozen=True)
class Restart:
    """One restart of the server: how it is stopped, and how long it stays down."""

    mode: ShutdownMode
    down_for: float = 0.0

    @property
    def kind(self) -> str:
        """``fast`` or ``immediate`` (a restart the runs must ride out), or ``outage`` (they must stop cleanly)."""
        return "outage" if self.down_for > 0 else self.mode


@dataclass
class PostgresRestarts:
    """Advance runs while the PostgreSQL server under them is restarted and crashed at random moments.

    Each round seeds leads if few are pending, starts ``cadence run`` (or an in-process run: see
    :meth:`_round`) and, once it sends, an in-process run, both as of the same ``--now`` (so neither
    takes the other's claims); after a random number of messages the server is restarted. One
    restart in three keeps it down longer than the runs wait for it (``db_retry_seconds``). The next
    round is one lease and a second later, so what a stopped run had claimed is taken up. Then
    rounds without restarts finish the work.

    ``benchmarks/chaos.py`` plays it longer: :func:`play_postgres_restarts` sets it all up.
    """

    cluster: PostgresCluster
    database_url: str
    sink_port: int
    log: TouchLog
    environment: Mapping[str, str]  # PREFECT_* of the Prefect server `cadence run` reports to
    work_dir: Path
    restarts: int = 6
    leads_per_refill: int = 120
    db_retry_seconds: float = 5.0
    outage_every: int = 3  # every third restart keeps the server down longer than the runs wait
    cli_every: int = 2  # `cadence run` is one of the two runners in every other round (and in every outage)
    seed: int = 0
    progress: Callable[[str], None] = lambda _message: None
    outcomes: list[RunOutcome] = field(default_factory=list)

    def settings(self) -> Settings:
        """The settings of the runs (and of this process's own reads)."""
        return fault_settings(self.database_url, self.sink_port, db_retry_seconds=self.db_retry_seconds)

    def plan(self) -> list[Restart]:
        """The restarts in order: fast shutdowns and crashes by turns, every ``outage_every``-th a long outage."""
        plan = []
        for number in range(self.restarts):
            mode: ShutdownMode = "fast" if number % 2 == 0 else "immediate"
            long = self.outage_every > 0 and number % self.outage_every == self.outage_every - 1
            plan.append(Restart(mode, self.db_retry_seconds + 2.0 if long else 0.0))
        return plan

    def play(self) -> Figures:
        """Restart the server ``restarts`` times in the middle of sending, then finish the work; the figures."""
        rng = random.Random(self.seed)
        settings = self.settings()
        env = run_environment(settings, self.environment)
        ctx = Context(settings)
        started = time.monotonic()
        now = SEND
        seeded = rounds = 0
        plan = self.plan()
        done: list[Restart] = []
        try:
            while len(done) < len(plan) and rounds < 3 * len(plan) + 5:
                if pending(ctx) < self.leads_per_refill // 2:  # enough for the runs to be sending at the restart
                    emails = [f"pg{seeded + i}@acme.example" for i in range(self.leads_per_refill)]
                    seed_leads(ctx, emails)
                    seeded += len(emails)
                hit = self._round(rng, env, settings, now, rounds, plan[len(done)])
                if hit is not None:
                    done.append(hit)
                rounds += 1
                now += timedelta(seconds=settings.lease_seconds + 1)
            for _ in range(8):  # rounds without restarts: whatever the stopped runs had claimed is finished
                if pending(ctx) == 0:
                    break
                self._round(rng, env, settings, now, rounds, None)
                rounds += 1
                now += timedelta(seconds=settings.lease_seconds + 1)
            self.log.settle()
            return figures(
                ctx, self.log, kills=0, decided_at={}, restarts=len(done), planned=len(plan),
                fast=sum(r.kind == "fast" for r in done), immediate=sum(r.kind == "immediate" for r in done),
                outages=sum(r.kind == "outage" for r in done), rounds=rounds, runs=len(self.outcomes),
                carried_on=sum(o.finished and o.hit is not None for o in self.outcomes),
                **stops(self.outcomes), seconds=round(time.monotonic() - started, 1),
            )  # fmt: skip
        finally:
            ctx.close()

    def _round(
        self, rng: random.Random, env: Mapping[str, str], settings: Settings, now: datetime, number: int,
        restart: Restart | None,
    ) -> Restart | None:  # fmt: skip
        """One round: two runners, and the restart (if any) once they are sending; the restart done, if it was.

        The first runner is ``cadence run`` in every ``cli_every``-th round with a restart and in every
        outage, else a second in-process run (``cadence run`` takes seconds to start).
        """
        before = self.log.total()
        first: CadenceRun | InProcessRun
        if restart is not None and (number % self.cli_every == 0 or restart.kind == "outage"):
            first = CadenceRun(env, self.work_dir, number, now)
        else:
            first = InProcessRun(settings, now)
        wait_for(lambda: self.log.total() > before or not first.running(), 60)  # the first one is sending
        runners: list[CadenceRun | InProcessRun] = [first, InProcessRun(settings, now)]
        hit: Restart | None = None
        alive: list[bool] = [False, False]
        if restart is not None:
            target = self.log.total() + rng.randint(1, 2 * settings.batch_size)
            wait_for(lambda: self.log.total() >= target or not any(r.running() for r in runners), 60, 0.0005)
            time.sleep(rng.uniform(0.0, 0.01))
            alive = [r.running() for r in runners]
            if any(alive):
                self.cluster.restart(restart.mode, restart.down_for)
                hit = restart
        for runner, was_alive in zip(runners, alive, strict=True):
            outcome = runner.wait()
            if hit is not None and was_alive:
                outcome.hit = hit.kind
                if hit.kind != "outage" and not outcome.finished and outcome.problem is None:
                    # A restart shorter than db_retry_seconds is waited out: stopping for it is a missing retry.
                    outcome.problem = f"stopped by a {hit.kind} restart it should have ridden out: {outcome.stopped}"
            self.outcomes.append(outcome)
        self.progress(f"round {number}: {hit.kind if hit else 'no restart'}; "
                      + ", ".join(f"{o.runner} {'finished' if o.finished else 'stopped' if o.stopped else 'PROBLEM'}"
                                  for o in self.outcomes[-2:])
                      + f"; {self.log.total()} messages")  # fmt: skip
        return hit


def play_postgres_restarts(
    restarts: int,
    work_dir: Path,
    *,
    environment: Mapping[str, str] | None = None,
    seed: int = 0,
    progress: Callable[[str], None] = lambda _message: None,
) -> Figures:
    """:class:`PostgresRestarts` with ``restarts`` restarts, set up from nothing: what ``benchmarks/chaos.py`` calls.

    A private PostgreSQL cluster (needs Debian's server binaries: see
    :func:`tests.support.postgresql_cluster.missing_requirement`), a cadence database on it, a
    logging SMTP sink and, unless ``environment`` gives one (``PREFECT_*``), a Prefect server of its
    own under ``work_dir``. A result is good when ``problems`` is 0 (every run carried on through a
    restart or stopped cleanly in an outage), ``duplicates`` and ``lost`` are 0 and ``uncertain`` is
    at most ``stopped_cleanly`` (the one email in flight of each stopped run).
    """
    from contextlib import ExitStack

    from cadence.adapters.smtp_sink import SmtpSink
    from tests.support.prefect_server import PrefectStack

    log = TouchLog()
    with ExitStack() as stack:
        if environment is None:
            prefect = PrefectStack(work_dir / "prefect", stack)
            prefect.start_server()
            prefect.wait_for_server()
            environment = prefect.environment()
        cluster = stack.enter_context(PostgresCluster())
        sink = stack.enter_context(SmtpSink(on_message=log))
        scenario = PostgresRestarts(cluster=cluster, database_url=migrated_postgresql(cluster), sink_port=sink.port,
                                    log=log, environment=environment, work_dir=work_dir, restarts=restarts,
                                    seed=seed, progress=progress)  # fmt: skip
        return scenario.play()


# -- SQLite locked by another writer -------------------------------------------------------------------

_LOCKER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
sys.stdin.readline()  # the signal to take the lock
connection.execute("BEGIN IMMEDIATE")
connection.execute("UPDATE reps SET name = name")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
print("released", flush=True)
"""


class Locker:
    """Another process that takes SQLite's write lock (``BEGIN IMMEDIATE`` and a write) when told, and holds it."""

    def __init__(self, path: Path, hold: float) -> None:
        self.hold = hold
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LOCKER, str(path), str(hold)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def lock(self) -> float:
        """Take the lock now (waiting, if a writer has it); return when it is held: the time it was taken."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline().strip()
        if line != "locked":
            raise RuntimeError(f"the locker did not take the lock: {line}{self.process.stdout.read()}")
        return time.monotonic()

    def release(self) -> None:
        """Wait until the lock has been held its time and released."""
        out, _ = self.process.communicate(timeout=self.hold + 60)
        if self.process.returncode != 0 or "released" not in out:
            raise RuntimeError(f"the locker failed ({self.process.returncode}): {out}")


@dataclass
class SqliteLocked:
    """Runs while another process holds SQLite's write lock: shorter, then longer than the busy timeout.

    1. Locked for half the busy timeout as a run starts, and twice while another sends: each run
       waits and finishes.
    2. Locked for five busy timeouts while ``cadence run`` sends: it stops with one clear line and
       exit code 1; a later run finishes the work.
    """

    database_url: str  # sqlite:///PATH
    sink_port: int
    log: TouchLog
    environment: Mapping[str, str]
    work_dir: Path
    busy_timeout_ms: int = 1500
    leads: int = 120
    seed: int = 0
    progress: Callable[[str], None] = lambda _message: None
    outcomes: list[RunOutcome] = field(default_factory=list)

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    def settings(self) -> Settings:
        """The runs' settings: a busy timeout short enough for the test."""
        return fault_settings(self.database_url, self.sink_port, sqlite_busy_timeout_ms=self.busy_timeout_ms)

    def play(self) -> Figures:
        """All the phases; the figures at the end (``problems`` counts the runs that did not end as they must)."""
        rng = random.Random(self.seed)
        settings = self.settings()
        env = run_environment(settings, self.environment)
        busy = self.busy_timeout_ms / 1000
        ctx = Context(settings)
        started = time.monotonic()
        now = SEND
        seeded = 0
        locks = 0

        def refill() -> None:
            nonlocal seeded
            emails = [f"lk{seeded + i}@acme.example" for i in range(self.leads)]
            seed_leads(ctx, emails)
            seeded += len(emails)

        def expect(outcome: RunOutcome, finished: bool) -> None:
            if outcome.problem is None and outcome.finished != finished:
                outcome.problem = (
                    f"expected it to {'finish' if finished else 'stop cleanly'}: stopped={outcome.stopped!r}"
                )
            self.outcomes.append(outcome)

        try:
            # 1. Locked for half the busy timeout: as a run starts, and twice while another sends. Each
            #    waits and finishes. (`cadence run` takes its busy timeout from CADENCE_SQLITE_BUSY_TIMEOUT_MS:
            #    with the default, 30 s, it would wait out the long lock of phase 2 and finish.)
            refill()
            locker = Locker(self.path, busy / 2)
            locker.lock()
            locks += 1
            run: CadenceRun | InProcessRun = InProcessRun(settings, now)
            locker.release()
            outcome = run.wait()
            outcome.hit = "lock"
            expect(outcome, finished=True)
            now += timedelta(seconds=settings.lease_seconds + 1)
            refill()
            before = self.log.total()
            run = InProcessRun(settings, now)
            for _ in range(2):
                locker = Locker(self.path, busy / 2)
                target = self.log.total() + rng.randint(1, 20)
                wait_for(lambda: self.log.total() >= target or not run.running(), 60, 0.0005)  # noqa: B023
                if not run.running():
                    self.outcomes.append(RunOutcome("in-process", now, problem="finished before the lock was taken"))
                locker.lock()
                locks += 1
                locker.release()
            outcome = run.wait()
            outcome.hit = "lock"
            expect(outcome, finished=True)
            self.progress(f"locked for {busy / 2:g} s: {self.log.total() - before} messages, {outcome}")
            # 2. Locked for five busy timeouts while `cadence run` sends: it stops with one line, exit code 1.
            now += timedelta(seconds=settings.lease_seconds + 1)
            refill()
            before = self.log.total()
            locker = Locker(self.path, busy * 5)
            cli = CadenceRun(env, self.work_dir, 1, now)
            target = before + rng.randint(5, 30)
            wait_for(lambda: self.log.total() >= target or not cli.running(), 60, 0.0005)
            if not cli.running():
                self.outcomes.append(RunOutcome("cadence run", now, problem="finished before the lock was taken"))
            locker.lock()
            locks += 1
            outcome = cli.wait()
            outcome.hit = "lock"
            expect(outcome, finished=False)
            locker.release()
            self.progress(f"cadence run locked for {busy * 5:g} s: {outcome}")
            # A later run (one lease on) finishes the work.
            for _ in range(3):
                if pending(ctx) == 0:
                    break
                now += timedelta(seconds=settings.lease_seconds + 1)
                expect(InProcessRun(settings, now).wait(), finished=True)
            self.log.settle()
            return figures(
                ctx, self.log, kills=0, decided_at={}, restarts=0, locks=locks, runs=len(self.outcomes),
                **stops(self.outcomes), seconds=round(time.monotonic() - started, 1),
            )  # fmt: skip
        finally:
            ctx.close()


# -- normal concurrent use on SQLite -------------------------------------------------------------------


@dataclass
class Command:
    """A ``cadence`` command line and how it ended."""

    args: Sequence[str]
    outcome: RunOutcome | None = None
    output: str = ""
    began: float = 0.0  # time.monotonic() when it was started


@contextmanager
def cadence_web(env: Mapping[str, str], work_dir: Path, now: datetime) -> Iterator[tuple[str, Path]]:
    """``cadence web`` on a free port, in a process of its own; yield its base URL and its log file."""
    from tests.support.postgresql_cluster import free_port

    port = free_port()
    log = work_dir / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CADENCE), "web", "--port", str(port), "--now", now.isoformat()], env=dict(env), cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        import httpx

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"cadence web exited {process.returncode}: {log.read_text(errors='replace')}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_for(up, 60, 0.1):
            raise RuntimeError(f"cadence web did not answer in 60 s: {log.read_text(errors='replace')}")
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


@dataclass
class SqliteConcurrentUse:
    """An advance run, reps' and ops' commands and the web workspace at once, on one SQLite file.

    With the product's own busy timeout (``CADENCE_SQLITE_BUSY_TIMEOUT_MS`` unset). While
    ``cadence run`` sends ``leads`` emails, a rep and ops run ``cadence decide``, ``cadence leads
    import``, ``cadence tasks list`` and ``tasks done``, ``cadence report``, ``cadence leads list``,
    and browsers log in to ``cadence web``, open tasks and leads, record task outcomes and decisions
    there, and mail providers post one-click unsubscribes. Every command and request must succeed,
    and "database is locked" must appear in no output, log or page.
    """

    database_url: str
    sink_port: int
    log: TouchLog
    environment: Mapping[str, str]
    work_dir: Path
    leads: int = 300
    rounds: int = 1  # the commands and requests are played this many times over, during the run
    seed: int = 0
    password: str = "concurrent use password"
    progress: Callable[[str], None] = lambda _message: None
    commands: list[Command] = field(default_factory=list)
    requests: list[tuple[str, int, str]] = field(default_factory=list)  # (what, status, problem)
    request_times: list[float] = field(default_factory=list)  # time.monotonic() when each request was sent

    def settings(self) -> Settings:
        """The product's defaults (busy timeout, leases, retries) but for the sink and the templates."""
        return Settings(database_url=self.database_url, templates_dir=TEMPLATES, smtp_host="127.0.0.1",
                        smtp_port=self.sink_port, mail_domain=MAIL_DOMAIN, batch_size=50)  # fmt: skip

    def cli(self, env: Mapping[str, str], *args: str, expect: int = 0) -> Command:
        """Run ``cadence ARGS`` to completion and judge it (exit code ``expect``, nothing locked, no traceback)."""
        begun = time.monotonic()
        done = subprocess.run([str(CADENCE), *args], env=dict(env), cwd=self.work_dir, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        command = Command(args, output=f"{done.stdout}\n{done.stderr}", began=begun)
        outcome = RunOutcome(" ".join(args), None, finished=done.returncode == expect)
        if LOCKED in command.output.lower():
            outcome.problem = f"'{LOCKED}' in the output:\n{command.output[-3000:]}"
        elif TRACEBACK.search(command.output):
            outcome.problem = f"a traceback reached the terminal:\n{command.output[-3000:]}"
        elif done.returncode != expect:
            outcome.problem = f"exit code {done.returncode}, expected {expect}:\n{command.output[-3000:]}"
        command.outcome = outcome
        self.commands.append(command)
        return command

    def prepare(self, ctx: Context) -> tuple[list[str], list[int]]:
        """Rita with research tasks (default cadence, created by a first run) and the emails due at SEND; Sam.

        Returns the emails' addresses and the open tasks. The accounts are hashed cheaply (the web
        app re-hashes them at the first login, as it does when the parameters change).
        """
        from cadence.adapters.models import Rep
        from cadence.core.leads import make_lead
        from cadence.services.leads import ImportRow, import_leads
        from cadence.services.reps import add_rep
        from cadence.services.users import add_user
        from tests.web.workspace import CHEAP

        with ctx.sessions() as s, s.begin():
            add_rep(s, "rita@cadence.example", "Rita Alvarez", now=MONDAY, timezone="America/New_York")
            rows = [ImportRow(i + 2, make_lead(lead_values(f"rs{i}@acme.example", i))) for i in range(12)]
            import_leads(s, rows, now=MONDAY, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                         cadence_override="default")  # fmt: skip
            import cadence.services.users as users

            hasher, users.HASHER = users.HASHER, CHEAP
            try:
                for email, role in (("rita@cadence.example", "rep"), ("max@cadence.example", "manager")):
                    add_user(s, email, role=role, password=self.password, now=MONDAY)
            finally:
                users.HASHER = hasher
        asyncio.run(run_until_idle(ctx, now=SEND))  # the research tasks
        emails = [f"cu{i}@acme.example" for i in range(self.leads)]
        seed_leads(ctx, emails)  # all Rita's; the arrivals go to Sam, who has fewer
        with ctx.sessions() as s, s.begin():
            assert s.scalar(select(Rep.id).where(Rep.email == "sam@cadence.example")) is None
            add_rep(s, "sam@cadence.example", "Sam Stone", now=MONDAY, timezone="Europe/London")
            tasks = list(s.scalars(select(Task.id).where(Task.status == "open").order_by(Task.id)))
        return emails, tasks

    def play(self) -> Figures:
        """Seed, then everything at once; the figures (``problems``: commands and requests that failed)."""
        from tests.web.workspace import csrf_of, log_in

        rng = random.Random(self.seed)
        settings = self.settings()
        env = run_environment(settings, self.environment)
        env.pop("CADENCE_SQLITE_BUSY_TIMEOUT_MS")  # the product's default
        started = time.monotonic()
        ctx = Context(settings)
        decided_at: dict[str, float] = {}
        at = ["--now", SEND.isoformat()]
        try:
            emails, tasks = self.prepare(ctx)
            secret = settings.secret_key.get_secret_value()
            with cadence_web(env, self.work_dir, SEND) as (site, web_log):
                before = self.log.total()
                run = CadenceRun(env, self.work_dir, 0, SEND)
                wait_for(lambda: self.log.total() > before or not run.running(), 60)
                for number in range(self.rounds):
                    arriving = self.work_dir / f"arrivals-{number}.csv"
                    self._write_csv(arriving, [f"new{number}-{i}@acme.example" for i in range(20)])
                    deciding = [e for e in rng.sample(emails[self.leads // 2 :], 2) if e not in decided_at]
                    for email in deciding:
                        decided_at[email] = float("inf")  # until the command is done
                    commands: list[Sequence[str]] = [
                        ("leads", "import", str(arriving), *at),  # ops: new people arrive
                        ("report", "--json", *at),
                        ("leads", "list", "--owner", "rita@cadence.example", "--json"),
                        ("tasks", "list", "--owner", "rita@cadence.example", "--due", "all", "--json", *at),
                        *[("decide", e, "--outcome", "not_interested", "--reason", "said no on the phone", *at)
                          for e in deciding],
                        *[("tasks", "done", str(tasks.pop()), "--outcome", "done", "--note", "checked", *at)
                          for _ in range(1) if tasks],
                    ]  # fmt: skip
                    threads = [threading.Thread(target=self.cli, args=(env, *args)) for args in commands]
                    threads.append(threading.Thread(target=self._browse, args=(
                        site, csrf_of, log_in, tasks, secret, emails[: self.leads // 2], rng, decided_at)))  # fmt: skip
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join(180)
                    for email in deciding:
                        decided_at[email] = time.time()  # after the commit: sent_after_decision never errs high
                    self.progress(
                        f"round {number}: {len(self.commands)} commands, {len(self.requests)} requests, "
                        f"{self.log.total() - before} emails, run {'on' if run.running() else 'over'}"
                    )
                while run.running():
                    time.sleep(0.05)
                ended = time.monotonic()
                outcome = run.wait()
                if LOCKED in (run.out.read_text(errors="replace") + run.err.read_text(errors="replace")).lower():
                    outcome.problem = f"'{LOCKED}' in the output of cadence run"
                during = sum(c.began < ended for c in self.commands)
                self.commands.append(Command(["run"], outcome))
                web_text = web_log.read_text(errors="replace")
            if LOCKED in web_text.lower() or TRACEBACK.search(web_text):
                self.requests.append(("the log of cadence web", 0, web_text[-3000:]))
            self.log.settle()
            failed = [c for c in self.commands if c.outcome is not None and c.outcome.problem is not None]
            return figures_of(
                ctx, self.log, emails, decided_at=decided_at, restarts=0, commands=len(self.commands),
                commands_during_run=during, requests=len(self.requests),
                requests_during_run=sum(began < ended for began in self.request_times), decisions=len(decided_at),
                problems=len(failed) + sum(bool(r[2]) for r in self.requests),
                seconds=round(time.monotonic() - started, 1),
            )  # fmt: skip
        finally:
            ctx.close()

    def _write_csv(self, path: Path, emails: list[str], owner: str | None = None) -> None:
        rows = [lead_values(email, i) | ({"owner": owner} if owner else {}) for i, email in enumerate(emails)]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def _browse(
        self, site: str, csrf_of: Callable[[str], str], log_in: Callable[..., Any], tasks: list[int], secret: str,
        emails: list[str], rng: random.Random, decided_at: dict[str, float],
    ) -> None:  # fmt: skip
        """A rep and a manager in the workspace, and a mail provider's one-click unsubscribe (on ``emails``)."""
        import httpx

        def check(what: str, response: Any, expected: tuple[int, ...] = (200,)) -> str:
            self.request_times.append(time.monotonic() - response.elapsed.total_seconds())
            problem = ""
            if response.status_code not in expected:
                problem = f"HTTP {response.status_code}: {response.text[:500]}"
            elif LOCKED in response.text.lower():
                problem = f"'{LOCKED}' in the page"
            self.requests.append((what, response.status_code, problem))
            return str(response.text)

        try:
            with httpx.Client(base_url=site, timeout=60, follow_redirects=False) as rita:
                check("rita logs in", log_in(rita, "rita@cadence.example", self.password), (303,))
                page = check("rita's tasks", rita.get("/tasks"))
                if tasks:
                    task = tasks.pop(0)
                    form = {
                        "csrf_token": csrf_of(page),
                        "return_to": "/tasks",
                        "outcome": "done",
                        "note": "from the web",
                    }
                    response = rita.post(f"/tasks/{task}", data=form)
                    check("rita records a task outcome", response, (303,))
                check("rita's leads", rita.get("/leads"))
                lead = rng.choice(emails)
                page = check("a lead's page", rita.get(f"/leads/{lead}"))
                if lead not in decided_at:
                    response = rita.post(f"/leads/{lead}/decision", data={
                        "csrf_token": csrf_of(page), "decision": "wrong_contact", "reason": "left the company",
                    })  # fmt: skip
                    check("rita records a decision", response, (303,))
                    decided_at[lead] = time.time()
            with httpx.Client(base_url=site, timeout=60, follow_redirects=False) as manager:
                check("the manager logs in", log_in(manager, "max@cadence.example", self.password), (303,))
                check("the dashboard", manager.get("/dashboard"))
            with httpx.Client(base_url=site, timeout=60, follow_redirects=False) as provider:
                lead = rng.choice(emails)
                if lead not in decided_at:
                    token = sign_unsubscribe(lead, secret)
                    response = provider.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                                             headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
                    check("a one-click unsubscribe", response)
                    decided_at[lead] = time.time()
        except Exception:  # a request that could not be made at all is a problem too
            self.requests.append(("browsing", 0, traceback.format_exc()[-3000:]))


def figures_of(
    ctx: Context, log: TouchLog, emails: Sequence[str], *, decided_at: Mapping[str, float], **extra: Any
) -> Figures:
    """:func:`~tests.reliability.scenarios.figures` over the leads ``emails`` only (the others have other steps)."""
    wanted = set(emails)
    with ctx.sessions() as s:
        others = [email for email in s.scalars(select(Lead.email)) if email not in wanted]
    # A lead that is not one of ours counts as decided before anything was sent: neither lost nor sent to.
    result = figures(ctx, log, kills=0, decided_at={**{e: float("inf") for e in others}, **decided_at}, **extra)
    result.steps -= len(others)
    return result
