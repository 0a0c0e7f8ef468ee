"""The facts of settled enrollments, kept between reports so that a report does not look them up again.

A report needs, for each enrollment of its period, what became of it (:func:`.scope.enrollment_facts`:
contacted, first response, latest decision, first touch). Computing that looks up every enrollment's
touches, tasks, responses and decisions: at a million leads the all-time report spent most of its
time there. Most enrollments are long over, and their facts no longer change, so :func:`roll_up`
keeps them in ``report_settled_facts`` once, and a report reads those rows instead.

**Settled**: not active, paused or responded; ended at least :data:`SETTLE_DAYS` days before ``now``;
no open task; no step whose outcome may still change (claimed, sending, handing, retry, held).

**Exact**, whatever lands later, as long as no transaction that writes a touch, task, response or
decision stays open across a whole roll-up interval (:data:`ROLL_UP_EVERY`; cadence's writes take
well under a second). An id is taken before its transaction commits: a row may be invisible to a
roll-up although a committed row has a larger id. So ``report_rollup_mark`` lags one roll-up behind:
``seen_*`` holds the largest touch, task, response and decision ids the last roll-up saw, and the
mark checked (``touch_id`` ... ``decision_id``) is the ``seen_*`` of the roll-up before, whose
transactions have all committed by then. A report uses a kept row only when its enrollment is still
ended at the same ``ended_at`` (an undone decision reopens it) and has no touch, task, response or
decision with an id above the mark; any other enrollment of the period is computed afresh, as
before. The next roll-up drops the rows whose enrollment has a row above the mark it found, and
computes them again. The lead's source, class and owner are never kept: the report joins the lead.
The price of the lag: the facts kept by the very first roll-up are used only after the second,
which computes them again (every id is above the first mark, 0).

:func:`roll_up` is idempotent and safe when two run at once: it first updates the mark's row, which
makes a second run wait for the first to commit (a row lock on PostgreSQL, the write lock on SQLite).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Subquery, delete, exists, false, func, insert, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Enrollment, Response, RollupMark, SettledFacts, Task, Touch
from cadence.core.enrollment import OPEN_STATES
from cadence.core.event_data import TouchState
from cadence.services.reports.scope import FACT_COLUMNS, between, enrollment_facts

SETTLE_DAYS = 30
"""An enrollment is settled this many days after it ended (and when nothing of it is still open)."""
UNSETTLED_TOUCH_STATES = (
    TouchState.CLAIMED.value,
    TouchState.SENDING.value,
    TouchState.HANDING.value,
    TouchState.RETRY.value,
    TouchState.HELD.value,
)
"""Touch states whose outcome may still change: an enrollment with one is not settled."""
MARK_ID = 1
ROLL_UP_EVERY = timedelta(hours=1)
"""A report rolls up first when the last roll-up is older than this (:func:`due`): a no-op roll-up still
compares every kept row with its enrollment (seconds at a million leads), and what was not rolled up
yet is computed by the report, so the figures do not depend on it."""

_OPEN = tuple(state.value for state in OPEN_STATES)
_TABLES = ((Touch, "touch_id"), (Task, "task_id"), (Response, "response_id"), (Decision, "decision_id"))


def _mark(session: Session) -> RollupMark | None:
    return session.get(RollupMark, MARK_ID)


def changed_since(marks: dict[str, int]) -> Any:
    """The enrollments with a touch, task, response or decision whose id is above its mark (read by primary key)."""
    parts = [
        select(model.enrollment_id.label("enrollment_id")).where(
            model.id > marks[name], model.enrollment_id.is_not(None)
        )
        for model, name in _TABLES
    ]
    return union(*parts)


def usable_settled(session: Session, since: datetime | None, until: datetime | None, *, use: bool = True) -> Subquery:
    """The kept facts a report of ``[since, until)`` may use (columns :data:`.scope.FACT_COLUMNS`).

    Those whose enrollment is in the period, still ended at the kept ``ended_at``, with nothing newer
    than the mark. Empty before the first roll-up, and when not ``use``.
    """
    mark = _mark(session) if use else None
    s = SettledFacts
    query = (
        select(*[getattr(s, name).label(name) for name in FACT_COLUMNS])
        .join(Enrollment, Enrollment.id == s.enrollment_id)
        .where(
            *between(s.enrolled_at, since, until),
            Enrollment.ended_at == s.ended_at,
            Enrollment.state.not_in(_OPEN),
        )
    )
    if mark is None:
        query = query.where(false())
    else:
        changed = changed_since(_marks_of(mark)).subquery("changed")
        query = query.where(~exists().where(changed.c.enrollment_id == s.enrollment_id))
    return query.subquery("settled")


def due(session: Session, now: datetime) -> bool:
    """Whether a roll-up is due: none yet, or the last one not within :data:`ROLL_UP_EVERY` before ``now``."""
    mark = _mark(session)
    if mark is None or mark.rolled_at is None:
        return True
    return not (now - ROLL_UP_EVERY <= mark.rolled_at <= now)


def _marks_of(mark: RollupMark, prefix: str = "") -> dict[str, int]:
    return {name: getattr(mark, prefix + name) for _model, name in _TABLES}


def roll_up(session: Session, now: datetime) -> dict[str, int]:
    """Bring ``report_settled_facts`` up to date as of ``now``, in the caller's transaction (commit it after).

    Drops the kept rows that no longer hold (their enrollment reopened, ended again, or has a row
    above the mark), then keeps the facts of every settled enrollment not kept yet, then moves the
    mark one roll-up on (the ids seen now become ``seen_*``; the ones seen last time, the mark).
    Returns how many rows were dropped and added.
    """
    # Take the mark's row first: a second roll-up waits here until this one commits.
    zero = {name: 0 for _model, name in _TABLES}
    take = update(RollupMark).where(RollupMark.id == MARK_ID).values(rolled_at=now)
    if session.connection().execute(take).rowcount == 0:
        try:
            with session.begin_nested():
                session.add(RollupMark(id=MARK_ID, **zero, **{f"seen_{name}": 0 for name in zero}, rolled_at=now))
        except IntegrityError:  # another roll-up made the row first: wait for it like above
            session.execute(take)
    mark = session.execute(select(RollupMark).where(RollupMark.id == MARK_ID)).scalar_one()
    session.refresh(mark)  # the row as this transaction sees it now, not as the session may have cached it
    old = _marks_of(mark)
    last_seen = _marks_of(mark, "seen_")
    new = {name: session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0 for model, name in _TABLES}
    s = SettledFacts
    changed = changed_since(old).subquery("changed")
    dropped = (
        session.connection()
        .execute(
            delete(s).where(
                or_(
                    s.enrollment_id.in_(select(changed.c.enrollment_id)),
                    ~exists().where(
                        Enrollment.id == s.enrollment_id,
                        Enrollment.ended_at == s.ended_at,
                        Enrollment.state.not_in(_OPEN),
                    ),
                )
            )
        )
        .rowcount
    )
    settled_before = now - timedelta(days=SETTLE_DAYS)
    kept_before = session.scalar(select(func.count()).select_from(s)) or 0
    # One statement: the database anti-joins every ended enrollment with the kept ones (a hash join),
    # rather than probing them one by one; only the few not kept yet are looked up.
    cohort = (
        select(
            Enrollment.id.label("enrollment_id"),
            Enrollment.lead_id.label("lead_id"),
            Enrollment.enrolled_at.label("enrolled_at"),
            Enrollment.cadence_name.label("cadence"),
            Enrollment.ended_at.label("ended_at"),
        )
        .where(
            Enrollment.state.not_in(_OPEN),
            Enrollment.ended_at.is_not(None),
            Enrollment.ended_at <= settled_before,
            ~exists().where(s.enrollment_id == Enrollment.id),
            ~exists().where(Task.enrollment_id == Enrollment.id, Task.status == "open"),
            ~exists().where(Touch.enrollment_id == Enrollment.id, Touch.state.in_(UNSETTLED_TOUCH_STATES)),
        )
        .subquery("cohort")
    )
    session.execute(insert(s).from_select([*FACT_COLUMNS, "ended_at"], enrollment_facts(cohort, "ended_at")))
    session.execute(
        update(RollupMark)
        .where(RollupMark.id == MARK_ID)
        .values(**last_seen, **{f"seen_{name}": value for name, value in new.items()}, rolled_at=now)
    )
    # (INSERT ... SELECT reports no row count on every driver: count the table instead.)
    return {"dropped": dropped, "added": (session.scalar(select(func.count()).select_from(s)) or 0) - kept_before}


__all__ = [
    "ROLL_UP_EVERY",
    "SETTLE_DAYS",
    "UNSETTLED_TOUCH_STATES",
    "changed_since",
    "due",
    "roll_up",
    "usable_settled",
]
