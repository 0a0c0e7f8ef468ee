"""What the workspace pages share: the page frame (navigation, CSRF token, flash), who may see which lead and task.

Authorization rules (the tests hold every one of them):

* a rep sees and changes only their own tasks (``tasks.owner_id``) and leads (``leads.owner_id``);
  anyone else's is "404 Not Found", exactly as if it did not exist;
* a marketer sees every lead read-only, and no tasks (403);
* a manager sees everything and may act on any task and lead (recorded under their own address).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cadence.adapters.models import MAX_ROW_ID, Lead, Task
from cadence.errors import NotFound, ValidationError
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.tasks import get_task
from cadence.services.users import Role, Viewer, set_flash
from cadence.web.pages import page


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation bar."""

    path: str
    label: str


NAVIGATION: dict[Role, tuple[NavItem, ...]] = {
    Role.REP: (NavItem("/tasks", "My tasks"), NavItem("/leads", "My leads")),
    Role.MARKETER: (NavItem("/cadences", "Cadences"), NavItem("/templates", "Templates"), NavItem("/leads", "Leads")),
    Role.MANAGER: (
        NavItem("/dashboard", "Dashboard"),
        NavItem("/tasks", "Tasks"),
        NavItem("/leads", "Leads"),
        NavItem("/cadences", "Cadences"),
        NavItem("/templates", "Templates"),
    ),
}


def viewer_zone(ctx: Context, viewer: Viewer) -> str:
    """The time zone the viewer reads times in: a rep's own, else the configured default."""
    return viewer.timezone or ctx.settings.default_timezone


def workspace_page(
    request: Request, ctx: Context, viewer: Viewer, name: str, *, status_code: int = 200, **values: Any
) -> HTMLResponse:
    """A workspace page: the frame (navigation, user, logout form, flash) around template ``name``."""
    path = request.url.path
    navigation = NAVIGATION[viewer.role]
    current = next((item.path for item in navigation if path == item.path or path.startswith(item.path + "/")), None)
    return page(
        name,
        ctx.settings,
        status_code=status_code,
        viewer=viewer,
        navigation=navigation,
        current=current,
        csrf_token=viewer.csrf_token,
        flash=values.pop("flash", viewer.flash),
        zone=viewer_zone(ctx, viewer),
        **values,
    )


def flash(ctx: Context, viewer: Viewer, message: str) -> None:
    """Show ``message`` on the viewer's next page (the one a POST redirects to)."""
    with ctx.sessions() as session, session.begin():
        set_flash(session, viewer.session_id, message)


def not_found() -> HTTPException:
    """The one answer for what does not exist and for what is someone else's."""
    return HTTPException(status_code=404, detail="Not Found")


def forbidden() -> HTTPException:
    """The answer for a page or action the viewer's role does not have."""
    return HTTPException(status_code=403, detail="Forbidden")


def visible_lead(session: Session, email: str, viewer: Viewer) -> Lead:
    """The lead ``email`` if the viewer may see it, else 404 (another rep's lead looks like no lead)."""
    try:
        lead = get_lead(session, email)
    except (NotFound, ValidationError):
        raise not_found() from None
    if viewer.role is Role.REP and (viewer.rep_id is None or lead.owner_id != viewer.rep_id):
        raise not_found()
    return lead


def changeable_lead(session: Session, email: str, viewer: Viewer) -> Lead:
    """The lead ``email`` if the viewer may change it: 404 as for :func:`visible_lead`, 403 for a marketer."""
    lead = visible_lead(session, email, viewer)
    if viewer.role is Role.MARKETER:
        raise forbidden()
    return lead


def visible_task(session: Session, task_id: int, viewer: Viewer) -> Task:
    """The task if the viewer may see and complete it, else 404 (403 for a marketer).

    An id no row can have (0, negative, past a database integer) is a task that does not exist, not
    a query the database would refuse.
    """
    if viewer.role is Role.MARKETER:
        raise forbidden()
    if (viewer.role is Role.REP and viewer.rep_id is None) or not 1 <= task_id <= MAX_ROW_ID:
        raise not_found()
    try:
        return get_task(session, task_id, owner_id=viewer.rep_id if viewer.role is Role.REP else None)
    except NotFound:
        raise not_found() from None


def can_act(viewer: Viewer) -> bool:
    """Whether the viewer may change leads and tasks at all (reps on their own, managers on any)."""
    return viewer.role in (Role.REP, Role.MANAGER)
