"""What every section shares: the period, the facts of each enrollment in a temporary table, SQL helpers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    case,
    exists,
    extract,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Enrollment, Lead, Response, Task, Touch, UTCDateTime
from cadence.services.reports.rules import CONTACT_TASK_CHANNELS, RESPONSE_KINDS


def between(column: Any, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    """The conditions ``since <= column < until`` (an end that is None is open)."""
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, computed by the database (exact to the millisecond on SQLite)."""
    if dialect == "sqlite":
        # julianday() is a double; rounding to whole milliseconds first makes one day exactly 86400.
        return (func.round(func.julianday(end) * 86_400_000.0) - func.round(func.julianday(start) * 86_400_000.0)) / (
            1000.0
        )
    # EXTRACT(EPOCH FROM a timestamp without time zone) reads it as UTC, which is how it is stored.
    return extract("epoch", end) - extract("epoch", start)


def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """How many rows match ``condition`` (0, not NULL, when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def to_int(value: Any) -> int:
    """A count the database returned (maybe NULL or a Decimal) as an int."""
    return int(value or 0)


def hours(seconds: Any) -> float | None:
    """Seconds as hours, to two decimals (None stays None)."""
    return None if seconds is None else round(float(seconds) / 3600.0, 2)


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` to four decimals, None when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Scope:
    """The query pieces every section shares."""

    dialect: str
    since: datetime | None
    until: datetime | None
    now: datetime
    facts: Table
    """One row per enrollment in the period (the cohort) with what became of it, computed once: its lead's source,
    class and owner, whether it was contacted, its first response (``first_at``), its first touch
    (``touched_at``: first email sent or contact task done) and its latest decision."""

    @property
    def cohort(self) -> Table:
        """The enrollments in the period: ``enrollment_id``, ``lead_id``, ``enrolled_at``, ``cadence``."""
        return self.facts


def enrollment_facts(cohort: Subquery, *extra: str) -> Select[Any]:
    """What became of each enrollment of ``cohort`` (``enrollment_id``, ``lead_id``, ``enrolled_at``, ``cadence``).

    Columns: :data:`FACT_COLUMNS` (those four, then ``contacted``, ``first_at``, ``decision_id``,
    ``outcome``, ``decided_at`` and ``touched_at``), then the ``extra`` columns of ``cohort`` passed
    through. The lead's own columns are not here: they can change at any time, and the report joins
    the lead for them.
    """
    c = cohort.c
    # Each correlated lookup goes through an index: touches (enrollment_id, ...), tasks, responses
    # and decisions by lead_id.
    email_sent = (
        select(Touch.id)
        .where(Touch.enrollment_id == c.enrollment_id, Touch.channel == "email", Touch.state == "sent")
        .exists()
    )
    contact_task = (
        select(Task.id)
        .where(
            Task.lead_id == c.lead_id,
            Task.enrollment_id == c.enrollment_id,
            Task.channel.in_(CONTACT_TASK_CHANNELS),
            Task.status == "done",
            func.coalesce(Task.outcome, "") != "skipped",
        )
        .exists()
    )
    first_response = (
        select(func.min(Response.received_at))
        .where(
            Response.lead_id == c.lead_id,
            Response.enrollment_id == c.enrollment_id,
            Response.kind.in_(RESPONSE_KINDS),
            Response.received_at >= c.enrolled_at,
        )
        .scalar_subquery()
    )
    first_email = (
        select(func.min(Touch.executed_at))
        .where(Touch.enrollment_id == c.enrollment_id, Touch.channel == "email", Touch.state == "sent")
        .scalar_subquery()
    )
    first_contact_task = (
        select(func.min(Task.completed_at))
        .where(
            Task.lead_id == c.lead_id,
            Task.enrollment_id == c.enrollment_id,
            Task.channel.in_(CONTACT_TASK_CHANNELS),
            Task.status == "done",
            func.coalesce(Task.outcome, "") != "skipped",
        )
        .scalar_subquery()
    )
    latest_decision = (
        select(Decision.id)
        .where(Decision.lead_id == c.lead_id, Decision.enrollment_id == c.enrollment_id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    base = select(
        c.enrollment_id,
        c.lead_id,
        c.enrolled_at,
        c.cadence,
        case((or_(email_sent, contact_task), 1), else_=0).label("contacted"),
        first_response.label("first_at"),
        latest_decision.label("decision_id"),
        first_email.label("first_email_at"),
        first_contact_task.label("first_task_at"),
        *[c[name] for name in extra],
    ).subquery("base")
    b = base.c
    # The first touch: the earlier of the first email sent and the first contact task done (either may be missing).
    touched_at = case(
        (b.first_task_at.is_(None), b.first_email_at),
        (b.first_email_at.is_(None), b.first_task_at),
        (b.first_task_at < b.first_email_at, b.first_task_at),
        else_=b.first_email_at,
    )
    return select(
        *[b[name] for name in FACT_COLUMNS[:7]],
        Decision.outcome.label("outcome"),
        Decision.decided_at.label("decided_at"),
        touched_at.label("touched_at"),
        *[b[name] for name in extra],
    ).outerjoin(Decision, Decision.id == b.decision_id)


FACT_COLUMNS = (
    "enrollment_id",
    "lead_id",
    "enrolled_at",
    "cadence",
    "contacted",
    "first_at",
    "decision_id",
    "outcome",
    "decided_at",
    "touched_at",
)
"""The columns of :func:`enrollment_facts`, in order."""


def make_scope(
    session: Session, since: datetime | None, until: datetime | None, now: datetime, *, settled: bool = True
) -> Scope:
    """The period's :class:`Scope`, its facts materialized (drop them with :func:`drop_facts`).

    With ``settled``, the facts of settled enrollments come from what :func:`.rollup.roll_up` kept (those
    still usable: :func:`.rollup.usable_settled`) and only the others' are computed here; without, every
    enrollment's are computed here.
    """
    from cadence.services.reports.rollup import usable_settled  # rollup imports this module

    kept = usable_settled(session, since, until, use=settled)
    dialect = session.get_bind().dialect.name
    table = _facts_table()
    connection = session.connection()
    table.create(connection)
    # The kept facts first; then the period's other enrollments, found missing from the table by its key.
    connection.execute(insert(table).from_select([c.name for c in table.c], _with_lead(kept)))
    cohort = (
        select(
            Enrollment.id.label("enrollment_id"),
            Enrollment.lead_id.label("lead_id"),
            Enrollment.enrolled_at.label("enrolled_at"),
            Enrollment.cadence_name.label("cadence"),
        )
        .where(*between(Enrollment.enrolled_at, since, until))
        .where(~exists().where(table.c.enrollment_id == Enrollment.id))
        .subquery("cohort")
    )
    live = _with_lead(enrollment_facts(cohort).subquery("live"))
    connection.execute(insert(table).from_select([c.name for c in table.c], live))
    if dialect == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {table.name}")  # temporary tables get no statistics otherwise
    return Scope(dialect, since, until, now, table)


def _with_lead(rows: Subquery) -> Select[Any]:
    """``rows`` (:data:`FACT_COLUMNS`) with their lead's source, class and owner, in the facts table's order."""
    u = rows.c
    return select(
        u.enrollment_id,
        u.lead_id,
        u.enrolled_at,
        u.cadence,
        Lead.source.label("source"),
        Lead.lead_class.label("lead_class"),
        Lead.owner_id.label("owner_id"),
        *[u[name] for name in FACT_COLUMNS[4:]],
    ).join(Lead, Lead.id == u.lead_id)


def _facts_table() -> Table:
    """A new temporary table for the facts: every section reads it, none recomputes them.

    The table goes with the transaction's rollback (DDL is transactional on both databases) or
    :func:`drop_facts`; its random name lets two reports share a transaction.
    """
    return Table(
        f"report_facts_{secrets.token_hex(6)}",
        MetaData(),
        Column("enrollment_id", Integer, primary_key=True, autoincrement=False),
        Column("lead_id", Integer),
        Column("enrolled_at", UTCDateTime()),
        Column("cadence", String(63)),
        Column("source", String(100)),
        Column("lead_class", String(50)),
        Column("owner_id", Integer),
        Column("contacted", Integer),
        Column("first_at", UTCDateTime()),
        Column("decision_id", Integer),
        Column("outcome", String(30)),
        Column("decided_at", UTCDateTime()),
        Column("touched_at", UTCDateTime()),
        prefixes=["TEMPORARY"],
    )


def drop_facts(session: Session, table: Table) -> None:
    """Drop the facts table made by :func:`make_scope`."""
    table.drop(session.connection())


def median_of(session: Session, values: Select[Any], count: int) -> float | None:
    """The median of a one-column query of ``count`` non-null values, read by the database's sort."""
    if count == 0:
        return None
    sub = values.subquery()
    column = next(iter(sub.c))
    middle = session.execute(
        select(column).order_by(column).offset((count - 1) // 2).limit(1 if count % 2 else 2)
    ).scalars()
    found = [float(v) for v in middle]
    return sum(found) / len(found)
