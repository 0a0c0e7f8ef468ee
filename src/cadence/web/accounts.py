"""Accounts in the workspace: an account's page, adding a colleague from a lead's page, a manager's reassignment.

The use cases are :mod:`cadence.services.workspace.accounts`; here the requests are read and the pages drawn.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from sqlalchemy import select

from cadence.adapters.models import Rep
from cadence.errors import CadenceError
from cadence.services.users import Role
from cadence.services.workspace.access import AccessDenied, can_act
from cadence.services.workspace.accounts import (
    account_page,
    add_colleague_from_task,
    add_colleague_of,
    move_lead,
    reassign_by_manager,
)
from cadence.services.workspace.sessions import flash
from cadence.web.auth import FormDep, ViewerDep, guarded_router, redirect, safe_next
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.leads import lead_page
from cadence.web.pages import urlpath
from cadence.web.views import workspace_page

router = guarded_router()


def _page(
    request: Request, ctx: ContextDep, viewer: ViewerDep, account_id: int, *, status_code: int = 200,
    error: str | None = None,
) -> Response:  # fmt: skip
    data = account_page(ctx, viewer, f"#{account_id}")
    reps: list[str] = []
    if viewer.role is Role.MANAGER:
        with ctx.sessions() as session:
            reps = list(session.scalars(select(Rep.email).where(Rep.active).order_by(Rep.email)))
    return workspace_page(request, ctx, viewer, "account.html", status_code=status_code, account=data, reps=reps,
                          can_reassign=viewer.role is Role.MANAGER, error=error)  # fmt: skip


@router.get("/accounts/{account_id}")
def account_show(request: Request, ctx: ContextDep, viewer: ViewerDep, account_id: int) -> Response:
    """An account: contacts with roles, stages and states, coverage, open tasks, one timeline, the changes."""
    return _page(request, ctx, viewer, account_id)


@router.post("/accounts/{account_id}/reassign")
def account_reassign(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, account_id: int
) -> Response:
    """A manager gives the account to another rep: its contacts and their open tasks move."""
    try:
        done = reassign_by_manager(ctx, viewer, f"#{account_id}", form.get("rep", ""), now=clock())
    except AccessDenied:
        raise
    except CadenceError as exc:
        return _page(request, ctx, viewer, account_id, status_code=422, error=str(exc))
    flash(ctx, viewer, f"{done['account']} is {done['owner']}'s now: {done['contacts_moved']} contact(s) moved.")
    return redirect(f"/accounts/{account_id}")


def _added(done: dict[str, Any]) -> str:
    """The message for a colleague added: who (their address, else their name and phone), where, enrolled or not."""
    who = done["email"] or f"{done['name']} ({done['phone']})"
    enrolled = f", enrolled in {done['enrolled']}" if done["enrolled"] else ""
    return f"Added {who} to {done['account']}{enrolled}."


@router.post("/leads/{email:path}/colleague")
def lead_colleague(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Add a colleague of the lead (same account and owner, a role in the buying group)."""
    if not can_act(viewer):
        from cadence.services.workspace.access import Forbidden

        raise Forbidden
    try:
        done = add_colleague_of(ctx, viewer, email, dict(form), now=clock())
    except AccessDenied:
        raise
    except CadenceError as exc:
        return lead_page(request, ctx, viewer, email, status_code=422, error=str(exc), form=dict(form))
    flash(ctx, viewer, _added(done))
    return redirect(safe_next(form.get("return_to"), "") or f"/leads/{urlpath(email)}")


@router.post("/tasks/{task_id}/colleague")
def task_colleague(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, task_id: int
) -> Response:
    """Add a colleague of the task's lead from the task's page (a call that named someone); back to the task."""
    from cadence.web.tasks import task_page

    if not can_act(viewer):
        from cadence.services.workspace.access import Forbidden

        raise Forbidden
    try:
        done = add_colleague_from_task(ctx, viewer, task_id, dict(form), now=clock())
    except AccessDenied:
        raise
    except CadenceError as exc:
        return task_page(request, ctx, viewer, task_id, status_code=422, error=str(exc), form=dict(form))
    flash(ctx, viewer, _added(done))
    return redirect(f"/tasks/{task_id}")


@router.post("/leads/{email:path}/account")
def lead_account(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Put the lead in the account of an explicit key (a subsidiary, a group the domain does not show)."""
    try:
        done = move_lead(ctx, viewer, email, form.get("key", ""), now=clock())
    except AccessDenied:
        raise
    except CadenceError as exc:
        return lead_page(request, ctx, viewer, email, status_code=422, error=str(exc), form=dict(form))
    flash(ctx, viewer, f"{done['email']} is at {done['account']}." if done["moved"] else "Nothing to change.")
    return redirect(f"/leads/{urlpath(email)}")
