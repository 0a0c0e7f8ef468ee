"""The workspace's signed-in sessions: who a session token is, ending it, the message for the next page."""

from __future__ import annotations

from datetime import datetime

from cadence.services.context import Context
from cadence.services.users import Viewer, log_out, resume_session, set_flash


def viewer_of(ctx: Context, token: str, *, now: datetime) -> Viewer | None:
    """The user of the live session ``token``, or None; its flash message, if any, is handed over once."""
    with ctx.sessions() as session, session.begin():
        return resume_session(session, token, now=now)


def end_session(ctx: Context, token: str) -> None:
    """End the session ``token`` on the server (nothing happens if it is unknown)."""
    with ctx.sessions() as session, session.begin():
        log_out(session, token)


def flash(ctx: Context, viewer: Viewer, message: str) -> None:
    """Show ``message`` on the viewer's next page (the one a POST redirects to)."""
    with ctx.sessions() as session, session.begin():
        set_flash(session, viewer.session_id, message)
