"""Unsubscribe links: ``GET`` shows a confirmation page, ``POST`` unsubscribes (RFC 8058 one click).

Every email carries ``List-Unsubscribe: <{base_url}/unsubscribe/{token}>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; mail providers then ``POST`` the body
``List-Unsubscribe=One-Click`` to the link, with no cookies and no page shown. ``GET`` changes
nothing (link scanners and previews fetch links). A token that is not ours, whatever is wrong with
it, gets the same plain ``400`` without touching the database. The use case itself (the token's
address, the locking, the retry) is :mod:`cadence.services.unsubscribe`.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from cadence.services.unsubscribe import InvalidLink, link_status, unsubscribe_link
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.pages import page

__all__ = ["router"]

router = APIRouter(tags=["unsubscribe"])

INVALID_LINK = "This link is not valid."


def invalid_link() -> Response:
    """The one answer to every token that is not ours: it says nothing about what is wrong."""
    return PlainTextResponse(INVALID_LINK, status_code=400)


def mask_email(address: str) -> str:
    """``address`` with most of its local part hidden (``le•••@acme.example``): links get forwarded."""
    local, _, domain = address.rpartition("@")
    shown = 1 if len(local) <= 4 else 2
    return f"{local[:shown]}•••@{domain}"


@router.get("/unsubscribe/{token:path}")
def confirm(token: str, ctx: ContextDep) -> Response:
    """The confirmation page: who is unsubscribed and what happens; its button POSTs to this same link."""
    try:
        status = link_status(ctx, token)
    except InvalidLink:
        return invalid_link()
    return page("unsubscribe.html", ctx.settings, address=mask_email(status.address), already=status.already)


@router.post("/unsubscribe/{token:path}")
def unsubscribe(token: str, ctx: ContextDep, clock: ClockDep) -> Response:
    """Unsubscribe (one click, as mail providers send it, or the page's button): never emailed again."""
    try:
        done = unsubscribe_link(ctx, token, now=clock())
    except InvalidLink:
        return invalid_link()
    return page("unsubscribed.html", ctx.settings, address=mask_email(done.address))
