"""What managers see and do of sending: each rep's mailboxes (today's sends against their allowance,
ramp-up, pacing, recent bounces, paused and why), paused and resumed here as with ``cadence mailboxes
pause|resume``, and the cadences the bounce guard paused, resumed here as with ``cadence cadences resume``."""

from __future__ import annotations

from fastapi import Request, Response

from cadence.errors import CadenceError
from cadence.services.guards import paused_cadences, resume_cadence
from cadence.services.mailboxes import list_mailboxes, pause_mailbox, resume_mailbox
from cadence.services.workspace.sessions import flash
from cadence.web.auth import FormDep, ManagerDep, guarded_router, redirect
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import workspace_page

router = guarded_router()


def _page(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, *, status_code: int = 200, error: str = ""
) -> Response:
    with ctx.sessions() as session:
        mailboxes = list_mailboxes(session, now=clock(), settings=ctx.settings)
        cadences = paused_cadences(session)
    return workspace_page(
        request, ctx, viewer, "mailboxes.html", status_code=status_code, mailboxes=mailboxes, paused=cadences,
        error=error,
    )  # fmt: skip


@router.get("/mailboxes")
def mailboxes_page(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep) -> Response:
    """The sending mailboxes and the paused cadences."""
    return _page(request, ctx, clock, viewer)


@router.post("/mailboxes/{action}")
def mailboxes_change(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep, action: str
) -> Response:
    """Pause a mailbox (``address``, ``reason``), resume one (``address``), or resume a cadence (``cadence``)."""
    now = clock()
    try:
        with ctx.sessions() as session, session.begin():
            if action == "pause":
                reason = form.get("reason", "").strip()[:500] or "no reason given"
                done = pause_mailbox(
                    session, form.get("address", ""), now=now, reason=f"paused by {viewer.email}: {reason}"
                )
                message = f"{done.address} is paused: its emails wait until it is resumed."
            elif action == "resume":
                done = resume_mailbox(session, form.get("address", ""), now=now)
                message = f"{done.address} sends again: the emails that waited go at their leads' next slots."
            elif action == "resume-cadence":
                name = form.get("cadence", "")
                resume_cadence(session, name, now=now)
                message = f"The cadence {name} sends again."
            else:
                return _page(request, ctx, clock, viewer, status_code=404, error="no such action")
    except CadenceError as exc:
        return _page(request, ctx, clock, viewer, status_code=422, error=str(exc))
    flash(ctx, viewer, message)
    return redirect("/mailboxes")
