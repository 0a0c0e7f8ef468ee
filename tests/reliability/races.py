"""Races: decisions, replies and unsubscribes committed while advance runs are sending.

Shared by ``tests/reliability/test_races.py`` (bounded, in CI) and ``benchmarks/chaos.py`` (longer).

Each round seeds leads whose nurture day-1 email is due, a chunk at a time, while advance runs send
them (one runner, two side by side, or a second one that takes over the first one's claims a lease
later) and while stopping events are committed on most of them at random moments (before the runs
start, while they send, after a lead's email went out): decisions with several outcomes, replies
and out-of-office replies as sync-replies applies them, unsubscribes by the one-click link and by
email, and suppressions. About three quarters of the events target a lead whose email is claimed
or marked at that instant, so that many land between an email's mark and its hand-off, where
only the hand-off check can stop the send.

The guarantee measured is that of :mod:`cadence.services.advance`: no email is handed over once a
stopping event on its lead has committed. A violation (``sent_after_decision``) is a message the
sink received whose hand-off check (``Ledger.hand``, recorded by a wrapper) began after that
event's commit had returned; the times are ``time.monotonic()`` readings taken around each commit
and at the start of each check. A race *landed mid-run* when its commit returned while an advance
run was under way (one that claimed something).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Lead, Touch
from cadence.core.decisions import QUALIFYING_QUESTIONS, Outcome
from cadence.services import replies as replies_module
from cadence.services.advance import run_until_idle
from cadence.services.advance.ledger import Ledger
from cadence.services.advance.work import WorkItem
from cadence.services.claims import TouchState
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead
from cadence.services.suppression import suppress
from cadence.services.unsubscribe import unsubscribe_address
from cadence.settings import Settings
from tests.reliability.scenarios import MAIL_DOMAIN, SEND, TEMPLATES, Figures, TouchLog, figures, seed_leads

MODES = ("one", "two", "takeover")
"""One runner; two runners side by side on the same clock; a second runner one lease later, taking over."""

DECISIONS: tuple[tuple[Outcome, dict[str, Any]], ...] = (
    (Outcome.MEETING_BOOKED, {"answers": {key: f"race answer to {key}" for key, _ in QUALIFYING_QUESTIONS}}),
    (Outcome.QUALIFIED_HANDOFF, {"qualification_skipped": True}),
    (Outcome.NOT_INTERESTED, {}),
    (Outcome.BAD_FIT, {}),
    (Outcome.WRONG_CONTACT, {}),
    (Outcome.PASSED_BACK, {}),
)
KINDS = ("decision", "reply", "out_of_office", "unsubscribe_link", "unsubscribe_email", "suppression")
WEIGHTS = (33, 22, 8, 20, 10, 7)
HANDED_OVER = (TouchState.HANDING, TouchState.SENT, TouchState.UNCERTAIN)
"""Touches whose email may have reached the lead: only those can be answered (the others' Message-IDs are unknown)."""
REP = "rita@cadence.example"
FOLDER = "INBOX"
UIDVALIDITY = 1


@dataclass(frozen=True)
class Event:
    """One stopping event, committed: on whom, what, and when (monotonic and wall time around the commit)."""

    email: str
    kind: str
    began: float
    committed: float
    committed_wall: float
    mid_run: bool = False  # committed while an advance run was under way (set once the round is over)


@dataclass
class Recorder:
    """What the runs did, with when: each hand-off check (by lead) and each run's span."""

    hand_offs: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)
    runs: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hand_off(self, email: str, began: float, passed: bool) -> None:
        """Record a hand-off check on ``email``'s message that began at ``began`` and said ``passed``."""
        with self._lock:
            self.hand_offs.setdefault(email, []).append((began, passed))

    def run(self, began: float, ended: float) -> None:
        """Record an advance run under way from ``began`` to ``ended``."""
        with self._lock:
            self.runs.append((began, ended))

    def during_a_run(self, instant: float, since: int = 0) -> bool:
        """True when an advance run (of the ``since``-th recorded on) was under way at ``instant``."""
        with self._lock:
            return any(began <= instant <= ended for began, ended in self.runs[since:])

    def withdrawn(self) -> int:
        """Hand-off checks that withdrew their message."""
        with self._lock:
            return sum(1 for checks in self.hand_offs.values() for _, passed in checks if not passed)


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    """Wrap ``Ledger.hand`` so that each hand-off check's start (before its statement) and answer are recorded."""
    original = Ledger.hand

    def recorded(ledger: Ledger, item: WorkItem) -> bool:
        began = time.monotonic()
        passed = original(ledger, item)
        recorder.hand_off(item.lead_email, began, passed)
        return passed

    Ledger.hand = recorded  # type: ignore[method-assign]
    try:
        yield
    finally:
        Ledger.hand = original  # type: ignore[method-assign]


def inbound_message(email: str, uid: int, kind: str, in_reply_to: str | None = None) -> bytes:
    """What the lead sends to the replies mailbox: a reply, an out-of-office reply or an unsubscribe.

    With ``in_reply_to`` (one of our Message-IDs) it is matched by its thread, else by its sender.
    """
    message = EmailMessage()
    message["From"] = email
    message["To"] = REP
    message["Message-ID"] = f"<race.{uid}@acme.example>"
    message["Date"] = format_datetime(SEND)
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    if kind == "reply":
        message["Subject"] = "Re: A quick question"
        message.set_content("Sounds interesting. Can we talk on Thursday afternoon?\n\nBest,\nThe lead\n")
    elif kind == "out_of_office":
        message["Subject"] = "Out of office"
        message["Auto-Submitted"] = "auto-replied"
        message.set_content("I am out of the office until December 14 with limited access to email.\n")
    else:
        message["Subject"] = "unsubscribe"
        message.set_content("Please take me off your list.\n")
    return message.as_bytes()


class Stopper:
    """Commits stopping events through the services users reach them by, on a context of its own."""

    def __init__(self, ctx: Context, rng: random.Random, uids: Iterator[int]) -> None:
        self.ctx = ctx
        self.rng = rng
        self.uids = uids  # the replies mailbox's UIDs, shared by every stopper
        self.sync = replies_module.SyncReport(folder=FOLDER)

    def commit(self, email: str, kind: str) -> None:
        """Commit one event of ``kind`` on ``email``; return once it is committed (raise if it failed)."""
        if kind == "decision":
            outcome, extra = self.rng.choice(DECISIONS)
            with self.ctx.sessions() as s, s.begin():  # as `cadence decide` and the workspace do
                decide(s, get_lead(s, email), outcome, now=SEND, reason="race", decided_by=REP, **extra)
        elif kind in ("reply", "out_of_office", "unsubscribe_email"):
            # What sync-replies does with each message of the mailbox: classify it, act, in one transaction.
            uid = next(self.uids)
            thread = None
            if kind != "unsubscribe_email" and self.rng.random() < 0.5:  # an answer to our email, once it went out
                with self.ctx.sessions() as s:
                    thread = s.scalar(select(Touch.message_id).join(Lead, Lead.id == Touch.lead_id)
                                      .where(Lead.email == email, Touch.state.in_(HANDED_OVER)))  # fmt: skip
            raw = inbound_message(email, uid, kind.removesuffix("_email"), thread)
            ok = replies_module._process(self.ctx, ("", FOLDER, UIDVALIDITY), uid, raw, now=SEND, report=self.sync,
                                         wanted=set())  # fmt: skip
            if not ok:
                raise RuntimeError(f"sync-replies failed on a {kind} from {email}: {self.sync.errors[-1]}")
        elif kind == "unsubscribe_link":
            unsubscribe_address(self.ctx, email, now=SEND)  # what the one-click POST does
        elif kind == "suppression":
            with self.ctx.sessions() as s, s.begin():  # as `cadence suppress add`
                suppress(s, email, now=SEND, reason="race: blocked by ops")
        else:  # pragma: no cover - a typo in KINDS
            raise ValueError(kind)


@dataclass
class _Round:
    """What the threads of one round share: the leads seeded so far and the targets not stopped yet."""

    targets: set[str]
    seeders: int = 1  # seeding threads not finished yet
    lock: threading.Lock = field(default_factory=threading.Lock)
    open_targets: list[str] = field(default_factory=list)  # seeded, to be stopped, not stopped yet
    in_flight: tuple[float, set[str]] = (0.0, set())  # when it was read, and the open targets claimed or marked then
    first_seeded: threading.Event = field(default_factory=threading.Event)
    seeded: threading.Event = field(default_factory=threading.Event)
    failures: list[BaseException] = field(default_factory=list)

    def add(self, emails: list[str]) -> None:
        """``emails`` are seeded: those among the targets may be stopped from now on."""
        with self.lock:
            self.open_targets.extend(email for email in emails if email in self.targets)
        self.first_seeded.set()

    def next_chunk(self, chunks: list[list[str]]) -> list[str]:
        """The next chunk of leads to seed (empty when none is left, or a thread failed)."""
        with self.lock:
            return chunks.pop(0) if chunks and not self.failures else []

    def seeder_done(self) -> None:
        """One seeding thread is done; once all are, every lead of the round is seeded."""
        with self.lock:
            self.seeders -= 1
            if self.seeders == 0:
                self.seeded.set()

    def take(self, preferred: set[str], rng: random.Random) -> str | None:
        """An open target, one of ``preferred`` when there is one; None when none is open now."""
        with self.lock:
            if not self.open_targets:
                return None
            candidates = [email for email in self.open_targets if email in preferred] or self.open_targets
            email = rng.choice(candidates)
            self.open_targets.remove(email)
            return email

    def done(self) -> bool:
        """True once every target was seeded and stopped (or a thread failed)."""
        with self.lock:
            return bool(self.failures) or (self.seeded.is_set() and not self.open_targets)


@dataclass
class Races:
    """Rounds of advance runs with stopping events committed at random moments, until ``races`` landed mid-run.

    In each round the leads are seeded a chunk at a time while the runs send and the events land,
    so that a round costs about as long as its slowest side, not the sum of them.

    Rounds also go on until ``races // 20`` of the events were contested (committed after their
    lead's wave was marked and before its hand-off check) and as many hand-offs were withdrawn:
    how many of a round's events land in that window depends on how the threads are scheduled
    (5 to 23 of 158 on SQLite with the same seed, under load), so a fixed number of rounds does
    not make them, more rounds do (``max_rounds`` at most), each of ``leads_per_round`` leads while they are short.
    """

    database_url: str
    sink_port: int
    log: TouchLog
    races: int = 1000
    leads_per_round: int = 200
    seed_chunk: int = 25
    stopped_share: float = 0.9  # of each round's leads, how many get a stopping event
    in_flight_share: float = 0.75  # of the events, how many target a lead whose email is claimed or marked
    seeders: int = 2  # threads importing the leads
    stoppers: int = 4  # threads committing events
    batch_size: int = 20
    connections: int = 3
    lease_seconds: int = 2
    max_rounds: int = 100
    seed: int = 0
    progress: Callable[[str], None] = lambda _message: None
    events: list[Event] = field(default_factory=list)
    recorder: Recorder = field(default_factory=Recorder)

    def settings(self) -> Settings:
        """The settings of the runners and of the sides seeding leads and committing events."""
        return Settings(database_url=self.database_url, templates_dir=TEMPLATES, smtp_host="127.0.0.1",
                        smtp_port=self.sink_port, smtp_connections=self.connections, mail_domain=MAIL_DOMAIN,
                        lease_seconds=self.lease_seconds, batch_size=self.batch_size)  # fmt: skip

    def play(self) -> Figures:
        """Play rounds (the modes in turn) until there are enough races (:meth:`enough`); return the figures."""
        rng = random.Random(self.seed)
        started = time.monotonic()
        contexts = {side: Context(self.settings()) for side in ("seeding", "events", "a", "b")}
        uids = itertools.count(1)
        swept = rounds = 0
        modes: Counter[str] = Counter()
        try:
            seed_leads(contexts["seeding"], [])  # the rep, once: the seeding threads then only add leads
            with recording(self.recorder):
                while not self.enough() and rounds < self.max_rounds:
                    mode = MODES[rounds % len(MODES)]
                    self.round(contexts, uids, random.Random(rng.random()), mode, rounds)
                    # Anything a run left due (a retry, a lapsed claim) is finished by a later run, as in production.
                    later = SEND + timedelta(minutes=10)
                    swept += asyncio.run(run_until_idle(contexts["a"], now=later)).emails_sent
                    rounds += 1
                    modes[mode] += 1
                    self.progress(f"round {rounds} ({mode}): {self.landed()} races landed mid-run so far")
            self.log.settle()
            return self.figures(contexts["seeding"], rounds=rounds, modes=dict(modes), swept=swept,
                                seconds=round(time.monotonic() - started, 1))  # fmt: skip
        finally:
            for ctx in contexts.values():
                ctx.close()

    def landed(self) -> int:
        """Events committed while an advance run was under way."""
        return sum(1 for event in self.events if event.mid_run)

    def contested(self) -> int:
        """Events that landed mid-run before a hand-off check of their lead began: only that check stopped the send."""
        contested = 0
        for event in self.events:
            checks = self.recorder.hand_offs.get(event.email, [])
            if event.mid_run and any(began > event.committed for began, _ in checks):
                contested += 1
        return contested

    def enough(self) -> bool:
        """True once ``races`` events landed mid-run, and ``races // 20`` were contested and as many withdrawn."""
        floor = self.races // 20
        return self.landed() >= self.races and self.contested() >= floor and self.recorder.withdrawn() >= floor

    def round(
        self, contexts: dict[str, Context], uids: Iterator[int], rng: random.Random, mode: str, number: int
    ) -> None:
        """One round: leads seeded a chunk at a time, the runs of ``mode``, and the events, all at once."""
        # The last round only as big as the races still to land need (most land mid-run); a full round
        # while too few were contested or withdrawn: only a few of a round's events land in that window,
        # and rounds of 20 leads could use up ``max_rounds`` before enough did (44 of 50 in 100 rounds).
        floor = self.races // 20
        short = self.contested() < floor or self.recorder.withdrawn() < floor
        wanted = self.leads_per_round if short else math.ceil((self.races - self.landed()) / self.stopped_share / 0.95)
        emails = [f"r{number}-{i}@acme{number % 7}.example" for i in range(min(self.leads_per_round, max(wanted, 20)))]
        shared = _Round(targets=set(rng.sample(emails, round(len(emails) * self.stopped_share))), seeders=self.seeders)
        first_event, first_run = len(self.events), len(self.recorder.runs)

        def guarded(work: Callable[[], None]) -> Callable[[], None]:
            def go() -> None:
                try:
                    work()
                except BaseException as exc:
                    shared.failures.append(exc)
                    shared.first_seeded.set()  # the others stop too, instead of waiting for leads
                    shared.seeded.set()

            return go

        chunks = [emails[start : start + self.seed_chunk] for start in range(0, len(emails), self.seed_chunk)]

        def seed() -> None:
            while chunk := shared.next_chunk(chunks):
                seed_leads(contexts["seeding"], chunk)
                shared.add(chunk)
                time.sleep(rng.uniform(0.0, 0.02))
            shared.seeder_done()

        def run(ctx: Context, delay: float, now_offset: float) -> Callable[[], None]:
            def go() -> None:
                shared.first_seeded.wait(60)
                time.sleep(delay)  # events land on the first leads before any run has started
                while not shared.failures:
                    last = shared.seeded.is_set()
                    began = time.monotonic()
                    report = asyncio.run(run_until_idle(ctx, now=SEND + timedelta(seconds=now_offset)))
                    if report.claimed:
                        self.recorder.run(began, time.monotonic())
                    if last:
                        return
                    if not report.did_work:
                        time.sleep(0.02)  # the next chunk is being seeded

            return go

        def stop(rng: random.Random) -> Callable[[], None]:
            stopper = Stopper(contexts["events"], rng, uids)

            def go() -> None:
                while not shared.done():
                    email = shared.take(self.in_flight(contexts["events"], shared) if
                                        rng.random() < self.in_flight_share else set(), rng)  # fmt: skip
                    if email is None:
                        time.sleep(0.005)
                        continue
                    kind = rng.choices(KINDS, WEIGHTS)[0]
                    began = time.monotonic()
                    stopper.commit(email, kind)
                    self.events.append(Event(email, kind, began, time.monotonic(), time.time()))
                    time.sleep(rng.uniform(0.0, 0.01))

            return go

        works = [*(seed for _ in range(self.seeders)), run(contexts["a"], rng.uniform(0.0, 0.2), 0.0)]
        if mode == "two":
            works.append(run(contexts["b"], rng.uniform(0.0, 0.25), 0.0))
        elif mode == "takeover":  # a lease later: what runner A claimed and has not finished is taken over
            works.append(run(contexts["b"], rng.uniform(0.2, 1.5), self.lease_seconds + 1.0))
        works += [stop(random.Random(rng.random())) for _ in range(self.stoppers)]
        threads = [threading.Thread(target=guarded(work)) for work in works]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        if shared.failures:
            raise shared.failures[0]
        if any(thread.is_alive() for thread in threads):
            raise RuntimeError(f"round {number} ({mode}) did not finish in 600 s")
        self.events[first_event:] = [
            replace(event, mid_run=self.recorder.during_a_run(event.committed, since=first_run))
            for event in self.events[first_event:]
        ]

    def in_flight(self, ctx: Context, shared: _Round) -> set[str]:
        """The open targets whose email is claimed or marked right now (read again at most every 10 ms)."""
        with shared.lock:
            read_at, found = shared.in_flight
            if time.monotonic() - read_at < 0.01:
                return found
            candidates = list(shared.open_targets)
        if not candidates:
            return set()
        with ctx.sessions() as s:
            found = set(
                s.scalars(
                    select(Lead.email)
                    .join(Touch, Touch.lead_id == Lead.id)
                    .where(Touch.state.in_([TouchState.CLAIMED, TouchState.SENDING]), Lead.email.in_(candidates))
                )
            )
        with shared.lock:
            shared.in_flight = (time.monotonic(), found)
        return found

    def figures(self, ctx: Context, **extra: Any) -> Figures:
        """The figures (see the module's docstring), with the races' own."""
        received: Counter[str] = Counter()
        first_seen: dict[str, float] = {}
        for touch, count in self.log.counts.items():
            email = self.log.recipients[touch]
            received[email] += count
            first_seen[email] = min(first_seen.get(email, self.log.first_seen[touch]), self.log.first_seen[touch])
        stopped = {event.email: event for event in self.events}
        violations = sent_before = 0
        for event in self.events:
            checks = self.recorder.hand_offs.get(event.email, [])
            if not received[event.email]:
                continue
            passed = [began for began, ok in checks if ok]
            if any(began > event.committed for began in passed):
                violations += 1  # handed over by a check that began after the event had committed
            elif not passed and first_seen[event.email] > event.committed_wall:
                violations += 1  # received with no check that let it through at all
            else:
                sent_before += 1  # its check began before the commit: it was handed over (or going) already
        with ctx.sessions() as s:
            everyone = list(s.scalars(select(Lead.email)))
            uncertain = list(s.scalars(select(Touch.id).where(Touch.state == TouchState.UNCERTAIN)))
        not_exactly_once = sum(1 for email in everyone if email not in stopped and received[email] != 1)
        uncertain_delivered = sum(1 for touch in uncertain if self.log.counts.get(str(touch)) == 1)
        kinds = Counter(event.kind for event in self.events)
        result = figures(ctx, self.log, kills=0, decided_at={e.email: e.committed_wall for e in self.events})
        return replace(
            result,
            sent_after_decision=violations,
            extra={
                **result.extra,
                "races": self.landed(),
                "decisions": kinds["decision"],
                "replies": kinds["reply"] + kinds["out_of_office"],
                "unsubscribes": kinds["unsubscribe_link"] + kinds["unsubscribe_email"],
                "suppressions": kinds["suppression"],
                "events": len(self.events),
                "contested": self.contested(),
                "withdrawn": self.recorder.withdrawn(),
                "sent_before_stop": sent_before,
                "uncertain_delivered": uncertain_delivered,
                "not_exactly_once": not_exactly_once,
                **extra,
            },
        )


def play(database_url: str, sink_port: int, log: TouchLog, *, races: int = 1000, seed: int = 0,
         **options: Any) -> Figures:  # fmt: skip
    """Play :class:`Races` until ``races`` events landed mid-run; the sink on ``sink_port`` logs to ``log``."""
    return Races(database_url=database_url, sink_port=sink_port, log=log, races=races, seed=seed, **options).play()
