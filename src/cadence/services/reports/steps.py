"""The steps and template variants sections: what each step did, and the replies, bounces and unsubscribes it got."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Subquery, Table, and_, func, select, union
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Response, Task, Touch
from cadence.core.stats import Variant, compare_variants
from cadence.services.reports.rules import ALPHA, EXECUTED_STATES, MIN_SENDS, ON_TIME_GRACE_SECONDS
from cadence.services.reports.scope import Scope, count_if, rate, seconds_between, to_int


def attributed(cohort: Table, kinds: Sequence[str]) -> Subquery:
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


def task_counts(scope: Scope) -> list[ColumnElement[Any]]:
    """Task columns: on time, late, skipped, overdue (for a ``select`` over :class:`Task` rows)."""
    done = and_(Task.status == "done", func.coalesce(Task.outcome, "") != "skipped")
    late_by = seconds_between(scope.dialect, Task.due_at, Task.completed_at)
    return [
        count_if(and_(done, late_by <= ON_TIME_GRACE_SECONDS)).label("tasks_on_time"),
        count_if(and_(done, late_by > ON_TIME_GRACE_SECONDS)).label("tasks_late"),
        count_if(and_(Task.status == "done", Task.outcome == "skipped")).label("tasks_skipped"),
        count_if(and_(Task.status == "open", Task.due_at < scope.now)).label("tasks_overdue"),
    ]


def cohort_touches(scope: Scope) -> Subquery:
    """The touches of the enrollments in the period, with their cadence."""
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
    session: Session, scope: Scope, rows: Subquery, keys: Sequence[Any], *conditions: ColumnElement[bool]
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
    return {tuple(row[:-1]): to_int(row[-1]) for row in session.execute(query).tuples()}


def steps(session: Session, scope: Scope, touches: Subquery, replied: Subquery) -> list[dict[str, Any]]:
    """One row per (cadence, step): executed, emails sent, replies, bounces, unsubscribes and task counts."""
    t = touches.c
    keys = (t.cadence, t.step_index, t.day, t.channel)
    query = (
        select(
            *keys,
            count_if(t.state.in_(EXECUTED_STATES)).label("executed"),
            count_if(and_(t.channel == "email", t.state == "sent")).label("emails_sent"),
            *task_counts(scope),
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
        sent, replied_to = to_int(row["emails_sent"]), replies.get(key, 0)
        steps.append(
            {
                "cadence": row["cadence"],
                "step": row["step_index"] + 1,
                "day": row["day"],
                "channel": row["channel"],
                "executed": to_int(row["executed"]),
                "emails_sent": sent,
                "replies": replied_to,
                "reply_rate": rate(replied_to, sent),
                "bounces": bounces.get(key, 0),
                "unsubscribes": unsubscribes.get(key, 0),
                "tasks_on_time": to_int(row["tasks_on_time"]) if is_task else None,
                "tasks_late": to_int(row["tasks_late"]) if is_task else None,
                "tasks_skipped": to_int(row["tasks_skipped"]) if is_task else None,
                "tasks_overdue": to_int(row["tasks_overdue"]) if is_task else None,
            }
        )
    return steps


def variants(session: Session, scope: Scope, touches: Subquery, replied: Subquery) -> list[dict[str, Any]]:
    """Per (cadence, step), each template's sends and replies, and the significance test between them."""
    t = touches.c
    keys = (t.cadence, t.step_index, t.template)
    query = (
        select(*keys, count_if(t.state == "sent").label("sends"))
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
        grouped.setdefault((cadence, step_index), []).append(Variant(template, to_int(sends), replied_to))
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
                        "reply_rate": rate(v.replies, v.sends),
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
