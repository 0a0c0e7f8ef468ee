"""Unsubscribe links: ``GET`` shows a confirmation page, ``POST`` unsubscribes (RFC 8058 one click).

Every email carries ``List-Unsubscribe: <{base_url}/unsubscribe/{token}>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; mail providers then ``POST`` the body
``List-Unsubscribe=One-Click`` to the link, with no cookies and no page shown. ``GET`` changes
nothing (link scanners and previews fetch links). A token that is not ours, whatever is wrong with
it, gets the same plain ``400`` without touching the database.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Lead
from cadence.core.decisions import Outcome
from cadence.core.leads import normalize_email
from cadence.core.tokens import sign_unsubscribe, verify_unsubscribe
from cadence.errors import ValidationError
from cadence.services.context import Context
from cadence.services.enrollments import decide, latest_enrollment
from cadence.services.suppression import is_suppressed, suppress
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.pages import page

router = APIRouter(tags=["unsubscribe"])

INVALID_LINK = "This link is not valid."
REASON = "unsubscribed by link"


def invalid_link() -> Response:
    """The one answer to every token that is not ours: it says nothing about what is wrong."""
    return PlainTextResponse(INVALID_LINK, status_code=400)


def address_of(token: str, ctx: Context) -> str | None:
    """The address ``token`` was signed for, or None unless it is exactly a token we issue, for an address.

    Besides the signature, the token must be the very string we issue for that address:
    :func:`verify_unsubscribe` decodes base64 leniently (it skips characters outside the alphabet
    and ignores the spare bits of the last one), so that variants of a genuine token would
    otherwise be accepted too.
    """
    secret = ctx.settings.secret_key.get_secret_value()
    try:
        signed = verify_unsubscribe(token, secret)
        if not hmac.compare_digest(token.encode("utf-8", "replace"), sign_unsubscribe(signed, secret).encode("utf-8")):
            return None
        return normalize_email(signed)  # a token for anything but an address (a whole @domain) is not valid
    except ValidationError:
        return None


def mask_email(address: str) -> str:
    """``address`` with most of its local part hidden (``le•••@acme.example``): links get forwarded."""
    local, _, domain = address.rpartition("@")
    shown = 1 if len(local) <= 4 else 2
    return f"{local[:shown]}•••@{domain}"


def _decided_since_enrolled(session: Session, lead: Lead) -> bool:
    """True when the lead has a decision on (or after the start of) its latest enrollment, or ever if never enrolled."""
    query = select(Decision.id).where(Decision.lead_id == lead.id)
    enrollment = latest_enrollment(session, lead)
    if enrollment is not None:
        query = query.where(or_(Decision.enrollment_id == enrollment.id, Decision.decided_at >= enrollment.enrolled_at))
    return session.scalar(query.limit(1)) is not None


def _unsubscribe(session: Session, address: str, *, now: datetime) -> Decision | None:
    # The lead's row is locked first, so that two requests for the same lead (mail providers may
    # POST more than once) run one after the other and the second finds the first's work. FOR NO KEY
    # UPDATE, not FOR UPDATE: a run that claimed the lead's enrollment inserts its touch, whose foreign
    # key needs a key share of this row, while we wait for that enrollment (a deadlock otherwise).
    lead = session.scalar(select(Lead).where(Lead.email == address).with_for_update(of=Lead, key_share=True))
    suppress(session, address, now=now, reason=REASON)
    if lead is None or _decided_since_enrolled(session, lead):
        return None
    return decide(session, lead, Outcome.UNSUBSCRIBED, now=now, reason=REASON, decided_by=address)


def unsubscribe_address(ctx: Context, address: str, *, now: datetime) -> Decision | None:
    """Suppress ``address`` and record the decision ``unsubscribed`` on its lead, in one transaction.

    The decision is recorded only when the lead has none since its latest enrollment began; its
    enrollment stops and its open tasks are cancelled. Idempotent: a second call changes nothing
    and returns None. Returns the decision recorded, if any.
    """

    def attempt() -> Decision | None:
        with ctx.sessions() as session, session.begin():
            return _unsubscribe(session, address, now=now)

    try:
        return attempt()
    except IntegrityError:  # a concurrent request for an address with no lead suppressed it first
        return attempt()


@router.get("/unsubscribe/{token:path}")
def confirm(token: str, ctx: ContextDep) -> Response:
    """The confirmation page: who is unsubscribed and what happens; its button POSTs to this same link."""
    address = address_of(token, ctx)
    if address is None:
        return invalid_link()
    with ctx.sessions() as session:
        already = is_suppressed(session, address)
    return page("unsubscribe.html", ctx.settings, address=mask_email(address), already=already)


@router.post("/unsubscribe/{token:path}")
def unsubscribe(token: str, ctx: ContextDep, clock: ClockDep) -> Response:
    """Unsubscribe (one click, as mail providers send it, or the page's button): never emailed again."""
    address = address_of(token, ctx)
    if address is None:
        return invalid_link()
    unsubscribe_address(ctx, address, now=clock())
    return page("unsubscribed.html", ctx.settings, address=mask_email(address))
