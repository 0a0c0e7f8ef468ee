"""Unsubscribing by link: which address a token stands for, and the unsubscribe itself (RFC 8058 one click).

The web edge only parses the request and renders the answer; what a link means and what
unsubscribing does live here. A token that is not exactly one we issue, for an address, raises
:class:`InvalidLink` before the database is touched.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Lead
from cadence.core import events
from cadence.core.leads import normalize_email
from cadence.core.tokens import sign_unsubscribe, verify_unsubscribe
from cadence.errors import CadenceError, ValidationError
from cadence.services.context import Context
from cadence.services.enrollments import handle
from cadence.services.suppression import is_suppressed, suppress

REASON = "unsubscribed by link"


class InvalidLink(CadenceError):
    """This link is not valid."""


@dataclass(frozen=True)
class LinkStatus:
    """What an unsubscribe link stands for, before anything changes."""

    address: str
    already: bool
    """True when the address (or its whole domain) is suppressed already."""


@dataclass(frozen=True)
class Unsubscribed:
    """The outcome of an unsubscribe: the address, now suppressed, and whether this call decided its lead."""

    address: str
    decided: bool


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


def _address(token: str, ctx: Context) -> str:
    address = address_of(token, ctx)
    if address is None:
        raise InvalidLink
    return address


def link_status(ctx: Context, token: str) -> LinkStatus:
    """Who the link unsubscribes and whether they are already; changes nothing. Raises :class:`InvalidLink`."""
    address = _address(token, ctx)
    with ctx.sessions() as session:
        return LinkStatus(address=address, already=is_suppressed(session, address))


def _unsubscribe(session: Session, address: str, *, now: datetime) -> Decision | None:
    # The lead's row is locked first, so that two requests for the same lead (mail providers may
    # POST more than once) run one after the other and the second finds the first's work. FOR NO KEY
    # UPDATE, not FOR UPDATE: a run that claimed the lead's enrollment inserts its touch, whose foreign
    # key needs a key share of this row, while we wait for that enrollment (a deadlock otherwise).
    lead = session.scalar(select(Lead).where(Lead.email == address).with_for_update(of=Lead, key_share=True))
    if lead is None:  # an address we never had as a lead: only suppressed
        suppress(session, address, now=now, reason=REASON)
        return None
    return handle(session, lead, events.Unsubscribed(reason=REASON, by=address), at=now).decision


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


def unsubscribe_link(ctx: Context, token: str, *, now: datetime) -> Unsubscribed:
    """Unsubscribe the address of the link ``token`` (see :func:`unsubscribe_address`). Raises :class:`InvalidLink`.

    When this returns, the suppression is committed: no email leaves for the address afterwards.
    """
    address = _address(token, ctx)
    return Unsubscribed(address=address, decided=unsubscribe_address(ctx, address, now=now) is not None)
