"""Tasks in the workspace: a viewer's open tasks by when they are due, one task in context, its outcome recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Rep, Task
from cadence.errors import ValidationError
from cadence.services.answers import configured_questions, known_answers
from cadence.services.context import Context
from cadence.services.enrollments import decide
from cadence.services.lead_list import rep_choices
from cadence.services.tasks import complete_task, day_bounds, list_tasks, open_tasks_due, task_dict
from cadence.services.users import Role, Viewer
from cadence.services.workspace.access import visible_task
from cadence.services.workspace.decisions import DecisionForm, DecisionInput, check_decision
from cadence.services.workspace.leads import LeadBrief, lead_briefs, lead_details, with_sent_emails

NOTE_CHARS = 5000
SECTION_SIZE = 50
"""How many tasks each part of a board (overdue, today, upcoming) shows."""
COUNT_CAP = 1000
"""Each part counts its tasks up to this number."""

Section = tuple[str, str, list[dict[str, Any]]]
"""(key, heading, tasks) of one part of a task list."""


@dataclass(frozen=True)
class TaskBoard:
    """A viewer's open tasks (overdue, today, upcoming), each lead's context, whose tasks they are."""

    sections: list[Section]
    briefs: dict[str, LeadBrief]
    reps: list[dict[str, object]]
    """The reps a manager may choose from (empty for a rep)."""
    owner: str | None
    """The rep whose tasks these are; None for everyone's."""
    totals: dict[str, tuple[int, bool]] = field(default_factory=dict)
    """Each part's number of tasks (counted up to :data:`COUNT_CAP`) and whether there are more."""


@dataclass(frozen=True)
class TaskView:
    """One task as plain data, with its lead's whole context."""

    task: dict[str, Any]
    lead: dict[str, Any]


@dataclass(frozen=True)
class TaskDone:
    """A task's outcome recorded: the task, the decision recorded with it, and the owner's next open task."""

    title: str
    outcome: str
    decision: DecisionInput | None
    responded: bool
    """True when the outcome is a response from the lead (a connected call): its automated steps stopped."""
    following: dict[str, Any] | None


def _sections(
    session: Session, ctx: Context, owner: str | None, now: datetime
) -> tuple[list[Section], dict[str, tuple[int, bool]]]:
    """(key, heading, tasks) for overdue, today and upcoming open tasks, each by due time, the first few of each;
    and each part's count (up to :data:`COUNT_CAP`) and whether it has more."""
    zone = ctx.settings.default_timezone
    owner_id = None
    if owner is not None:
        rep = session.scalar(select(Rep).where(Rep.email == owner))
        if rep is None:
            return [("overdue", "Overdue", []), ("today", "Today", []), ("upcoming", "Upcoming", [])], {}
        owner_id, zone = rep.id, rep.timezone or zone
    start, end = day_bounds(now, zone)
    parts = (("overdue", "Overdue", None, start), ("today", "Today", start, end), ("upcoming", "Upcoming", end, None))
    sections: list[Section] = []
    totals: dict[str, tuple[int, bool]] = {}
    for key, heading, since, before in parts:
        found = open_tasks_due(
            session, owner_id=owner_id, since=since, before=before, limit=SECTION_SIZE, cap=COUNT_CAP
        )
        sections.append((key, heading, found.rows))
        totals[key] = (found.total, found.capped)
    return sections, totals


def task_board(ctx: Context, viewer: Viewer, *, owner: str | None, now: datetime) -> TaskBoard:
    """A rep's own open tasks; a manager's view of everyone's, or of the rep ``owner`` (an unknown one: everyone's).

    Each part (overdue, today, upcoming) shows its first :data:`SECTION_SIZE` tasks and how many it has.
    """
    with ctx.sessions() as session:
        reps = rep_choices(session) if viewer.role is Role.MANAGER else []
        chosen = viewer.email if viewer.role is Role.REP else owner
        if chosen is not None and viewer.role is Role.MANAGER and chosen not in {r["email"] for r in reps}:
            chosen = None
        sections, totals = _sections(session, ctx, chosen, now)
        emails = sorted({t["lead_ref"] for _, _, items in sections for t in items})
        briefs = lead_briefs(session, emails)
    return TaskBoard(sections=sections, briefs=briefs, reps=reps, owner=chosen, totals=totals)


def task_for(ctx: Context, viewer: Viewer, task_id: int) -> TaskView:
    """The task ``task_id`` with its lead's context, if the viewer may see it."""
    with ctx.sessions() as session:
        task = visible_task(session, task_id, viewer)
        lead = with_sent_emails(ctx, session, task.lead, lead_details(session, task.lead, ctx.settings))
        return TaskView(task=task_dict(task), lead=lead)


def _next_open(session: Session, ctx: Context, task: Task, now: datetime) -> dict[str, Any] | None:
    """The owner's next open task (overdue first, then by due time), if any."""
    owner = task.owner.email if task.owner is not None else None
    if owner is None:
        return None
    remaining = list_tasks(session, now=now, settings=ctx.settings, owner=owner, due="all", status="open", limit=1)
    return remaining[0] if remaining else None


def finish_task(
    ctx: Context,
    viewer: Viewer,
    task_id: int,
    outcome: str,
    *,
    note: str | None,
    decision: DecisionForm,
    now: datetime,
    why_now: str | None = None,
    topic: str | None = None,
) -> TaskDone:
    """Record the task's ``outcome`` with ``note`` and, if one was chosen, the lead's decision, in one transaction.

    Raises :class:`~cadence.services.workspace.access.AccessDenied` unless the viewer may see the
    task, then :class:`~cadence.errors.CadenceError` for an outcome, note or decision refused.
    ``why_now`` and ``topic``: a research task's findings, kept on the lead for its emails.
    """
    with ctx.sessions() as session, session.begin():
        task = visible_task(session, task_id, viewer)
        if not outcome:
            raise ValidationError("Choose the task's outcome.")
        if note is not None and len(note) > NOTE_CHARS:
            raise ValidationError(f"The note is longer than {NOTE_CHARS} characters.")
        questions = configured_questions(session)
        chosen = check_decision(decision, known_answers(session, task.lead_id), questions)
        # answers typed with no decision are what this conversation told: kept for the lead
        answered = {k: v for k, v in decision.answers.items() if v.strip()} if chosen is None else None
        complete_task(session, task.id, outcome, now=now, note=note, answered=answered, answered_by=viewer.email,
                      why_now=why_now, topic=topic)  # fmt: skip
        if chosen is not None:
            decide(
                session,
                task.lead,
                chosen.outcome,
                now=now,
                reason=chosen.reason,
                answers=chosen.answers,
                qualification_skipped=chosen.qualification_skipped,
                decided_by=viewer.email,
            )
        return TaskDone(
            title=task.title,
            outcome=task.outcome or "",
            decision=chosen,
            responded=task.channel == "call" and task.outcome == "connected",
            following=_next_open(session, ctx, task, now),
        )
