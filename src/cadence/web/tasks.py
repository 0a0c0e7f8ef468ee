"""Tasks in the workspace: a rep's list (overdue, today, upcoming) with each lead's context, one-click outcomes.

The use cases are :mod:`cadence.services.workspace.tasks`; here the requests are read and the pages drawn.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from cadence.errors import CadenceError
from cadence.services.context import Context
from cadence.services.users import Viewer
from cadence.services.workspace.access import AccessDenied
from cadence.services.workspace.sessions import flash
from cadence.services.workspace.tasks import finish_task, task_board, task_for
from cadence.web.auth import FormDep, TasksDep, guarded_router, redirect, safe_next
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.forms import DECISION_LABELS, OUTCOME_LABELS, decision_form, task_outcomes
from cadence.web.leads import decision_form_values
from cadence.web.views import workspace_page

router = guarded_router()


@router.get("/tasks")
def tasks_page(
    request: Request,
    ctx: ContextDep,
    clock: ClockDep,
    viewer: TasksDep,
    owner: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """A rep's open tasks, overdue first, then today's, then upcoming; a manager sees everyone's (or one rep's)."""
    board = task_board(ctx, viewer, owner=owner or None, now=clock())
    sections = board.sections
    return workspace_page(
        request,
        ctx,
        viewer,
        "tasks.html",
        sections=sections,
        briefs=board.briefs,
        outcomes={channel: task_outcomes(channel) for channel in {t["channel"] for _, _, i in sections for t in i}},
        reps=board.reps,
        owner=board.owner or "",
        totals=board.totals,
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
    view = task_for(ctx, viewer, task_id)
    return workspace_page(
        request,
        ctx,
        viewer,
        "task.html",
        status_code=status_code,
        task=view.task,
        lead=view.lead,
        outcomes=task_outcomes(view.task["channel"]),
        error=error,
        **decision_form_values(form, ctx),
    )


@router.get("/tasks/{task_id}")
def task_show(request: Request, ctx: ContextDep, viewer: TasksDep, task_id: int) -> Response:
    """A task: instructions, the lead's context and timeline, the emails sent, the outcome buttons."""
    return task_page(request, ctx, viewer, task_id)


@router.post("/tasks/{task_id}")
def task_done(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: TasksDep, form: FormDep, task_id: int
) -> Response:
    """Record a task's outcome (one click), with a note and, optionally, the lead's decision; then the next task."""
    back = safe_next(form.get("return_to"), "/tasks")
    try:
        done = finish_task(
            ctx,
            viewer,
            task_id,
            form.get("outcome", ""),
            note=form.get("note", "").strip() or None,
            decision=decision_form(form),
            now=clock(),
            why_now=form.get("why_now"),
            topic=form.get("topic"),
        )
    except AccessDenied:
        raise
    except CadenceError as exc:
        return task_page(request, ctx, viewer, task_id, status_code=422, error=str(exc), form=form)
    label = OUTCOME_LABELS.get(done.outcome, done.outcome)
    message = f"Done: {done.title} ({label.lower()})."
    if done.decision is not None:
        message += f" Decision recorded: {DECISION_LABELS[done.decision.outcome.value]}."
    elif done.responded:
        message += " The lead's automated steps have stopped: record the decision on the lead's page."
    message += f" Next: {done.following['title']}." if done.following else " No open tasks left."
    flash(ctx, viewer, message)
    return redirect(back)
