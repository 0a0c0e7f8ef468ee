"""Reps: the people who own leads and receive tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Account, Lead, Rep, Task, User
from cadence.core.leads import clean_text, normalize_email, validate_timezone
from cadence.errors import AlreadyExists, InvalidTransition, NotFound, ValidationError, shown
from cadence.services import audit

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
    actor: str = audit.CLI,
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
    audit.record(session, actor, "reps.add", rep.email, {"name": rep.name, "role": role}, now=now)
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
            "active": rep.active,
            "away_from": rep.away_from.isoformat() if rep.away_from else None,
            "away_until": rep.away_until.isoformat() if rep.away_until else None,
        }
        for rep in session.scalars(select(Rep).order_by(Rep.email))
    ]


def rep_id(session: Session, email: str) -> int:
    """The id of the rep with ``email``, or :class:`NotFound`."""
    return get_rep(session, email).id


def is_away(rep: Rep, now: datetime) -> bool:
    """Whether ``rep`` is out of office at ``now`` (from ``away_from``, inclusive, until ``away_until``)."""
    return rep.away_from is not None and rep.away_until is not None and rep.away_from <= now < rep.away_until


class RoundRobin:
    """Assigns leads without an owner to the active rep with the fewest leads (ties: oldest rep first).

    With ``now``, reps out of office then get none; ``leaving`` (a rep being deactivated) gets none.

    Over an import this deals leads out in turn, and it evens out the load across imports. Developers
    (the lead-development queue) get no new leads.
    """

    def __init__(self, session: Session, *, now: datetime | None = None, leaving: Rep | None = None) -> None:
        counts = dict(session.execute(select(Lead.owner_id, func.count()).group_by(Lead.owner_id)).tuples().all())
        self._load = {
            rep: counts.get(rep.id, 0)
            for rep in session.scalars(select(Rep).where(Rep.active, Rep.role.is_(None)).order_by(Rep.id))
            if rep is not leaving and not (now is not None and is_away(rep, now))
        }

    @property
    def empty(self) -> bool:
        """True when there is no rep to give a lead to."""
        return not self._load

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


def edit_rep(
    session: Session,
    email: str,
    *,
    actor: str,
    now: datetime,
    name: str | None = None,
    signature: str | None = None,
    timezone: str | None = None,
    daily_email_cap: int | None = None,
) -> Rep:
    """Change a rep's name, signature, time zone or daily cap (None: unchanged; an empty signature clears it)."""
    rep = get_rep(session, email)
    changed: dict[str, object] = {}
    if name is not None:
        display = clean_text("name", name, max_length=200)
        if not display:
            raise ValidationError("a rep needs a name")
        changed["name"] = rep.name = display
    if signature is not None:
        if len(signature) > 2000:
            raise ValidationError("signature is longer than 2000 characters")
        rep.signature = signature.strip() or None
        changed["signature"] = "changed" if rep.signature else "cleared"
    if timezone is not None:
        changed["timezone"] = rep.timezone = validate_timezone(timezone) if timezone.strip() else None
    if daily_email_cap is not None:
        if not 1 <= daily_email_cap <= MAX_DAILY_EMAIL_CAP:
            raise ValidationError(f"daily email cap must be from 1 to {MAX_DAILY_EMAIL_CAP:,}")
        changed["daily_email_cap"] = rep.daily_email_cap = daily_email_cap
    if not changed:
        raise ValidationError("nothing to change: give --name, --signature, --timezone or --daily-email-cap")
    audit.record(session, actor, "reps.edit", rep.email, changed, now=now)
    session.flush()
    return rep


def set_away(session: Session, email: str, start: datetime, until: datetime, *, actor: str, now: datetime) -> Rep:
    """Mark a rep out of office from ``start`` until ``until``: new leads go to the other reps meanwhile."""
    rep = get_rep(session, email)
    if until <= start:
        raise ValidationError("the end of an out-of-office period must come after its start")
    if until <= now:
        raise ValidationError("that out-of-office period is over already")
    rep.away_from, rep.away_until = start, until
    audit.record(session, actor, "reps.away", rep.email, {"from": start, "until": until}, now=now)
    session.flush()
    return rep


def clear_away(session: Session, email: str, *, actor: str, now: datetime) -> Rep:
    """End a rep's out-of-office period now (or cancel one to come)."""
    rep = get_rep(session, email)
    rep.away_from = rep.away_until = None
    audit.record(session, actor, "reps.back", rep.email, now=now)
    session.flush()
    return rep


def deactivate_rep(
    session: Session, email: str, *, actor: str, now: datetime, reassign_to: str | None = None
) -> dict[str, int]:
    """Deactivate a rep: their leads and open tasks go to ``reassign_to``, or round-robin to the others.

    The accounts the rep owned go with their contacts (one owner per account). The rep's workspace account is
    disabled too. Returns how many leads and tasks moved, by new owner.
    Raises :class:`InvalidTransition` when the rep is inactive already or nobody can take the leads.
    """
    rep = get_rep(session, email)
    if not rep.active:
        raise InvalidTransition(f"{rep.email} is not active")
    target: Rep | None = None
    if reassign_to:
        target = get_rep(session, reassign_to)
        if target.id == rep.id:
            raise ValidationError("reassign the leads to another rep")
        if not target.active:
            raise InvalidTransition(f"{target.email} is not active: reassign to an active rep")
    robin = RoundRobin(session, now=now, leaving=rep)
    leads = list(session.scalars(select(Lead).where(Lead.owner_id == rep.id).order_by(Lead.id)))
    moved: dict[str, int] = {}
    new_owner: dict[int, Rep] = {}
    by_account: dict[int, Rep] = {}  # one owner per account: its contacts move together
    for lead in leads:
        owner = target or (by_account.get(lead.account_id) if lead.account_id is not None else None) or robin.next()
        if owner is None:
            raise InvalidTransition(f"no other active rep can take {rep.email}'s leads: add one first")
        lead.owner = owner
        lead.updated_at = now
        new_owner[lead.id] = owner
        if lead.account_id is not None:
            by_account.setdefault(lead.account_id, owner)
        moved[owner.email] = moved.get(owner.email, 0) + 1
    tasks = 0
    for task in session.scalars(select(Task).where(Task.owner_id == rep.id, Task.status == "open")):
        owner = new_owner.get(task.lead_id) or target or robin.next()
        if owner is None:
            raise InvalidTransition(f"no other active rep can take {rep.email}'s tasks: add one first")
        task.owner = owner
        tasks += 1
    for lead in session.scalars(select(Lead).where(Lead.home_owner_id == rep.id)):  # in lead development
        home = target or robin.next()
        if home is not None:
            lead.home_owner_id = home.id
    for company in session.scalars(select(Account).where(Account.owner_id == rep.id)):
        heir = target or by_account.get(company.id) or robin.next()
        company.owner_id = heir.id if heir is not None else None
    rep.active = False
    account = session.scalar(select(User).where(User.rep_id == rep.id))
    if account is not None:
        account.active = False
    details = {"leads": len(leads), "tasks": tasks, "to": moved or None, "round_robin": target is None}
    audit.record(session, actor, "reps.deactivate", rep.email, details, now=now)
    session.flush()
    return {"leads": len(leads), "tasks": tasks}
