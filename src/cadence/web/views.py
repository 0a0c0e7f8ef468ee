"""What the workspace pages share: the page frame (navigation, CSRF token, flash) and the plain 404 and 403.

Who may see which lead and task is :mod:`cadence.services.workspace.access`; its refusals
(:class:`~cadence.services.workspace.access.AccessDenied`) are answered by the app as 404 or 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from cadence.services.context import Context
from cadence.services.users import Role, Viewer
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
        NavItem("/webhooks", "Webhooks"),
        NavItem("/mailboxes", "Sending"),
        NavItem("/reps", "Reps"),
        NavItem("/not-enrolled", "Not enrolled"),
        NavItem("/audit", "Audit log"),
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


def not_found() -> HTTPException:
    """The one answer for what does not exist and for what is someone else's."""
    return HTTPException(status_code=404, detail="Not Found")
