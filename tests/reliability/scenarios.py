"""The reliability scenarios, shared by ``tests/reliability`` (bounded, in CI) and ``benchmarks/chaos.py`` (longer).

Each scenario seeds leads whose next step is a due email (the nurture cadence's day-1 email),
runs advance runs against a real SMTP sink that logs every message by its ``X-Cadence-Touch``
header, breaks something on purpose, and then reads the figures off the database and the sink
(:class:`Figures`):

* ``steps``: due email steps seeded; ``sent``: touches recorded ``sent``;
* ``duplicates``: messages the sink received for a touch it had already received;
* ``lost``: due steps that ended neither ``sent`` (and received) nor ``uncertain`` nor
  ``bounced``, for leads that were not decided meanwhile;
* ``uncertain``: touches recorded ``uncertain`` (possibly sent, never re-sent);
* ``sent_after_decision``: messages received for a lead after a decision on it was committed;
* ``connections``: the SMTP connections of each runner. Hand-offs run in parallel across them, one
  at a time on each, so a runner stopped at any moment leaves at most one email ``uncertain`` per
  connection: ``uncertain`` is bounded by the kills (or stops) times ``connections``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Enrollment, Lead, Touch
from cadence.adapters.smtp_sink import ReceivedEnvelope
from cadence.core.decisions import Outcome
from cadence.core.leads import make_lead
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep
from cadence.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CADENCE = Path(sys.executable).parent / "cadence"

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York: the leads are enrolled then
SEND = MONDAY + timedelta(days=1, hours=1)  # Tuesday 10:00 in New York: the nurture day-1 email is due
MAIL_DOMAIN = "mail.reliability.example"


@dataclass
class Figures:
    """What a scenario measured; :meth:`json` is the line it prints last."""

    kills: int
    steps: int
    sent: int
    duplicates: int
    lost: int
    uncertain: int
    sent_after_decision: int
    connections: int = 1
    """SMTP connections per runner: a crash leaves at most one email in doubt on each."""
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> str:
        """One JSON line: the figures of the issue first, then the scenario's own."""
        values = asdict(self)
        extra = values.pop("extra")
        return json.dumps({**values, **extra})


class TouchLog:
    """An ``on_message`` hook for the SMTP sink: every message received, by touch, with when and for whom."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.first_seen: dict[str, float] = {}
        self.recipients: dict[str, str] = {}
        self._total = 0

    def __call__(self, envelope: ReceivedEnvelope, raw: bytes) -> None:
        touch = str(message_from_bytes(raw, policy=default_policy)["X-Cadence-Touch"])
        with self._lock:
            self.counts[touch] += 1
            self.first_seen.setdefault(touch, time.time())
            self.recipients[touch] = envelope.rcpt_tos[0].lower()
            self._total += 1

    def total(self) -> int:
        """Messages received so far."""
        with self._lock:
            return self._total

    def duplicates(self) -> int:
        """Messages received for a touch already received."""
        with self._lock:
            return sum(count - 1 for count in self.counts.values() if count > 1)

    def settle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until no message has arrived for ``quiet`` seconds (what a dead runner left in flight lands)."""
        deadline = time.monotonic() + timeout
        last = self.total()
        calm_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.02)
            now_total = self.total()
            if now_total != last:
                last, calm_since = now_total, time.monotonic()
            elif time.monotonic() - calm_since >= quiet:
                return


def lead_values(email: str, i: int) -> dict[str, str]:
    """A lead that fits the persona, in New York."""
    return {
        "email": email, "first_name": f"Lead{i}", "last_name": "Tester", "title": "VP Engineering",
        "company": "Acme", "industry": "Software", "company_size": "500", "source": "webinar",
        "interactions": "3", "timezone": "America/New_York", "country": "US",
        "account": email,  # independent leads: each its own account (colleagues hold each other)
    }  # fmt: skip


def seed_leads(ctx: Context, emails: list[str]) -> None:
    """Enroll ``emails`` (owned by Rita) on the nurture cadence on Monday: their day-1 email is due at SEND."""
    with ctx.sessions() as s, s.begin():
        from cadence.adapters.models import Rep

        if s.scalar(select(Rep.id).where(Rep.email == "rita@cadence.example")) is None:
            add_rep(s, "rita@cadence.example", "Rita Alvarez", now=MONDAY, timezone="America/New_York")
        rows = [ImportRow(i + 2, make_lead(lead_values(email, i))) for i, email in enumerate(emails)]
        import_leads(s, rows, now=MONDAY, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                     cadence_override="nurture")  # fmt: skip


def decide_now(ctx: Context, email: str, outcome: Outcome = Outcome.NOT_INTERESTED) -> float:
    """Commit a decision on ``email``; return the wall time right after the commit."""
    with ctx.sessions() as s, s.begin():
        decide(s, get_lead(s, email), outcome, now=SEND, reason="reliability scenario", decided_by="tests")
    return time.time()


def pending(ctx: Context) -> int:
    """Day-1 email steps not finished yet: due, claimed, marked or being handed over."""
    with ctx.sessions() as s:
        due = s.scalars(
            select(Enrollment.id).where(Enrollment.state == "active", Enrollment.next_step == 0)
        ).all()  # fmt: skip
        return len(due)


def figures(ctx: Context, log: TouchLog, *, kills: int, decided_at: Mapping[str, float], **extra: Any) -> Figures:
    """Read the figures off the database and the sink (see the module's docstring)."""
    with ctx.sessions() as s:
        leads = dict(s.execute(select(Lead.id, Lead.email)).tuples().all())
        touches = {
            lead_id: (touch_id, state)
            for touch_id, lead_id, state in s.execute(
                select(Touch.id, Touch.lead_id, Touch.state).where(Touch.step_index == 0, Touch.channel == "email")
            ).tuples()
        }
    sent = uncertain = lost = bounced = 0
    for lead_id, email in leads.items():
        touch_id, state = touches.get(lead_id, (None, None))
        received = log.counts.get(str(touch_id), 0) if touch_id is not None else 0
        if state == "sent" and received >= 1:
            sent += 1
        elif state == "uncertain":
            uncertain += 1
        elif state == "bounced":
            bounced += 1  # refused by the server for good: an outcome, not a loss
        elif email not in decided_at:
            lost += 1  # not decided, and neither sent nor uncertain: that step was lost
    after_decision = 0
    touch_of = {str(touch_id): leads[lead_id] for lead_id, (touch_id, _) in touches.items()}
    for touch, seen in log.first_seen.items():
        email = touch_of.get(touch) or log.recipients.get(touch)
        if email in decided_at and decided_at[email] < seen:
            after_decision += 1
    return Figures(kills=kills, steps=len(leads), sent=sent, duplicates=log.duplicates(), lost=lost,
                   uncertain=uncertain, sent_after_decision=after_decision,
                   connections=ctx.settings.smtp_connections, extra={"bounced": bounced, **extra})  # fmt: skip


# -- kill -9 ------------------------------------------------------------------------------------------


@dataclass
class KillNine:
    """Advance runs (``cadence run``, each a process of its own) killed with SIGKILL at random moments.

    Each run's clock (``--now``) is one lease and a second after the previous one's, so what a
    killed run had claimed is taken up by the next. Between runs, some leads whose email has not
    gone out yet are decided (their orphaned claims must then never be sent). Leads are added
    whenever fewer are due than a run sends before its kill, so runs end killed, not done; the last
    runs, not killed, finish what is left (and what killed runs had claimed).
    """

    database_url: str
    sink_port: int
    log: TouchLog
    environment: Mapping[str, str]  # PREFECT_* of the Prefect server the runs report to, PATH, ...
    work_dir: Path
    kills: int = 20
    leads_per_refill: int = 150
    lease_seconds: int = 2
    batch_size: int = 40
    connections: int = 4
    seed: int = 0
    progress: Callable[[str], None] = lambda _message: None

    def settings(self) -> Settings:
        """The settings of the runs (and of this process's own reads and decisions)."""
        return Settings(database_url=self.database_url, templates_dir=TEMPLATES, smtp_host="127.0.0.1",
                        smtp_port=self.sink_port, smtp_connections=self.connections, mail_domain=MAIL_DOMAIN,
                        lease_seconds=self.lease_seconds, batch_size=self.batch_size)  # fmt: skip

    def run_environment(self) -> dict[str, str]:
        """The environment of ``cadence run``: ours, without the test's own cadence settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
        env.update(self.environment)
        env.update(
            CADENCE_DATABASE_URL=self.database_url,
            CADENCE_TEMPLATES_DIR=str(TEMPLATES),
            CADENCE_SMTP_HOST="127.0.0.1",
            CADENCE_SMTP_PORT=str(self.sink_port),
            CADENCE_SMTP_CONNECTIONS=str(self.connections),
            CADENCE_MAIL_DOMAIN=MAIL_DOMAIN,
            CADENCE_LEASE_SECONDS=str(self.lease_seconds),
            CADENCE_BATCH_SIZE=str(self.batch_size),
        )
        return env

    def start(self, now: datetime, number: int) -> tuple[subprocess.Popen[bytes], Path]:
        """Start ``cadence run --now NOW`` in a process group of its own, logging to a file."""
        out = self.work_dir / f"run-{number:04d}.log"
        with out.open("wb") as handle:
            process = subprocess.Popen(
                [str(CADENCE), "run", "--now", now.isoformat()],
                env=self.run_environment(), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=handle,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        return process, out

    def play(self) -> Figures:
        """Kill runs until ``kills`` of them died mid-work, then let a last run finish; return the figures."""
        rng = random.Random(self.seed)
        ctx = Context(self.settings())
        decided_at: dict[str, float] = {}
        seeded = 0
        kills = finished = 0
        now = SEND
        started = time.monotonic()
        try:
            while kills < self.kills:
                # Topped up before a run could finish its work unkilled: each of these starts is meant to be killed.
                if pending(ctx) <= 3 * self.batch_size:
                    emails = [f"k{seeded + i}@acme.example" for i in range(self.leads_per_refill)]
                    seed_leads(ctx, emails)
                    seeded += len(emails)
                number = kills + finished
                process, out = self.start(now, number)
                before = self.log.total()
                if rng.random() < 0.2:  # anywhere: starting up, claiming, rendering, the first emails
                    deadline = time.monotonic() + rng.uniform(0.0, 4.0)
                    while time.monotonic() < deadline and process.poll() is None:
                        time.sleep(0.005)
                else:  # in the middle of sending: after k messages, at a random instant of the next hand-off
                    target = before + rng.randint(1, 3 * self.batch_size)
                    deadline = time.monotonic() + 120
                    while self.log.total() < target and process.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.0005)
                    time.sleep(rng.uniform(0.0, 0.004))
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(30)
                    kills += 1
                else:
                    finished += 1
                    if process.returncode != 0:
                        raise RuntimeError(f"run {number} failed with {process.returncode}:\n{out.read_text()[-3000:]}")
                self.log.settle()
                self.progress(f"run {number}: {'killed' if process.returncode == -signal.SIGKILL else 'finished'}, "
                              f"{self.log.total()} messages so far")  # fmt: skip
                # Decide a few leads whose email has not gone out: a killed run may hold their claims.
                with ctx.sessions() as s:
                    waiting = list(
                        s.scalars(
                            select(Lead.email)
                            .join(Enrollment, Enrollment.lead_id == Lead.id)
                            .where(Enrollment.state == "active", Enrollment.next_step == 0)
                        )
                    )
                for email in rng.sample(waiting, min(len(waiting), rng.randint(0, 2))):
                    decided_at[email] = decide_now(ctx, email)
                now += timedelta(seconds=self.lease_seconds + 1)
            for _ in range(5):  # the last runs, not killed: everything orphaned is taken up and finished
                if pending(ctx) == 0:
                    break
                process, out = self.start(now, kills + finished)
                if process.wait(600) != 0:
                    raise RuntimeError(f"the last run failed with {process.returncode}:\n{out.read_text()[-3000:]}")
                finished += 1
                now += timedelta(seconds=self.lease_seconds + 1)
            self.log.settle()
            return figures(ctx, self.log, kills=kills, decided_at=decided_at, runs=kills + finished,
                           decisions=len(decided_at), seconds=round(time.monotonic() - started, 1))  # fmt: skip
        finally:
            ctx.close()


# -- SMTP faults --------------------------------------------------------------------------------------


@dataclass
class SmtpTrouble:
    """Advance runs (in this process) against a sink that fails at random and a network that cuts connections.

    The server answers 451 at RCPT, 451 or 421 at the end of DATA, and 550 to the ``rejected``
    addresses; the proxy in front of it cuts connections mid-DATA or after the final dot (the
    server then has the message), and is down for the second run. Runs go on, each a few seconds
    of simulated time after the last, until nothing is left to do.
    """

    settings: Settings
    proxy: Any  # tests.support.smtp_faults.FaultyProxy, in front of the sink
    log: TouchLog
    leads: int = 120
    rejected: int = 10
    max_runs: int = 40

    def emails(self) -> list[str]:
        """The leads' addresses; the first ``rejected`` of them are refused by the server."""
        return [f"{'x' if i < self.rejected else 't'}{i}@acme.example" for i in range(self.leads)]

    def play(self) -> tuple[Figures, list[Any]]:
        """Run until done; return the figures and each run's report."""
        import asyncio

        from cadence.services.advance import run_until_idle

        ctx = Context(self.settings)
        reports: list[Any] = []
        try:
            seed_leads(ctx, self.emails())
            now = SEND
            for number in range(self.max_runs):
                if pending(ctx) == 0:
                    break
                if number == 1:
                    with self.proxy.down():  # the server is away for a whole run: nothing is lost meanwhile
                        reports.append(asyncio.run(run_until_idle(ctx, now=now)))
                else:
                    reports.append(asyncio.run(run_until_idle(ctx, now=now)))
                now += timedelta(seconds=self.settings.retry_max_seconds + self.settings.lease_seconds + 1)
            self.log.settle()
            return figures(ctx, self.log, kills=0, decided_at={}, runs=len(reports)), reports
        finally:
            ctx.close()
