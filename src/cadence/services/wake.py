"""Speed to lead: a lead enrolled by the intake (the API, the contact form) wakes the runners at once.

The intake announces each enrollment in its own transaction (:func:`announce`): on PostgreSQL a
``NOTIFY`` on :data:`CHANNEL`, delivered when the transaction commits and never before (so a
runner never looks for a lead that is not there yet). A :class:`Listener` (run by ``cadence
serve``) takes the announcements and runs that lead's due steps right away. On SQLite, which has
no ``NOTIFY``, the listener looks for enrollments newer than the last it saw, every
:data:`SQLITE_POLL_SECONDS`: one indexed query on the primary key. When the listener starts
listening (at its start, after a reconnection), it wakes the leads whose first step is due
already: those enrolled while nobody listened.

A lead enrolled outside its send window is not due yet: the listener sets a timer for its first
step's time, so that it goes at the window's opening, not up to five minutes later at the next
scheduled advance.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from cadence.adapters.models import Enrollment, Lead
from cadence.core.leads import lead_reference, parse_reference
from cadence.services.context import Context

logger = logging.getLogger("cadence.wake")

CHANNEL = "cadence_lead_enrolled"
SQLITE_POLL_SECONDS = 1.0
LISTEN_TIMEOUT_SECONDS = 1.0
"""How often the PostgreSQL listener looks up from waiting, to see whether it must stop."""
CATCH_UP_LIMIT = 1000
"""At most this many leads due at their first step are woken when the listener starts (the advance takes the rest)."""


def _named(ref: str) -> ColumnElement[bool]:
    """The condition on ``leads`` for the lead ``ref`` names (its address, or ``#ID``)."""
    lead_id = parse_reference(ref)
    return Lead.id == lead_id if lead_id is not None else Lead.email == ref


def announce(session: Session, email: str) -> None:
    """Announce that the lead ``email`` (address or ``#ID``) was just enrolled, delivered at ``session``'s commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :email)"), {"channel": CHANNEL, "email": email})


Runner = Callable[[str], None]
"""Runs the due steps of the lead with this email (the ``follow-up-lead`` flow)."""


class Listener:
    """Takes the intake's announcements and runs each lead's due steps at once, or at its first step's time.

    ``run`` is called on the listener's own worker thread, one lead at a time; ``clock`` gives "now".
    """

    def __init__(self, ctx: Context, run: Runner, *, clock: Callable[[], datetime] | None = None) -> None:
        self.ctx = ctx
        self.run = run
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stopping = threading.Event()
        self._queue: list[str] = []
        self._ready = threading.Condition()
        self._timers: dict[str, threading.Timer] = {}
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start listening (a daemon thread) and working (another)."""
        for target, name in ((self._listen, "cadence-wake-listen"), (self._work, "cadence-wake-work")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop listening and working; pending timers are cancelled (the scheduled advance takes those leads)."""
        self.stopping.set()
        with self._ready:
            self._ready.notify_all()
        for timer in list(self._timers.values()):
            timer.cancel()
        for thread in self._threads:
            thread.join(timeout=10)

    def wake(self, email: str) -> None:
        """Queue ``email``'s lead for its due steps now."""
        with self._ready:
            if email not in self._queue:
                self._queue.append(email)
            self._ready.notify()

    def _work(self) -> None:
        while not self.stopping.is_set():
            with self._ready:
                while not self._queue and not self.stopping.is_set():
                    self._ready.wait(timeout=1.0)
                if self.stopping.is_set():
                    return
                email = self._queue.pop(0)
            try:
                self.run(email)
                self._time_next(email)
            except Exception:  # one lead's failure must not stop the others' speed to lead
                logger.exception("the follow-up of a lead just enrolled failed; the scheduled advance will take it")

    def _time_next(self, email: str) -> None:
        """If the lead's next step is later today or soon (outside its window now), wake it at that time."""
        with self.ctx.sessions() as session:
            due = session.scalar(
                select(Enrollment.next_due_at)
                .join(Lead, Lead.id == Enrollment.lead_id)
                .where(_named(email), Enrollment.state == "active", Enrollment.next_step == 0)
            )
        if due is None:
            return
        delay = (due - self.clock()).total_seconds()
        if delay <= 0 or delay > 4 * 24 * 3600:  # due already (taken), or days away (the schedule will do)
            return
        previous = self._timers.pop(email, None)
        if previous is not None:
            previous.cancel()
        timer = threading.Timer(delay, self.wake, args=(email,))
        timer.daemon = True
        self._timers[email] = timer
        timer.start()

    def _listen(self) -> None:
        try:
            if self.ctx.engine.dialect.name == "postgresql":
                self._listen_postgresql()
            else:
                self._poll_sqlite()
        except Exception:
            if not self.stopping.is_set():
                logger.exception("speed to lead: the listener stopped; leads wait for the scheduled advance")

    def _listen_postgresql(self) -> None:
        import psycopg

        url = self.ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self.stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._catch_up()
                    while not self.stopping.is_set():
                        for note in conn.notifies(timeout=LISTEN_TIMEOUT_SECONDS):
                            self.wake(note.payload)
            except psycopg.OperationalError as exc:  # the server restarted: listen again
                logger.warning("speed to lead: listening again after %s", str(exc).strip().splitlines()[0:1])
                self.stopping.wait(5)

    def _catch_up(self) -> None:
        """Wake the leads whose first step is due now: enrolled while nobody listened (a restart, the start)."""
        with self.ctx.sessions() as session:
            emails = session.execute(
                select(Lead.id, Lead.email)
                .join(Enrollment, Enrollment.lead_id == Lead.id)
                .where(Enrollment.state == "active", Enrollment.next_step == 0, Enrollment.next_due_at <= self.clock())
                .order_by(Enrollment.next_due_at)
                .limit(CATCH_UP_LIMIT)
            ).all()
        for lead_id, email in emails:
            self.wake(lead_reference(lead_id, email))

    def _poll_sqlite(self) -> None:
        with self.ctx.sessions() as session:
            seen = session.scalar(select(func.max(Enrollment.id))) or 0
        self._catch_up()
        while not self.stopping.wait(SQLITE_POLL_SECONDS):
            with self.ctx.sessions() as session:
                rows = session.execute(
                    select(Enrollment.id, Lead.id, Lead.email)
                    .join(Lead, Lead.id == Enrollment.lead_id)
                    .where(Enrollment.id > seen)
                    .order_by(Enrollment.id)
                ).all()
            for enrollment_id, lead_id, email in rows:
                seen = max(seen, enrollment_id)
                self.wake(lead_reference(lead_id, email))
