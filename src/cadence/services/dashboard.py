"""The managers' dashboard: a few aggregate queries over leads, touches, responses, decisions and tasks.

Definitions (shown on the page too):

* **Leads by status and class**: every lead (names included) by its current status and class.
* **Cadence funnel**: per cadence and step, *sent* (``reached``) is the number of enrollments whose
  step ran (an email accepted by the SMTP server; for the other channels, the rep's task created);
  *replied* the number of enrollments whose first response (a reply, a connected call, a response
  recorded by hand; not an automatic reply or a bounce) came after that step, i.e. the last step
  that ran before it; *meetings* the number of enrollments decided ``meeting_booked``, by the last
  step that ran before the decision. Responses and meetings before the first step count under Day 0.
* **Decisions**: each lead's latest decision, by outcome, with its most frequent reasons.
* **Tasks by rep**: *open*; *overdue*, open and due before the start of the rep's local day (as
  ``cadence tasks list --due overdue``); *done* in the last :data:`DONE_WINDOW_DAYS` days, and of
  those *on time*: completed before the end of the local day they were due.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Enrollment, Lead, Rep, Response, Task, Touch
from cadence.core.cadences import Cadence
from cadence.core.decisions import Outcome
from cadence.core.schedule import local_instant

REACHED_STATES = ("sent", "done")
"""Touch states of a step that ran: an email the SMTP server accepted, a task created."""
NOT_A_RESPONSE = ("auto_reply", "bounce")
"""Response kinds that are not the lead answering."""
DONE_WINDOW_DAYS = 30
TOP_REASONS = 5
_CHUNK = 500
T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


# -- Leads ----------------------------------------------------------------------------------------


@dataclass
class LeadCounts:
    """Leads by status and class: ``cells[(status, class)]``; a lead without a class is under ``-``."""

    statuses: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Every lead."""
        return sum(self.cells.values())

    def by_status(self) -> dict[str, int]:
        """The total of each status."""
        totals: Counter[str] = Counter()
        for (status, _), count in self.cells.items():
            totals[status] += count
        return dict(totals)

    def by_class(self) -> dict[str, int]:
        """The total of each class (``-``: no class)."""
        totals: Counter[str] = Counter()
        for (_, lead_class), count in self.cells.items():
            totals[lead_class] += count
        return dict(totals)


def leads_by_status_and_class(session: Session) -> LeadCounts:
    """How many leads have each status and class."""
    rows = session.execute(
        select(Lead.status, Lead.lead_class, func.count()).group_by(Lead.status, Lead.lead_class)
    ).all()
    counts = LeadCounts()
    for status, lead_class, count in rows:
        key = (status, lead_class or "-")
        counts.cells[key] = counts.cells.get(key, 0) + int(count)
    counts.statuses = sorted({s for s, _ in counts.cells})
    counts.classes = sorted({c for _, c in counts.cells}, key=lambda c: (c == "-", c))
    return counts


# -- Funnels --------------------------------------------------------------------------------------


@dataclass
class FunnelStep:
    """One step of a cadence's funnel (``index`` -1 is Day 0, before the first step)."""

    index: int
    day: int | None
    channel: str
    template: str | None
    reached: int = 0
    replied: int = 0
    meetings: int = 0


@dataclass
class Funnel:
    """A cadence's funnel, step by step."""

    cadence: str
    enrolled: int
    steps: list[FunnelStep]

    @property
    def replied(self) -> int:
        """Enrollments that responded, at any step."""
        return sum(s.replied for s in self.steps)

    @property
    def meetings(self) -> int:
        """Enrollments decided ``meeting_booked``, at any step."""
        return sum(s.meetings for s in self.steps)


def _attributed_step(ran: list[tuple[datetime, int]], at: datetime) -> int:
    """The index of the last step that ran at or before ``at`` (-1 when none had)."""
    best = -1
    for executed_at, index in ran:
        if executed_at <= at:
            best = max(best, index)
    return best


def cadence_funnels(session: Session, cadences: dict[str, Cadence]) -> list[Funnel]:
    """Each cadence's funnel (the cadences with enrollments, and those of ``cadences``), by name.

    Steps are labelled from ``cadences`` (the current definitions); a step index beyond them (an
    older version had more steps) is shown without a label.
    """
    enrolled: dict[str, int] = {
        name: int(count)
        for name, count in session.execute(
            select(Enrollment.cadence_name, func.count()).group_by(Enrollment.cadence_name)
        ).tuples()
    }
    reached: dict[tuple[str, int], int] = {
        (name, index): int(count)
        for name, index, count in session.execute(
            # count(*) is the number of enrollments: (enrollment_id, step_index) is unique, no DISTINCT to sort
            select(Enrollment.cadence_name, Touch.step_index, func.count())
            .join(Enrollment, Enrollment.id == Touch.enrollment_id)
            .where(Touch.state.in_(REACHED_STATES))
            .group_by(Enrollment.cadence_name, Touch.step_index)
        ).tuples()
    }
    first_response: dict[int, datetime] = {
        enrollment_id: at
        for enrollment_id, at in session.execute(
            select(Response.enrollment_id, func.min(Response.received_at))
            .where(Response.enrollment_id.is_not(None), Response.kind.not_in(NOT_A_RESPONSE))
            .group_by(Response.enrollment_id)
        ).tuples()
        if enrollment_id is not None
    }
    meeting_at: dict[int, datetime] = {
        enrollment_id: at
        for enrollment_id, at in session.execute(
            select(Decision.enrollment_id, func.min(Decision.decided_at))
            .where(Decision.enrollment_id.is_not(None), Decision.outcome == Outcome.MEETING_BOOKED.value)
            .group_by(Decision.enrollment_id)
        ).tuples()
        if enrollment_id is not None
    }
    involved = sorted(set(first_response) | set(meeting_at))
    names: dict[int, str] = {}
    ran: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for chunk in _chunks(involved):
        names.update(
            session.execute(select(Enrollment.id, Enrollment.cadence_name).where(Enrollment.id.in_(chunk)))
            .tuples()
            .all()
        )
        for enrollment_id, executed_at, index in session.execute(
            select(Touch.enrollment_id, Touch.executed_at, Touch.step_index).where(
                Touch.enrollment_id.in_(chunk), Touch.state.in_(REACHED_STATES), Touch.executed_at.is_not(None)
            )
        ).tuples():
            if executed_at is not None:
                ran[enrollment_id].append((executed_at, index))
    replied: Counter[tuple[str, int]] = Counter()
    meetings: Counter[tuple[str, int]] = Counter()
    for enrollment_id, at in first_response.items():
        if enrollment_id in names:
            replied[(names[enrollment_id], _attributed_step(ran[enrollment_id], at))] += 1
    for enrollment_id, at in meeting_at.items():
        if enrollment_id in names:
            meetings[(names[enrollment_id], _attributed_step(ran[enrollment_id], at))] += 1

    funnels = []
    for name in sorted(set(enrolled) | set(cadences)):
        cadence = cadences.get(name)
        known = len(cadence.steps) if cadence else 0
        seen = [i for (n, i) in (*reached, *replied, *meetings) if n == name]
        count = max([known, *(i + 1 for i in seen)])
        steps = [FunnelStep(-1, 0, "enrolled", None)]
        for index in range(count):
            defined = cadence.steps[index] if cadence and index < known else None
            steps.append(
                FunnelStep(
                    index,
                    defined.day if defined else None,
                    defined.channel.value if defined else "?",
                    defined.template if defined else None,
                )
            )
        for item in steps:
            item.reached = enrolled.get(name, 0) if item.index == -1 else reached.get((name, item.index), 0)
            item.replied = replied.get((name, item.index), 0)
            item.meetings = meetings.get((name, item.index), 0)
        funnels.append(Funnel(name, enrolled.get(name, 0), steps))
    return funnels


# -- Decisions ------------------------------------------------------------------------------------


@dataclass
class OutcomeCount:
    """How many leads' latest decision has one outcome, and the most frequent reasons."""

    outcome: str
    count: int
    reasons: list[tuple[str, int]]
    qualification_skipped: int = 0


def decisions_by_outcome(session: Session) -> list[OutcomeCount]:
    """Each lead's latest decision by outcome (most frequent first), with its top reasons."""
    latest = select(func.max(Decision.id)).group_by(Decision.lead_id).scalar_subquery()
    rows = session.execute(
        select(Decision.outcome, Decision.reason, Decision.qualification_skipped, func.count())
        .where(Decision.id.in_(latest))
        .group_by(Decision.outcome, Decision.reason, Decision.qualification_skipped)
    ).all()
    totals: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    skipped: Counter[str] = Counter()
    for outcome, reason, was_skipped, count in rows:
        totals[outcome] += int(count)
        reasons[outcome][(reason or "").strip() or "(no reason given)"] += int(count)
        if was_skipped:
            skipped[outcome] += int(count)
    return [
        OutcomeCount(outcome, count, reasons[outcome].most_common(TOP_REASONS), skipped[outcome])
        for outcome, count in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    ]


# -- Tasks ----------------------------------------------------------------------------------------


@dataclass
class RepTasks:
    """One rep's tasks (see the module documentation for the definitions)."""

    email: str
    name: str
    open: int = 0
    overdue: int = 0
    done: int = 0
    on_time: int = 0

    @property
    def on_time_rate(self) -> float | None:
        """The share of the tasks done in the window that were on time (None when none were done)."""
        return self.on_time / self.done if self.done else None


def _local_day_start(now: datetime, zone: ZoneInfo) -> datetime:
    return local_instant(now.astimezone(zone).date(), time(0, 0), zone)


def _local_day_end(at: datetime, zone: ZoneInfo) -> datetime:
    return local_instant(at.astimezone(zone).date() + timedelta(days=1), time(0, 0), zone)


def tasks_by_rep(session: Session, *, now: datetime, default_timezone: str) -> list[RepTasks]:
    """Every rep's open, overdue, done and on-time tasks, by name."""
    reps = session.scalars(select(Rep).order_by(Rep.name, Rep.email)).all()
    result = {rep.id: RepTasks(rep.email, rep.name) for rep in reps}
    zones = {rep.id: ZoneInfo(rep.timezone or default_timezone) for rep in reps}
    opens = session.execute(
        select(Task.owner_id, Task.due_at).where(Task.status == "open", Task.owner_id.is_not(None))
    ).tuples()
    starts = {rep_id: _local_day_start(now, zone) for rep_id, zone in zones.items()}
    for owner_id, due_at in opens:
        if owner_id in result:
            result[owner_id].open += 1
            if due_at < starts[owner_id]:
                result[owner_id].overdue += 1
    since = now - timedelta(days=DONE_WINDOW_DAYS)
    done = session.execute(
        select(Task.owner_id, Task.due_at, Task.completed_at).where(
            Task.status == "done", Task.owner_id.is_not(None), Task.completed_at > since
        )
    ).tuples()
    for owner_id, due_at, completed_at in done:
        if owner_id in result and completed_at is not None:
            result[owner_id].done += 1
            if completed_at < _local_day_end(due_at, zones[owner_id]):
                result[owner_id].on_time += 1
    return list(result.values())
