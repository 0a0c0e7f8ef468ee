"""Speed to lead: each enrollment's first touch, its time, and the first-touch SLA of its class.

A lead's first touch is its enrollment's first email sent or its first call, LinkedIn or postcard
task done (not skipped). A class with ``first_touch_minutes`` in ``qualification.yaml`` has an SLA:
an active enrollment with no touch once that many business minutes have passed since it started
is a breach. :func:`check_first_touch` escalates each breach once: an email to
``CADENCE_MANAGER_EMAIL`` and, when ``CADENCE_FIRST_TOUCH_REASSIGN`` is set, the lead (and its open
tasks) goes to the active rep with the fewest open tasks.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.mail import SmtpSender, build_message
from cadence.adapters.models import Enrollment, Lead, Rep, Task, Touch
from cadence.core.first_touch import deadline, percentile
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.services.context import Context
from cadence.services.reports.rules import CONTACT_TASK_CHANNELS
from cadence.services.rule_rows import full_name

LOOKBACK = timedelta(days=60)
"""Enrollments older than this are not checked (their SLA is long past and was seen then)."""


def first_touches(session: Session, enrollment_ids: Iterable[int]) -> dict[int, datetime]:
    """Each enrollment's first touch (an email sent, a contact task done), for those that had one."""
    ids = list(enrollment_ids)
    found: dict[int, datetime] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        emails = select(Touch.enrollment_id, func.min(Touch.executed_at)).where(
            Touch.enrollment_id.in_(chunk), Touch.channel == "email", Touch.state == "sent"
        )
        tasks = select(Task.enrollment_id, func.min(Task.completed_at)).where(
            Task.enrollment_id.in_(chunk),
            Task.channel.in_(CONTACT_TASK_CHANNELS),
            Task.status == "done",
            func.coalesce(Task.outcome, "") != "skipped",
        )
        for query in (emails.group_by(Touch.enrollment_id), tasks.group_by(Task.enrollment_id)):
            for enrollment_id, at in session.execute(query).tuples():
                if enrollment_id is not None and at is not None:
                    found[enrollment_id] = min(at, found.get(enrollment_id, at))
    return found


@dataclass(frozen=True)
class Enrolled:
    """An enrollment as time to first touch groups it."""

    enrollment_id: int
    enrolled_at: datetime
    source: str | None
    lead_class: str | None
    owner_id: int | None


def _row(key: str, label: Any, minutes: list[float], leads: int) -> dict[str, Any]:
    p50, p90 = percentile(minutes, 0.5), percentile(minutes, 0.9)
    return {
        key: label,
        "leads": leads,
        "touched": len(minutes),
        "not_touched": leads - len(minutes),
        "p50_minutes": None if p50 is None else round(p50, 1),
        "p90_minutes": None if p90 is None else round(p90, 1),
    }


def summarize(session: Session, enrolled: list[Enrolled]) -> dict[str, Any]:
    """Time to first touch (elapsed minutes) of ``enrolled``: overall and by source, class and owner, p50 and p90."""
    touched = first_touches(session, [e.enrollment_id for e in enrolled])
    owners = dict(session.execute(select(Rep.id, Rep.email)).tuples().all())
    groups: dict[str, dict[str, tuple[list[float], list[int]]]] = {"source": {}, "class": {}, "owner": {}}
    everyone: list[float] = []
    for e in enrolled:
        at = touched.get(e.enrollment_id)
        minutes = max(0.0, (at - e.enrolled_at).total_seconds() / 60) if at is not None else None
        for name, label in (("source", e.source), ("class", e.lead_class), ("owner", owners.get(e.owner_id or 0))):
            values, count = groups[name].setdefault(label or "-", ([], [0]))
            count[0] += 1
            if minutes is not None:
                values.append(minutes)
        if minutes is not None:
            everyone.append(minutes)
    result: dict[str, Any] = {"overall": _row("all", "all", everyone, len(enrolled))}
    for name, by in groups.items():
        result[f"by_{name}"] = [_row(name, label, values, count[0]) for label, (values, count) in sorted(by.items())]
    return result


def recent(session: Session, *, now: datetime, days: int = 30) -> dict[str, Any]:
    """Time to first touch of the enrollments of the last ``days`` days (the dashboard's)."""
    rows = session.execute(
        select(Enrollment.id, Enrollment.enrolled_at, Lead.source, Lead.lead_class, Lead.owner_id)
        .join(Lead, Lead.id == Enrollment.lead_id)
        .where(Enrollment.enrolled_at >= now - timedelta(days=days), Enrollment.enrolled_at <= now)
    ).tuples()
    return summarize(session, [Enrolled(*row) for row in rows])


@dataclass(frozen=True)
class Breach:
    """A lead its first-touch SLA passed for."""

    enrollment_id: int
    lead_id: int
    email: str
    name: str
    lead_class: str | None
    owner: str | None
    enrolled_at: datetime
    deadline: datetime
    minutes: int


@dataclass
class SlaReport:
    """What a check found and did."""

    breaches: list[Breach] = field(default_factory=list)
    reassigned: dict[str, str] = field(default_factory=dict)
    escalated_to: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return {
            "breaches": [b.email for b in self.breaches],
            "reassigned": dict(self.reassigned),
            "escalated_to": self.escalated_to,
        }


def find_breaches(session: Session, ctx: Context, *, now: datetime) -> list[Breach]:
    """Active enrollments past their class's first-touch SLA with no touch, not escalated yet."""
    rules = ctx.rules
    classes = {rule.name for rule in (*rules.classes, rules.inbound) if rule.first_touch_minutes is not None}
    if not classes:
        return []
    candidates = list(
        session.scalars(
            select(Enrollment)
            .join(Lead, Lead.id == Enrollment.lead_id)
            .where(
                Enrollment.state == "active",
                Enrollment.first_touch_breached_at.is_(None),
                Enrollment.enrolled_at >= now - LOOKBACK,
                Enrollment.enrolled_at <= now,
                Lead.lead_class.in_(sorted(classes)),
            )
            .order_by(Enrollment.enrolled_at, Enrollment.id)
        ).unique()
    )
    touched = first_touches(session, [e.id for e in candidates])
    found = []
    for enrollment in candidates:
        lead = enrollment.lead
        minutes = rules.first_touch_minutes(lead.lead_class)
        if enrollment.id in touched or minutes is None:
            continue
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        due = deadline(calendar_for(lead, cadence, ctx.settings), enrollment.enrolled_at, minutes)
        if due <= now:
            found.append(
                Breach(
                    enrollment.id,
                    lead.id,
                    lead.reference,
                    full_name(lead),
                    lead.lead_class,
                    lead.owner.email if lead.owner else None,
                    enrollment.enrolled_at,
                    due,
                    minutes,
                )
            )
    return found


def _least_busy_rep(session: Session, excluding: int | None) -> Rep | None:
    open_tasks = (
        select(Task.owner_id, func.count().label("n")).where(Task.status == "open").group_by(Task.owner_id).subquery()
    )
    query = (
        select(Rep)
        .outerjoin(open_tasks, open_tasks.c.owner_id == Rep.id)
        .where(Rep.active.is_(True))
        .order_by(func.coalesce(open_tasks.c.n, 0), Rep.id)
        .limit(1)
    )
    if excluding is not None:
        query = query.where(Rep.id != excluding)
    return session.scalar(query)


def mark_breaches(session: Session, ctx: Context, breaches: list[Breach], *, now: datetime, report: SlaReport) -> None:
    """Record each breach on its enrollment (escalated once) and reassign its lead if configured. Caller commits."""
    for breach in breaches:
        enrollment = session.get_one(Enrollment, breach.enrollment_id)
        if enrollment.first_touch_breached_at is not None:
            continue  # another run took it
        enrollment.first_touch_breached_at = now
        report.breaches.append(breach)
        if not ctx.settings.first_touch_reassign:
            continue
        lead = enrollment.lead
        rep = _least_busy_rep(session, lead.owner_id)
        if rep is None:
            continue
        lead.owner_id = rep.id
        lead.updated_at = now
        for task in session.scalars(select(Task).where(Task.lead_id == lead.id, Task.status == "open")):
            task.owner_id = rep.id
        report.reassigned[breach.email] = rep.email
    session.flush()


def escalation_text(report: SlaReport, zone: str) -> str:
    """The manager's email: each lead not touched in time, its class, owner and how late."""
    lines = ["These leads were not touched within their class's first-touch time:", ""]
    for b in report.breaches:
        moved = report.reassigned.get(b.email)
        owner = f"{b.owner or 'no owner'}" + (f", now reassigned to {moved}" if moved else "")
        lines.append(f"- {b.name} <{b.email}>, class {b.lead_class}: due by {b.deadline:%Y-%m-%d %H:%M} UTC "
                     f"({b.minutes} business minutes after enrollment); owner {owner}")  # fmt: skip
    lines += ["", f"Times are UTC; the workspace shows each lead in {zone}."]
    return "\n".join(lines) + "\n"


async def check_first_touch(ctx: Context, sender: SmtpSender | None, *, now: datetime) -> SlaReport:
    """Escalate every new first-touch breach once: recorded (and reassigned) in one transaction, then emailed."""
    report = SlaReport()
    with ctx.sessions() as session, session.begin():
        mark_breaches(session, ctx, find_breaches(session, ctx, now=now), now=now, report=report)
    manager = ctx.settings.manager_email
    if not report.breaches or not manager or sender is None:
        return report
    domain = ctx.settings.mail_domain
    message = build_message(
        from_name="cadence",
        from_address=f"cadence@{domain}",
        to_address=manager,
        to_name="Manager",
        subject=f"First touch late: {len(report.breaches)} lead{'s' if len(report.breaches) != 1 else ''}",
        text=escalation_text(report, ctx.settings.default_timezone),
        html=None,
        message_id=f"<sla.{secrets.token_hex(8)}@{domain}>",  # not a touch's: replies never match it
        date=now,
    )
    await sender.send(message, sender=f"cadence@{domain}", recipient=manager)
    report.escalated_to = manager
    return report
