"""The owners section: each rep's leads, tasks (on time, late, skipped, overdue) and outcomes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, and_, func, select, union_all
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Lead, Rep, Task
from cadence.services.reports.scope import Scope, between, count_if, to_int
from cadence.services.reports.steps import task_counts


def owners(session: Session, scope: Scope, chosen: Subquery) -> list[dict[str, Any]]:
    """Each owner's leads, tasks and the outcomes of the ``chosen`` decisions; active reps even with none."""
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
        select(f.owner_id, func.count(func.distinct(f.lead_id)), count_if(f.decision_id.is_(None))).group_by(f.owner_id)
    ).tuples():
        row(owner_id).update(leads=to_int(leads), undecided=to_int(undecided))
    # Two branches, each read through an index: the period's enrollments' tasks (by lead), and the tasks tied
    # to no enrollment created in the period (a partial index). One OR of both would scan every task.
    c = scope.cohort.c
    in_period = union_all(
        select(Task.id.label("id")).join(
            scope.cohort, and_(c.lead_id == Task.lead_id, c.enrollment_id == Task.enrollment_id)
        ),
        select(Task.id.label("id")).where(
            Task.enrollment_id.is_(None), *between(Task.created_at, scope.since, scope.until)
        ),
    ).subquery("tasks_in_period")
    for mapping in session.execute(
        select(Task.owner_id.label("owner_id"), *task_counts(scope))
        .join(in_period, in_period.c.id == Task.id)
        .group_by(Task.owner_id)
    ).mappings():
        row(mapping["owner_id"]).update({k: to_int(v) for k, v in mapping.items() if k != "owner_id"})
    for owner_id, overdue in session.execute(
        select(Task.owner_id, func.count())
        .where(Task.status == "open", Task.due_at < scope.now)
        .group_by(Task.owner_id)
    ).tuples():
        row(owner_id)["overdue_all_periods"] = to_int(overdue)
    for owner_id, outcome, count in session.execute(
        select(Lead.owner_id, Decision.outcome, func.count())
        .join(Lead, Lead.id == Decision.lead_id)
        .where(Decision.id.in_(select(chosen.c.id)))
        .group_by(Lead.owner_id, Decision.outcome)
        .order_by(Lead.owner_id, Decision.outcome)
    ).tuples():
        row(owner_id)["outcomes"][outcome] = to_int(count)
    known = [i for i in rows if i is not None]
    for rep_id, email, name in session.execute(select(Rep.id, Rep.email, Rep.name).where(Rep.id.in_(known))):
        rows[rep_id].update(owner=email, name=name)
    for owner_id, values in rows.items():
        if owner_id is None:
            values.update(owner="(no owner)", name=None)
    return sorted(rows.values(), key=lambda r: (r["owner"] == "(no owner)", str(r["owner"])))
