"""Rep tasks: listing them and recording their outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Rep, Task
from cadence.core.decisions import Outcome
from cadence.core.schedule import local_instant
from cadence.errors import NotFound, ValidationError
from cadence.settings import Settings

OUTCOMES: dict[str, frozenset[str]] = {
    "call": frozenset({"connected", "voicemail", "no_answer", "wrong_number"}),
    "linkedin": frozenset({"sent", "accepted"}),
    "postcard": frozenset({"sent"}),
    "research": frozenset({"done"}),
    "task": frozenset({"done"}),
    "reply": frozenset({"done", "answered"}),
}
"""The outcomes each channel's task can have; ``skipped`` is allowed for every channel."""
NO_CONVERSATION: frozenset[str] = frozenset({"voicemail", "no_answer", "wrong_number", "skipped"})
"""Outcomes that mean nobody talked to the lead: they answer no qualifying question."""


def task_dict(task: Task) -> dict[str, Any]:
    """A task as plain data."""
    return {
        "id": task.id,
        "lead_email": task.lead.email,
        "lead_ref": task.lead.reference,
        "lead_name": " ".join(p for p in (task.lead.first_name, task.lead.last_name) if p) or None,
        "company": task.lead.company,
        "class": task.lead.lead_class,
        "owner": task.owner.email if task.owner else None,
        "channel": task.channel,
        "title": task.title,
        "due_at": task.due_at.isoformat(),
        "priority": task.priority,
        "status": task.status,
        "outcome": task.outcome,
        "note": task.note,
        "instructions": task.instructions,
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
    }


def _day_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(timezone)
    day = now.astimezone(tz).date()
    start = local_instant(day, datetime.min.time(), tz)
    return start, local_instant(day + timedelta(days=1), datetime.min.time(), tz)


def _tasks_query(
    session: Session, *, now: datetime, settings: Settings, owner: str | None, due: str, status: str | None
) -> Select[tuple[Task]]:
    """The tasks :func:`list_tasks` lists, unordered."""
    if due not in ("today", "overdue", "all"):
        raise ValidationError(f"--due must be today, overdue or all, not {due!r}")
    if status is not None and status not in ("open", "done", "cancelled"):
        raise ValidationError(f"--status must be open, done or cancelled, not {status!r}")
    query = select(Task)  # every task has its lead (a foreign key, not null): no join to filter by
    zone = settings.default_timezone
    if owner is not None:
        from cadence.services.reps import get_rep

        rep = get_rep(session, owner)
        query = query.where(Task.owner_id == rep.id)
        zone = rep.timezone or zone
    if status is None and due != "all":
        status = "open"
    if status is not None:
        query = query.where(Task.status == status)
    start, end = _day_bounds(now, zone)
    if due == "today":
        query = query.where(Task.due_at < end)
    elif due == "overdue":
        query = query.where(Task.due_at < start)
    return query


def list_tasks(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    owner: str | None = None,
    due: str = "all",
    status: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Tasks, overdue first then by due time (the first ``limit`` of them when given).

    ``due``: ``today`` (open tasks due before the end of the owner's local day, overdue included),
    ``overdue`` (open tasks due before the start of today), or ``all``. Without ``status``, ``today``
    and ``overdue`` list open tasks and ``all`` lists every status.
    """
    query = _tasks_query(session, now=now, settings=settings, owner=owner, due=due, status=status)
    query = query.order_by(Task.due_at, Task.priority, Task.id).limit(limit)
    return [task_dict(t) for t in session.scalars(query)]


def count_tasks(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    owner: str | None = None,
    due: str = "all",
    status: str | None = None,
) -> int:
    """How many tasks :func:`list_tasks` would list without a limit (counted by the database)."""
    query = _tasks_query(session, now=now, settings=settings, owner=owner, due=due, status=status)
    return int(session.scalar(select(func.count()).select_from(query.with_only_columns(Task.id).subquery())) or 0)


@dataclass(frozen=True)
class OpenTasks:
    """The first open tasks of one part of a board (by due time) and how many there are (up to a cap)."""

    rows: list[dict[str, Any]]
    total: int
    capped: bool


def open_tasks_due(
    session: Session, *, owner_id: int | None, since: datetime | None, before: datetime | None, limit: int, cap: int
) -> OpenTasks:
    """Open tasks (of ``owner_id``, else everyone's) due in [``since``, ``before``): the first ``limit``, by due time.

    Read off ``ix_tasks_owner_status_due`` or ``ix_tasks_status_due``: ``limit`` rows and a count
    that stops at ``cap``, whatever the number of tasks.
    """
    query = select(Task).where(Task.status == "open")
    if owner_id is not None:
        query = query.where(Task.owner_id == owner_id)
    if since is not None:
        query = query.where(Task.due_at >= since)
    if before is not None:
        query = query.where(Task.due_at < before)
    rows = [task_dict(t) for t in session.scalars(query.order_by(Task.due_at, Task.priority, Task.id).limit(limit))]
    counted = query.with_only_columns(Task.id).limit(cap + 1).subquery()
    total = int(session.scalar(select(func.count()).select_from(counted)) or 0)
    return OpenTasks(rows=rows, total=min(total, cap), capped=total > cap)


def day_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The start and the end of the local day of ``now`` in ``timezone``."""
    return _day_bounds(now, timezone)


def get_task(session: Session, task_id: int, *, owner_id: int | None = None) -> Task:
    """The task ``task_id`` (of ``owner_id`` when given), or :class:`NotFound`."""
    task = session.get(Task, task_id)
    if task is None or (owner_id is not None and task.owner_id != owner_id):
        raise NotFound(f"no task {task_id}")
    return task


def complete_task(
    session: Session,
    task_id: int,
    outcome: str,
    *,
    now: datetime,
    note: str | None = None,
    decision: Outcome | None = None,
    reason: str | None = None,
    answers: dict[str, str] | None = None,
    qualification_skipped: bool = False,
    by: Rep | None = None,
    answered: dict[str, str] | None = None,
    answered_by: str | None = None,
    why_now: str | None = None,
    topic: str | None = None,
) -> Task:
    """Record a task's outcome. A connected call is a response: the lead's automated steps stop and the
    owner gets a task to record what comes next.

    A ``decision`` may be recorded with a connected call (or any task) in the same step: then no
    follow-up task is created (:class:`cadence.core.events.TaskDone`).

    ``answered``: qualifying answers the conversation gave (checked against the configured questions,
    some of them are enough), kept for the lead with who gave them and when; a meeting's gate checks
    them together with every earlier answer.

    ``why_now`` and ``topic``: a research task's findings, kept on the lead for the messages
    (:func:`cadence.services.research.record_findings`).
    """
    # the engine of events and the webhooks' outbox: for a task done, not for the lists
    from cadence.core.events import Decided, TaskDone
    from cadence.core.webhooks import EventType
    from cadence.services.enrollments import handle
    from cadence.services.webhooks import outbox

    task = get_task(session, task_id)
    if task.status != "open":
        raise ValidationError(f"task {task_id} is {task.status} already")
    value = outcome.strip().lower().replace("-", "_")
    allowed = OUTCOMES.get(task.channel, frozenset({"done"})) | {"skipped"}
    if value not in allowed:
        raise ValidationError(
            f"a {task.channel} task's outcome is one of {', '.join(sorted(allowed))}, not {outcome!r}"
        )
    if note is not None and len(note) > 5000:
        raise ValidationError("note is longer than 5000 characters")
    captured: dict[str, str] = {}
    if answered:
        from cadence.core.questions import validate_partial
        from cadence.services.answers import configured_questions

        if value in NO_CONVERSATION:
            raise ValidationError(f"a task done as {value} was no conversation: it answers no qualifying question")
        captured = validate_partial(answered, configured_questions(session))
    from cadence.services.research import record_findings

    record_findings(task, why_now=why_now, topic=topic)
    task.status = "done"
    task.outcome = value
    task.note = note
    task.completed_at = now
    decided = (
        Decided(
            outcome=decision,
            reason=reason,
            decided_by=by.email if by else None,
            answers=answers,
            qualification_skipped=qualification_skipped,
        )
        if decision is not None
        else None
    )
    if captured:
        from cadence.services.answers import record_answers

        who = answered_by or (by.email if by else task.owner.email if task.owner else None)
        record_answers(session, task.lead, captured, at=now, by=who, task_id=task.id)
    outbox.record(session, [outbox.task_event(EventType.TASK_COMPLETED, task.lead, task, now)])
    handle(session, task.lead, TaskDone(channel=task.channel, outcome=value, note=note, decision=decided), at=now)
    session.flush()
    return task
