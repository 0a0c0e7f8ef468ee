"""Tasks in the workspace: a rep's list (overdue, today, upcoming) with each lead's context, one-click outcomes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy.orm import Session

from cadence.adapters.models import Task
from cadence.errors import CadenceError, ValidationError
from cadence.services.context import Context
from cadence.services.enrollments import decide
from cadence.services.reps import list_reps
from cadence.services.tasks import complete_task, list_tasks, task_dict
from cadence.services.users import Role, Viewer
from cadence.web.auth import FormDep, TasksDep, guarded_router, redirect, safe_next
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.forms import DECISION_LABELS, OUTCOME_LABELS, parse_decision, task_outcomes
from cadence.web.leads import decision_form_values, lead_briefs, lead_details
from cadence.web.views import flash, visible_task, workspace_page

router = guarded_router()

NOTE_CHARS = 5000


def _sections(
    session: Session, ctx: Context, viewer: Viewer, owner: str | None, now: Any
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(key, heading, tasks) for overdue, today and upcoming open tasks, each by due time."""
    overdue = list_tasks(session, now=now, settings=ctx.settings, owner=owner, due="overdue")
    today = list_tasks(session, now=now, settings=ctx.settings, owner=owner, due="today")
    every = list_tasks(session, now=now, settings=ctx.settings, owner=owner, due="all", status="open")
    seen = {t["id"] for t in overdue}
    today = [t for t in today if t["id"] not in seen]
    seen |= {t["id"] for t in today}
    upcoming = [t for t in every if t["id"] not in seen]
    return [("overdue", "Overdue", overdue), ("today", "Today", today), ("upcoming", "Upcoming", upcoming)]


@router.get("/tasks")
def tasks_page(
    request: Request,
    ctx: ContextDep,
    clock: ClockDep,
    viewer: TasksDep,
    owner: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """A rep's open tasks, overdue first, then today's, then upcoming; a manager sees everyone's (or one rep's)."""
    now = clock()
    with ctx.sessions() as session:
        reps = list_reps(session) if viewer.role is Role.MANAGER else []
        chosen = viewer.email if viewer.role is Role.REP else (owner or None)
        if chosen is not None and viewer.role is Role.MANAGER and chosen not in {r["email"] for r in reps}:
            chosen = None
        sections = _sections(session, ctx, viewer, chosen, now)
        emails = sorted({t["lead_email"] for _, _, items in sections for t in items})
        briefs = lead_briefs(session, emails)
    return workspace_page(
        request,
        ctx,
        viewer,
        "tasks.html",
        sections=sections,
        briefs=briefs,
        outcomes={channel: task_outcomes(channel) for channel in {t["channel"] for _, _, i in sections for t in i}},
        reps=reps,
        owner=chosen or "",
    )


def task_page(
    request: Request,
    ctx: Context,
    viewer: Viewer,
    task_id: int,
    *,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """One task with its lead's whole context and the outcome forms (``error``: a refused form, shown again)."""
    with ctx.sessions() as session:
        task = visible_task(session, task_id, viewer)
        data = task_dict(task)
        lead = lead_details(session, task.lead, ctx.settings)
    return workspace_page(
        request,
        ctx,
        viewer,
        "task.html",
        status_code=status_code,
        task=data,
        lead=lead,
        outcomes=task_outcomes(data["channel"]),
        error=error,
        **decision_form_values(form),
    )


@router.get("/tasks/{task_id}")
def task_show(request: Request, ctx: ContextDep, viewer: TasksDep, task_id: int) -> Response:
    """A task: instructions, the lead's context and timeline, the emails sent, the outcome buttons."""
    return task_page(request, ctx, viewer, task_id)


def _next_open(session: Session, ctx: Context, task: Task, now: Any) -> dict[str, Any] | None:
    """The owner's next open task (overdue first, then by due time), if any."""
    owner = task.owner.email if task.owner is not None else None
    if owner is None:
        return None
    remaining = list_tasks(session, now=now, settings=ctx.settings, owner=owner, due="all", status="open")
    return remaining[0] if remaining else None


@router.post("/tasks/{task_id}")
def task_done(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: TasksDep, form: FormDep, task_id: int
) -> Response:
    """Record a task's outcome (one click), with a note and, optionally, the lead's decision; then the next task."""
    now = clock()
    outcome = form.get("outcome", "")
    note = form.get("note", "").strip() or None
    back = safe_next(form.get("return_to"), "/tasks")
    try:
        with ctx.sessions() as session, session.begin():
            task = visible_task(session, task_id, viewer)
            if not outcome:
                raise ValidationError("Choose the task's outcome.")
            if note is not None and len(note) > NOTE_CHARS:
                raise ValidationError(f"The note is longer than {NOTE_CHARS} characters.")
            decision = parse_decision(form)
            complete_task(session, task.id, outcome, now=now, note=note)
            if decision is not None:
                decide(
                    session,
                    task.lead,
                    decision.outcome,
                    now=now,
                    reason=decision.reason,
                    answers=decision.answers,
                    qualification_skipped=decision.qualification_skipped,
                    decided_by=viewer.email,
                )
            label = OUTCOME_LABELS.get(task.outcome or "", task.outcome or "")
            message = f"Done: {task.title} ({label.lower()})."
            if decision is not None:
                message += f" Decision recorded: {DECISION_LABELS[decision.outcome.value]}."
            elif task.channel == "call" and task.outcome == "connected":
                message += " The lead's automated steps have stopped: record the decision on the lead's page."
            following = _next_open(session, ctx, task, now)
    except CadenceError as exc:
        return task_page(request, ctx, viewer, task_id, status_code=422, error=str(exc), form=form)
    message += f" Next: {following['title']}." if following else " No open tasks left."
    flash(ctx, viewer, message)
    return redirect(back)
