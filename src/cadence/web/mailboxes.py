"""What managers see of sending: each rep's mailboxes (today's sends against their allowance, ramp-up,
pacing, recent bounces, paused and why) and the cadences the bounce guard paused. Read-only: pauses
are lifted by hand with ``cadence mailboxes resume`` and ``cadence cadences resume``."""

from __future__ import annotations

from fastapi import Request, Response

from cadence.services.guards import paused_cadences
from cadence.services.mailboxes import list_mailboxes
from cadence.web.auth import ManagerDep, guarded_router
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import workspace_page

router = guarded_router()


@router.get("/mailboxes")
def mailboxes_page(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep) -> Response:
    """The sending mailboxes and the paused cadences."""
    with ctx.sessions() as session:
        mailboxes = list_mailboxes(session, now=clock(), settings=ctx.settings)
        cadences = paused_cadences(session)
    return workspace_page(request, ctx, viewer, "mailboxes.html", mailboxes=mailboxes, paused=cadences)
