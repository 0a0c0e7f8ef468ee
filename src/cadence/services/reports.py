"""The results report (``cadence report``, the ``weekly-report`` flow): "you get what you measure" (seed 003).

Sections: the funnel; each cadence step; each template variant of a step, with a significance
test; conversion by source, class and cadence; the time from enrollment to the first response and
to the decision; decisions by outcome and reason, with meetings booked without the qualifying
answers flagged; each owner's leads, tasks and outcomes.

Every figure is aggregated by the database (counts, sums, averages, and medians read with
``ORDER BY ... OFFSET``); only grouped rows come back, so the report's memory does not grow with
the number of leads. What became of each enrollment in the period is computed once, into a
temporary table that every section reads. The rules behind the numbers are part of the report
(:data:`RULES`).
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Iterator, Sequence
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
    and_,
    case,
    extract,
    func,
    insert,
    or_,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from cadence.adapters.csv_safety import csv_cell
from cadence.adapters.models import Decision, Enrollment, Lead, Rep, Response, Task, Touch, UTCDateTime
from cadence.core.decisions import QUALIFYING_QUESTIONS
from cadence.core.stats import Variant, compare_variants
from cadence.services.context import Context

EXECUTED_STATES = ("sent", "done", "bounced", "uncertain")
"""Touch states of a step that was carried out: an email handed to SMTP, or a task created."""
RESPONSE_KINDS = ("reply", "call", "manual")
"""Responses that count as the lead answering (an auto-reply or a bounce does not)."""
CONTACT_TASK_CHANNELS = ("call", "linkedin", "postcard")
"""Tasks that reach the lead when done (research does not)."""
MEETING_OUTCOMES = ("meeting_booked", "qualified_handoff")
HANDOFF_OUTCOME = "qualified_handoff"
ON_TIME_GRACE_SECONDS = 86_400
"""A task is on time when completed no later than one day after it was due."""
ALPHA = 0.05
MIN_SENDS = 30
TOP_REASONS = 10
MAX_FLAGGED = 50

RULES = (
    "Period: enrollments whose enrolled_at is in [since, until); names, unfit and leads whose created_at is. "
    "Steps, tasks, responses and decisions are those of the enrollments in the period, whenever they happened; "
    "decisions tied to no enrollment and tasks tied to no enrollment are selected by decided_at and created_at.",
    "Contacted: at least one email accepted by the SMTP server, or one call, LinkedIn or postcard task done "
    "(not skipped). Responded: a reply, a connected call or a recorded response received after enrollment "
    "(auto-replies and bounces are not responses).",
    "Each enrollment counts its latest decision (an automatic no_response replaced by a later decision is "
    "'superseded'). Meetings booked: meeting_booked or qualified_handoff; handed off: qualified_handoff.",
    "Attribution: a reply belongs to the email it names (its touch), else to the last email sent to the lead in "
    "that enrollment before it arrived; an unsubscribe to the last email sent before the decision.",
    "Bounces: emails refused by the SMTP server, and the last email sent before a decision 'bounced' (a bounce "
    "message without that decision may be a delay and is not counted).",
    "Emails sent: accepted by the SMTP server (uncertain sends are not counted). Replies: emails sent with at least "
    "one attributed reply; reply rate = replies / emails sent.",
    "Tasks: on time = completed_at <= due_at + 1 day; late = completed after that; skipped = completed with outcome "
    "'skipped'; overdue = open and due before now. Cancelled tasks are not counted.",
    f"Variants: {ALPHA:g} significance with a two-proportion z-test (pooled, two-sided) for two variants and a "
    f"chi-square test of homogeneity for more; 'meaningful' needs p < {ALPHA:g} and at least {MIN_SENDS} sends per "
    "variant. Looking every week and stopping at the first p < 0.05 overstates it: fix the number of sends first.",
    "Times are in hours from enrolled_at; the median is the middle value (the mean of the two middle ones).",
)


# ---------------------------------------------------------------------------------------------- SQL helpers


def _between(column: Any, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def _seconds(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in seconds, computed by the database (exact to the millisecond on SQLite)."""
    if dialect == "sqlite":
        # julianday() is a double; rounding to whole milliseconds first makes one day exactly 86400.
        return (func.round(func.julianday(end) * 86_400_000.0) - func.round(func.julianday(start) * 86_400_000.0)) / (
            1000.0
        )
    # EXTRACT(EPOCH FROM a timestamp without time zone) reads it as UTC, which is how it is stored.
    return extract("epoch", end) - extract("epoch", start)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _int(value: Any) -> int:
    return int(value or 0)


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600.0, 2)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class _Scope:
    """The query pieces every section shares."""

    dialect: str
    since: datetime | None
    until: datetime | None
    now: datetime
    facts: Table
    """One row per enrollment in the period (the cohort) with what became of it, computed once."""

    @property
    def cohort(self) -> Table:
        """The enrollments in the period: ``enrollment_id``, ``lead_id``, ``enrolled_at``, ``cadence``."""
        return self.facts


def _scope(session: Session, since: datetime | None, until: datetime | None, now: datetime) -> _Scope:
    cohort = (
        select(
            Enrollment.id.label("enrollment_id"),
            Enrollment.lead_id.label("lead_id"),
            Enrollment.enrolled_at.label("enrolled_at"),
            Enrollment.cadence_name.label("cadence"),
        )
        .where(*_between(Enrollment.enrolled_at, since, until))
        .subquery("cohort")
    )
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
    latest_decision = (
        select(Decision.id)
        .where(Decision.lead_id == c.lead_id, Decision.enrollment_id == c.enrollment_id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    base = (
        select(
            c.enrollment_id,
            c.lead_id,
            c.enrolled_at,
            c.cadence,
            Lead.source.label("source"),
            Lead.lead_class.label("lead_class"),
            Lead.owner_id.label("owner_id"),
            case((or_(email_sent, contact_task), 1), else_=0).label("contacted"),
            first_response.label("first_at"),
            latest_decision.label("decision_id"),
        )
        .join(Lead, Lead.id == c.lead_id)
        .subquery("base")
    )
    facts = select(base, Decision.outcome.label("outcome"), Decision.decided_at.label("decided_at")).outerjoin(
        Decision, Decision.id == base.c.decision_id
    )
    dialect = session.get_bind().dialect.name
    return _Scope(dialect, since, until, now, _materialize(session, dialect, facts))


def _materialize(session: Session, dialect: str, facts: Select[Any]) -> Table:
    """``facts`` in a temporary table of this connection: every section reads it, none recomputes it.

    The table goes with the transaction's rollback (DDL is transactional on both databases) or
    :func:`_drop`; its random name lets two reports share a transaction.
    """
    table = Table(
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
        prefixes=["TEMPORARY"],
    )
    connection = session.connection()
    table.create(connection)
    connection.execute(insert(table).from_select([c.name for c in table.c], facts))
    if dialect == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {table.name}")  # temporary tables get no statistics otherwise
    return table


def _drop(session: Session, table: Table) -> None:
    table.drop(session.connection())


def _median(session: Session, values: Select[Any], count: int) -> float | None:
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


# ---------------------------------------------------------------------------------------------- sections


def _funnel(session: Session, scope: _Scope) -> dict[str, int]:
    kinds = dict(
        session.execute(
            select(Lead.kind, func.count())
            .where(*_between(Lead.created_at, scope.since, scope.until))
            .group_by(Lead.kind)
        )
        .tuples()
        .all()
    )
    f = scope.facts.c
    row = session.execute(
        select(
            func.count(),
            _count_if(f.contacted == 1),
            _count_if(f.first_at.is_not(None)),
            _count_if(f.outcome.in_(MEETING_OUTCOMES)),
            _count_if(f.outcome == HANDOFF_OUTCOME),
        )
    ).one()
    return {
        "names": _int(kinds.get("name")),
        "unfit": _int(kinds.get("unfit")),
        "leads": _int(kinds.get("lead")),
        "enrolled": _int(row[0]),
        "contacted": _int(row[1]),
        "responded": _int(row[2]),
        "meetings_booked": _int(row[3]),
        "handed_off": _int(row[4]),
    }


def _attributed(cohort: Table, kinds: Sequence[str]) -> Subquery:
    """The touches that responses of ``kinds`` belong to (their own, else the last email sent before them)."""
    last_email = (
        select(Touch.id)
        .where(
            Touch.enrollment_id == Response.enrollment_id,
            Touch.channel == "email",
            Touch.state == "sent",
            Touch.executed_at <= Response.received_at,
        )
        .order_by(Touch.executed_at.desc(), Touch.step_index.desc())
        .limit(1)
        .correlate(Response)
        .scalar_subquery()
    )
    return (
        select(func.coalesce(Response.touch_id, last_email).label("touch_id"))
        .where(Response.kind.in_(kinds), Response.lead_id.in_(select(cohort.c.lead_id)))
        .distinct()
        .subquery()
    )


def _decided_after(cohort: Table, outcome: str, states: Sequence[str]) -> Subquery:
    """One row per decision ``outcome``: its touch, the last email (in ``states``) before it in its enrollment."""
    last_email = (
        select(Touch.id)
        .where(
            Touch.enrollment_id == Decision.enrollment_id,
            Touch.channel == "email",
            Touch.state.in_(states),
            Touch.executed_at <= Decision.decided_at,
        )
        .order_by(Touch.executed_at.desc(), Touch.step_index.desc())
        .limit(1)
        .correlate(Decision)
        .scalar_subquery()
    )
    return (
        select(last_email.label("touch_id"))
        .where(Decision.outcome == outcome, Decision.enrollment_id.in_(select(cohort.c.enrollment_id)))
        .subquery()
    )


def _task_counts(scope: _Scope) -> list[ColumnElement[Any]]:
    done = and_(Task.status == "done", func.coalesce(Task.outcome, "") != "skipped")
    late_by = _seconds(scope.dialect, Task.due_at, Task.completed_at)
    return [
        _count_if(and_(done, late_by <= ON_TIME_GRACE_SECONDS)).label("tasks_on_time"),
        _count_if(and_(done, late_by > ON_TIME_GRACE_SECONDS)).label("tasks_late"),
        _count_if(and_(Task.status == "done", Task.outcome == "skipped")).label("tasks_skipped"),
        _count_if(and_(Task.status == "open", Task.due_at < scope.now)).label("tasks_overdue"),
    ]


def _cohort_touches(scope: _Scope) -> Subquery:
    c = scope.cohort.c
    return (
        select(
            Touch.id,
            Touch.step_index,
            Touch.day,
            Touch.channel,
            Touch.state,
            Touch.template,
            c.cadence,
        )
        .join(scope.cohort, c.enrollment_id == Touch.enrollment_id)
        .subquery("touches_in_period")
    )


def _per_touch(
    session: Session, scope: _Scope, rows: Subquery, keys: Sequence[Any], *conditions: ColumnElement[bool]
) -> dict[tuple[Any, ...], int]:
    """How many ``rows`` (a ``touch_id`` column) fall on each (cadence, *keys) of the touches in the period.

    The rows are few (replies, decisions): the query starts from them and reaches each touch by its
    primary key, never scanning them once per touch.
    """
    c = scope.cohort.c
    query = (
        select(c.cadence, *keys, func.count())
        .select_from(rows)
        .join(Touch, Touch.id == rows.c.touch_id)
        .join(scope.cohort, c.enrollment_id == Touch.enrollment_id)
        .where(*conditions)
        .group_by(c.cadence, *keys)
    )
    return {tuple(row[:-1]): _int(row[-1]) for row in session.execute(query).tuples()}


def _steps(session: Session, scope: _Scope, touches: Subquery, replied: Subquery) -> list[dict[str, Any]]:
    t = touches.c
    keys = (t.cadence, t.step_index, t.day, t.channel)
    query = (
        select(
            *keys,
            _count_if(t.state.in_(EXECUTED_STATES)).label("executed"),
            _count_if(and_(t.channel == "email", t.state == "sent")).label("emails_sent"),
            *_task_counts(scope),
        )
        .select_from(touches)
        .outerjoin(Task, Task.touch_id == t.id)
        .group_by(*keys)
        .order_by(*keys)
    )
    step = (Touch.step_index, Touch.day, Touch.channel)
    replies = _per_touch(session, scope, replied, step, Touch.state == "sent")
    # A bounce message alone may be a delay; a permanent bounce is decided 'bounced' (an SMTP refusal too,
    # at the refused email itself: hence 'bounced' touches are candidates). Each bounced email counts once.
    bounced = union(
        select(Touch.id.label("touch_id")).where(Touch.state == "bounced"),
        select(_decided_after(scope.cohort, "bounced", ("sent", "bounced")).c.touch_id),
    ).subquery()
    bounces = _per_touch(session, scope, bounced, step)
    unsubscribes = _per_touch(session, scope, _decided_after(scope.cohort, "unsubscribed", ("sent",)), step)
    steps = []
    for row in session.execute(query).mappings():
        key = (row["cadence"], row["step_index"], row["day"], row["channel"])
        is_task = row["channel"] != "email"
        sent, replied_to = _int(row["emails_sent"]), replies.get(key, 0)
        steps.append(
            {
                "cadence": row["cadence"],
                "step": row["step_index"] + 1,
                "day": row["day"],
                "channel": row["channel"],
                "executed": _int(row["executed"]),
                "emails_sent": sent,
                "replies": replied_to,
                "reply_rate": _rate(replied_to, sent),
                "bounces": bounces.get(key, 0),
                "unsubscribes": unsubscribes.get(key, 0),
                "tasks_on_time": _int(row["tasks_on_time"]) if is_task else None,
                "tasks_late": _int(row["tasks_late"]) if is_task else None,
                "tasks_skipped": _int(row["tasks_skipped"]) if is_task else None,
                "tasks_overdue": _int(row["tasks_overdue"]) if is_task else None,
            }
        )
    return steps


def _variants(session: Session, scope: _Scope, touches: Subquery, replied: Subquery) -> list[dict[str, Any]]:
    t = touches.c
    keys = (t.cadence, t.step_index, t.template)
    query = (
        select(*keys, _count_if(t.state == "sent").label("sends"))
        .where(t.channel == "email", t.template.is_not(None))
        .group_by(*keys)
        .order_by(*keys)
    )
    replies = _per_touch(
        session, scope, replied, (Touch.step_index, Touch.template), Touch.state == "sent", Touch.channel == "email"
    )
    grouped: dict[tuple[str, int], list[Variant]] = {}
    for cadence, step_index, template, sends in session.execute(query).tuples():
        replied_to = replies.get((cadence, step_index, template), 0)
        grouped.setdefault((cadence, step_index), []).append(Variant(template, _int(sends), replied_to))
    result = []
    for (cadence, step_index), variants in grouped.items():
        verdict = compare_variants(variants, alpha=ALPHA, min_sends=MIN_SENDS)
        result.append(
            {
                "cadence": cadence,
                "step": step_index + 1,
                "variants": [
                    {
                        "template": v.name,
                        "sends": v.sends,
                        "replies": v.replies,
                        "reply_rate": _rate(v.replies, v.sends),
                    }
                    for v in variants
                ],
                "test": verdict.test,
                "statistic": None if verdict.statistic is None else round(verdict.statistic, 4),
                "df": verdict.df,
                "p_value": verdict.p_value,
                "meaningful": verdict.meaningful,
                "verdict": verdict.verdict,
            }
        )
    return result


def _conversion(session: Session, scope: _Scope, column: str) -> list[dict[str, Any]]:
    f = scope.facts.c
    key = f[column]
    query = (
        select(
            key,
            func.count(),
            _count_if(f.contacted == 1),
            _count_if(f.first_at.is_not(None)),
            _count_if(f.outcome.in_(MEETING_OUTCOMES)),
            _count_if(f.outcome == HANDOFF_OUTCOME),
            func.avg(_seconds(scope.dialect, f.enrolled_at, f.first_at)),
            func.avg(_seconds(scope.dialect, f.enrolled_at, f.decided_at)),
        )
        .group_by(key)
        .order_by(key)
    )
    rows = []
    for value, enrolled, contacted, responded, meetings, handed_off, to_response, to_decision in session.execute(
        query
    ).tuples():
        enrolled = _int(enrolled)
        rows.append(
            {
                column.removeprefix("lead_"): value if value is not None else "(none)",
                "enrolled": enrolled,
                "contacted": _int(contacted),
                "responded": _int(responded),
                "meetings_booked": _int(meetings),
                "handed_off": _int(handed_off),
                "response_rate": _rate(_int(responded), enrolled),
                "conversion_rate": _rate(_int(meetings), enrolled),
                "mean_hours_to_first_response": _hours(to_response),
                "mean_hours_to_decision": _hours(to_decision),
            }
        )
    return rows


def _durations(session: Session, scope: _Scope, end: str) -> dict[str, Any]:
    f = scope.facts.c
    seconds = _seconds(scope.dialect, f.enrolled_at, f[end]).label("seconds")
    present = f[end].is_not(None)
    count, mean, low, high = session.execute(
        select(func.count(), func.avg(seconds), func.min(seconds), func.max(seconds)).where(present)
    ).one()
    count = _int(count)
    median = _median(session, select(seconds).where(present), count)
    return {
        "count": count,
        "mean_hours": _hours(mean),
        "median_hours": _hours(median),
        "min_hours": _hours(low),
        "max_hours": _hours(high),
    }


def _chosen_decisions(scope: _Scope) -> Subquery:
    """The decisions the report counts: each enrollment's latest, and those tied to no enrollment in the period."""
    effective = select(scope.facts.c.decision_id.label("id")).where(scope.facts.c.decision_id.is_not(None))
    unlinked = select(Decision.id.label("id")).where(
        Decision.enrollment_id.is_(None), *_between(Decision.decided_at, scope.since, scope.until)
    )
    return union_all(effective, unlinked).subquery("chosen")


def _missing_answers(answers: Any, skipped: bool) -> str | None:
    if skipped:
        return "qualification skipped"
    if not answers or not isinstance(answers, dict):
        return "no answers"
    missing = [key for key, _ in QUALIFYING_QUESTIONS if not str(answers.get(key) or "").strip()]
    return f"unanswered: {', '.join(missing)}" if missing else None


def _decisions(session: Session, scope: _Scope, chosen: Subquery) -> dict[str, Any]:
    picked = Decision.id.in_(select(chosen.c.id))
    no_reason = or_(Decision.reason.is_(None), func.trim(Decision.reason) == "")
    by_outcome = [
        {"outcome": outcome, "count": _int(count), "without_reason": _int(without)}
        for outcome, count, without in session.execute(
            select(Decision.outcome, func.count(), _count_if(no_reason))
            .where(picked)
            .group_by(Decision.outcome)
            .order_by(func.count().desc(), Decision.outcome)
        ).tuples()
    ]
    by_reason: list[dict[str, Any]] = []
    shown: dict[str, int] = {}
    others: dict[str, list[int]] = {}
    reasons = session.execute(
        select(Decision.outcome, Decision.reason, func.count())
        .where(picked)
        .group_by(Decision.outcome, Decision.reason)
        .order_by(Decision.outcome, func.count().desc(), Decision.reason)
        .execution_options(yield_per=500)
    ).tuples()
    for outcome, reason, count in reasons:
        if shown.get(outcome, 0) < TOP_REASONS:
            shown[outcome] = shown.get(outcome, 0) + 1
            by_reason.append({"outcome": outcome, "reason": reason, "count": _int(count)})
        else:
            tally = others.setdefault(outcome, [0, 0])
            tally[0] += 1
            tally[1] += _int(count)
    for outcome, (groups, count) in sorted(others.items()):
        by_reason.append({"outcome": outcome, "reason": f"({groups} other reasons)", "count": count})
    flagged: list[dict[str, Any]] = []
    total_flagged = 0
    meetings = session.execute(
        select(
            Decision.id,
            Decision.outcome,
            Decision.decided_at,
            Decision.reason,
            Decision.answers,
            Decision.qualification_skipped,
            Lead.email,
            Rep.email,
        )
        .join(Lead, Lead.id == Decision.lead_id)
        .outerjoin(Rep, Rep.id == Lead.owner_id)
        .where(picked, Decision.outcome.in_(MEETING_OUTCOMES))
        .order_by(Decision.decided_at, Decision.id)
        .execution_options(yield_per=500)
    ).tuples()
    for _id, outcome, decided_at, reason, answers, skipped, lead_email, owner_email in meetings:
        why = _missing_answers(answers, skipped)
        if why is None:
            continue
        total_flagged += 1
        if len(flagged) < MAX_FLAGGED:
            flagged.append(
                {
                    "lead": lead_email,
                    "owner": owner_email,
                    "outcome": outcome,
                    "decided_at": decided_at.isoformat(),
                    "why": why,
                    "reason": reason,
                }
            )
    f = scope.facts.c
    all_of_cohort = session.execute(
        select(func.count()).where(Decision.enrollment_id.in_(select(scope.cohort.c.enrollment_id)))
    ).scalar_one()
    effective = session.execute(select(func.count()).where(f.decision_id.is_not(None))).scalar_one()
    return {
        "total": sum(o["count"] for o in by_outcome),
        "by_outcome": by_outcome,
        "by_reason": by_reason,
        "superseded": _int(all_of_cohort) - _int(effective),
        "meetings_without_answers": {"count": total_flagged, "items": flagged},
    }


def _owners(session: Session, scope: _Scope, chosen: Subquery) -> list[dict[str, Any]]:
    f = scope.facts.c
    rows: dict[int | None, dict[str, Any]] = {}

    def row(owner_id: int | None) -> dict[str, Any]:
        if owner_id not in rows:
            rows[owner_id] = {
                "owner": None,
                "name": None,
                "leads": 0,
                "tasks_on_time": 0,
                "tasks_late": 0,
                "tasks_skipped": 0,
                "tasks_overdue": 0,
                "overdue_all_periods": 0,
                "undecided": 0,
                "outcomes": {},
            }
        return rows[owner_id]

    for rep_id in session.scalars(select(Rep.id).where(Rep.active)):
        row(rep_id)
    for owner_id, leads, undecided in session.execute(
        select(f.owner_id, func.count(func.distinct(f.lead_id)), _count_if(f.decision_id.is_(None))).group_by(
            f.owner_id
        )
    ).tuples():
        row(owner_id).update(leads=_int(leads), undecided=_int(undecided))
    in_period = or_(
        Task.enrollment_id.in_(select(scope.cohort.c.enrollment_id)),
        and_(Task.enrollment_id.is_(None), *_between(Task.created_at, scope.since, scope.until)),
    )
    for mapping in session.execute(
        select(Task.owner_id.label("owner_id"), *_task_counts(scope)).where(in_period).group_by(Task.owner_id)
    ).mappings():
        row(mapping["owner_id"]).update({k: _int(v) for k, v in mapping.items() if k != "owner_id"})
    for owner_id, overdue in session.execute(
        select(Task.owner_id, func.count())
        .where(Task.status == "open", Task.due_at < scope.now)
        .group_by(Task.owner_id)
    ).tuples():
        row(owner_id)["overdue_all_periods"] = _int(overdue)
    for owner_id, outcome, count in session.execute(
        select(Lead.owner_id, Decision.outcome, func.count())
        .join(Lead, Lead.id == Decision.lead_id)
        .where(Decision.id.in_(select(chosen.c.id)))
        .group_by(Lead.owner_id, Decision.outcome)
        .order_by(Lead.owner_id, Decision.outcome)
    ).tuples():
        row(owner_id)["outcomes"][outcome] = _int(count)
    known = [i for i in rows if i is not None]
    for rep_id, email, name in session.execute(select(Rep.id, Rep.email, Rep.name).where(Rep.id.in_(known))):
        rows[rep_id].update(owner=email, name=name)
    for owner_id, values in rows.items():
        if owner_id is None:
            values.update(owner="(no owner)", name=None)
    return sorted(rows.values(), key=lambda r: (r["owner"] == "(no owner)", str(r["owner"])))


# ---------------------------------------------------------------------------------------------- the report


def build_report(session: Session, *, since: datetime | None, until: datetime | None, now: datetime) -> dict[str, Any]:
    """The report for enrollments in ``[since, until)`` (either may be None: unbounded), tasks overdue as of ``now``."""
    scope = _scope(session, since, until, now)
    touches = _cohort_touches(scope)
    replied = _attributed(scope.cohort, ("reply",))
    chosen = _chosen_decisions(scope)
    report = {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "now": now.isoformat(),
        },
        "rules": list(RULES),
        "funnel": _funnel(session, scope),
        "steps": _steps(session, scope, touches, replied),
        "variants": _variants(session, scope, touches, replied),
        "conversion": {
            "by_source": _conversion(session, scope, "source"),
            "by_class": _conversion(session, scope, "lead_class"),
            "by_cadence": _conversion(session, scope, "cadence"),
        },
        "timing": {
            "first_response": _durations(session, scope, "first_at"),
            "decision": _durations(session, scope, "decided_at"),
        },
        "decisions": _decisions(session, scope, chosen),
        "owners": _owners(session, scope, chosen),
    }
    _drop(session, scope.facts)
    return report


def generate_report(ctx: Context, *, since: datetime | None, until: datetime | None, now: datetime) -> dict[str, Any]:
    """:func:`build_report` in one transaction, rolled back (on PostgreSQL a repeatable-read snapshot).

    Its only write is a temporary table of its own; every figure comes from the same snapshot.
    """
    with ctx.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            # About twenty mid-sized queries: compiling each with JIT costs more than it saves.
            session.execute(text("SET LOCAL jit = off"))
        try:
            return build_report(session, since=since, until=until, now=now)
        finally:
            session.rollback()


# ---------------------------------------------------------------------------------------------- rendering


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if value >= 0.0001 else f"{value:.2e}"


def _outcomes(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))


@dataclass(frozen=True)
class _Table:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _tables(report: dict[str, Any]) -> Iterator[_Table]:
    """The report as titled tables, for the text and markdown renderings."""
    funnel = report["funnel"]
    yield _Table("Funnel", ("stage", "count"), [(k.replace("_", " "), v) for k, v in funnel.items()])
    yield _Table(
        "Steps",
        ("cadence", "step", "day", "channel", "executed", "emails sent", "replies", "reply rate", "bounces",
         "unsubscribes", "tasks on time", "late", "skipped", "overdue"),
        [
            (s["cadence"], s["step"], s["day"], s["channel"], s["executed"], s["emails_sent"], s["replies"],
             _percent(s["reply_rate"]), s["bounces"], s["unsubscribes"], s["tasks_on_time"], s["tasks_late"],
             s["tasks_skipped"], s["tasks_overdue"])
            for s in report["steps"]
        ],
    )  # fmt: skip
    yield _Table(
        "Template variants",
        ("cadence", "step", "template", "sends", "replies", "reply rate", "test", "p-value", "verdict"),
        [
            (g["cadence"], g["step"], v["template"], v["sends"], v["replies"], _percent(v["reply_rate"]),
             (g["test"] or "") if i == 0 else "", _p(g["p_value"]) if i == 0 else "", g["verdict"] if i == 0 else "")
            for g in report["variants"]
            for i, v in enumerate(g["variants"])
        ],
    )  # fmt: skip
    for key, label in (("by_source", "source"), ("by_class", "class"), ("by_cadence", "cadence")):
        rows = report["conversion"][key]
        column = next(iter(rows[0])) if rows else label
        yield _Table(
            f"Conversion by {label}",
            (label, "enrolled", "contacted", "responded", "meetings", "handed off", "response rate", "conversion",
             "mean h to response", "mean h to decision"),
            [
                (r[column], r["enrolled"], r["contacted"], r["responded"], r["meetings_booked"], r["handed_off"],
                 _percent(r["response_rate"]), _percent(r["conversion_rate"]),
                 _number(r["mean_hours_to_first_response"]), _number(r["mean_hours_to_decision"]))
                for r in rows
            ],
        )  # fmt: skip
    timing = report["timing"]
    yield _Table(
        "Time from enrollment (hours)",
        ("to", "count", "mean", "median", "min", "max"),
        [
            (label, t["count"], _number(t["mean_hours"]), _number(t["median_hours"]), _number(t["min_hours"]),
             _number(t["max_hours"]))
            for label, t in (("first response", timing["first_response"]), ("decision", timing["decision"]))
        ],
    )  # fmt: skip
    decisions = report["decisions"]
    yield _Table(
        f"Decisions ({decisions['total']}; superseded {decisions['superseded']})",
        ("outcome", "count", "without reason"),
        [(d["outcome"], d["count"], d["without_reason"]) for d in decisions["by_outcome"]],
    )
    yield _Table(
        "Decisions by reason",
        ("outcome", "reason", "count"),
        [(d["outcome"], "(no reason)" if d["reason"] is None else d["reason"], d["count"])
         for d in decisions["by_reason"]],
    )  # fmt: skip
    flagged = decisions["meetings_without_answers"]
    yield _Table(
        f"FLAGGED: meetings booked without the qualifying answers ({flagged['count']})",
        ("lead", "owner", "outcome", "decided at", "why", "reason"),
        [(m["lead"], m["owner"], m["outcome"], m["decided_at"], m["why"], m["reason"]) for m in flagged["items"]],
    )
    yield _Table(
        "Owners",
        ("owner", "leads", "tasks on time", "late", "skipped", "overdue", "overdue (all periods)", "undecided",
         "outcomes"),
        [
            (o["owner"], o["leads"], o["tasks_on_time"], o["tasks_late"], o["tasks_skipped"], o["tasks_overdue"],
             o["overdue_all_periods"], o["undecided"], _outcomes(o["outcomes"]))
            for o in report["owners"]
        ],
    )  # fmt: skip


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _period(report: dict[str, Any]) -> str:
    p = report["period"]
    return f"enrolled from {p['since'] or 'the beginning'} until {p['until'] or 'now'}; as of {p['now']}"


def render_text(report: dict[str, Any]) -> str:
    """The report as plain text tables."""
    out = [f"cadence report: {_period(report)}"]
    for t in _tables(report):
        cells = [list(t.headers), *[[_cell(c) for c in row] for row in t.rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(t.headers))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        out += ["", t.title, *lines]
        if not t.rows:
            out.append("(none)")
    out += ["", "Rules", *[f"- {rule}" for rule in report["rules"]]]
    return "\n".join(out) + "\n"


_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|!#~"})


def _md(value: Any) -> str:
    """A table cell: one line, markdown syntax escaped (reasons and names are free text: no links or images)."""
    return _cell(value).translate(_MARKDOWN_SPECIAL)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as markdown tables (the Prefect artifact and the weekly email)."""
    out = ["# cadence report", "", _md(_period(report))]
    for t in _tables(report):
        out += ["", f"## {_md(t.title)}", ""]
        if not t.rows:
            out.append("(none)")
            continue
        out.append("| " + " | ".join(_md(h) for h in t.headers) + " |")
        out.append("|" + "|".join(" --- " for _ in t.headers) + "|")
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in t.rows]
    out += ["", "## Rules", "", *[f"- {_md(rule)}" for rule in report["rules"]]]
    return "\n".join(out) + "\n"


def _csv_rows(report: dict[str, Any]) -> Iterable[tuple[str, str, str, Any]]:
    """(section, item, metric, value) for every figure of the report."""
    for key, value in report["period"].items():
        yield "period", "", key, value
    for key, value in report["funnel"].items():
        yield "funnel", "", key, value
    for s in report["steps"]:
        item = f"{s['cadence']} step {s['step']} (day {s['day']}, {s['channel']})"
        for key, value in s.items():
            if key not in ("cadence", "step", "day", "channel") and value is not None:
                yield "steps", item, key, value
    for g in report["variants"]:
        for v in g["variants"]:
            item = f"{g['cadence']} step {g['step']} {v['template']}"
            for key in ("sends", "replies", "reply_rate"):
                yield "variants", item, key, v[key]
        item = f"{g['cadence']} step {g['step']}"
        for key in ("test", "statistic", "df", "p_value", "meaningful", "verdict"):
            yield "variant_tests", item, key, g[key]
    for group, rows in report["conversion"].items():
        for r in rows:
            values = list(r.items())
            item = f"{values[0][0]} {values[0][1]}"
            for key, value in values[1:]:
                yield f"conversion_{group}", item, key, value
    for name, t in report["timing"].items():
        for key, value in t.items():
            yield "timing", f"to {name.replace('_', ' ')}", key, value
    decisions = report["decisions"]
    yield "decisions", "", "total", decisions["total"]
    yield "decisions", "", "superseded", decisions["superseded"]
    for d in decisions["by_outcome"]:
        yield "decisions_by_outcome", d["outcome"], "count", d["count"]
        yield "decisions_by_outcome", d["outcome"], "without_reason", d["without_reason"]
    for d in decisions["by_reason"]:
        yield "decisions_by_reason", f"{d['outcome']}: {d['reason'] or '(no reason)'}", "count", d["count"]
    flagged = decisions["meetings_without_answers"]
    yield "meetings_without_answers", "", "count", flagged["count"]
    for m in flagged["items"]:
        for key in ("owner", "outcome", "decided_at", "why", "reason"):
            yield "meetings_without_answers", m["lead"], key, m[key]
    for o in report["owners"]:
        for key, value in o.items():
            if key == "outcomes":
                for outcome, count in value.items():
                    yield "owners", o["owner"], f"outcome_{outcome}", count
            elif key != "owner":
                yield "owners", o["owner"], key, value
    for i, rule in enumerate(report["rules"], 1):
        yield "rules", str(i), "rule", rule


def render_csv(report: dict[str, Any]) -> str:
    """The report as one CSV (section, item, metric, value), spreadsheet formulas neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "metric", "value"])
    for row in _csv_rows(report):
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()
