"""Reps: the people who own leads and receive tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Rep
from cadence.core.leads import clean_text, normalize_email, validate_timezone
from cadence.errors import AlreadyExists, NotFound, ValidationError, shown

MAX_DAILY_EMAIL_CAP = 100_000
"""The largest daily email cap a rep can have (far beyond what one mailbox may send)."""
DEVELOPER = "developer"
ROLES = ("rep", DEVELOPER)
"""A rep owns leads dealt out to them; a developer works the lead-development queue (passed-back leads)."""


def add_rep(
    session: Session,
    email: str,
    name: str,
    *,
    now: datetime,
    signature: str | None = None,
    timezone: str | None = None,
    daily_email_cap: int | None = None,
    role: str = "rep",
) -> Rep:
    """Create a rep; raises :class:`AlreadyExists` if the address is taken.

    ``role``: ``rep`` (owns leads dealt out to them) or ``developer`` (gets the passed-back leads, never
    the new ones).
    """
    address = normalize_email(email)
    display = clean_text("name", name, max_length=200)
    if not display:
        raise ValidationError("a rep needs a name")
    if signature is not None and len(signature) > 2000:
        raise ValidationError("signature is longer than 2000 characters")
    if daily_email_cap is not None and not 1 <= daily_email_cap <= MAX_DAILY_EMAIL_CAP:
        raise ValidationError(f"daily email cap must be from 1 to {MAX_DAILY_EMAIL_CAP:,}")
    if role not in ROLES:
        raise ValidationError(f"a rep's role is {' or '.join(ROLES)}, not {shown(role)}")
    if session.scalar(select(Rep.id).where(Rep.email == address)) is not None:
        raise AlreadyExists(f"a rep with email {address} exists already")
    rep = Rep(
        email=address,
        name=display,
        signature=signature.strip() if signature else None,
        timezone=validate_timezone(timezone) if timezone else None,
        daily_email_cap=daily_email_cap,
        active=True,
        created_at=now,
        role=DEVELOPER if role == DEVELOPER else None,
    )
    session.add(rep)
    session.flush()
    return rep


def get_rep(session: Session, email: str) -> Rep:
    """The rep with ``email``, or :class:`NotFound`."""
    address = normalize_email(email)
    rep = session.scalar(select(Rep).where(Rep.email == address))
    if rep is None:
        raise NotFound(f"no rep with email {address}; add one with `cadence reps add`")
    return rep


def list_reps(session: Session) -> list[dict[str, object]]:
    """Every rep with the number of leads they own."""
    counts = dict(
        session.execute(select(Lead.owner_id, func.count()).where(Lead.owner_id.is_not(None)).group_by(Lead.owner_id))
        .tuples()
        .all()
    )
    return [
        {
            "email": rep.email,
            "name": rep.name,
            "timezone": rep.timezone,
            "daily_email_cap": rep.daily_email_cap,
            "signature": rep.signature,
            "role": rep.role or "rep",
            "leads": counts.get(rep.id, 0),
        }
        for rep in session.scalars(select(Rep).order_by(Rep.email))
    ]


class RoundRobin:
    """Assigns leads without an owner to the active rep with the fewest leads (ties: oldest rep first).

    Over an import this deals leads out in turn, and it evens out the load across imports. Developers
    (the lead-development queue) get no new leads.
    """

    def __init__(self, session: Session) -> None:
        counts = dict(session.execute(select(Lead.owner_id, func.count()).group_by(Lead.owner_id)).tuples().all())
        self._load = {
            rep: counts.get(rep.id, 0)
            for rep in session.scalars(select(Rep).where(Rep.active, Rep.role.is_(None)).order_by(Rep.id))
        }

    def next(self) -> Rep | None:
        """The rep who gets the next lead, or None when there are no reps."""
        if not self._load:
            return None
        rep = min(self._load, key=lambda r: (self._load[r], r.id))
        self._load[rep] += 1
        return rep

    def moved(self, old: Rep | None, new: Rep | None) -> None:
        """Account for a lead changing owner outside :meth:`next`."""
        if old is not None and old in self._load:
            self._load[old] -= 1
        if new is not None and new in self._load:
            self._load[new] += 1
