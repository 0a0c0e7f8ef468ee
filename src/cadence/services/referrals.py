"""A reply that names another person: that person becomes a lead of the same owner, enrolled in the referral cadence.

The new lead is ``referred_by`` the lead who answered, joins its account and that account's owner, has
its company, time zone and country (colleagues, most often), and keeps who named it in
``custom.referred_by`` (the referrer's name) and ``custom.referred_by_email``: the referral cadence's
first email says who sent us (``{{ lead.custom.referred_by }}``). An address that is a lead already is
left as it is: it is never enrolled twice, and the referrer's timeline says so; nor is one of our reps' addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.files import load_cadences
from cadence.adapters.models import Lead, Rep
from cadence.core.events import NewReferral
from cadence.core.leads import normalize_email
from cadence.core.qualification import Kind
from cadence.errors import AlreadyExists, ConfigurationError, ValidationError
from cadence.services.stages import context_of
from cadence.services.webhooks import outbox
from cadence.settings import Settings

SOURCE = "referral"


@dataclass(frozen=True)
class Referred:
    """What became of a referral: the lead (new or found) and a note for the referrer's timeline."""

    lead: Lead | None
    created: bool
    enrolled: bool
    note: str


def add_referral(
    session: Session, referrer: Lead, referral: NewReferral, *, at: datetime, settings: Settings
) -> Referred:
    """Add the person ``referral`` names as a lead of ``referrer``'s owner and enroll it (see the module)."""
    from cadence.services.enrollments import Suppressed, start_enrollment

    try:
        address = normalize_email(referral.email)
    except ValidationError:
        return Referred(None, created=False, enrolled=False, note=f"referral to {referral.email!r}: not an address")
    if address == referrer.email:
        return Referred(None, created=False, enrolled=False, note="referral to the lead itself: nothing added")
    if session.scalar(select(Rep.id).where(Rep.email == address)) is not None:
        return Referred(None, created=False, enrolled=False, note=f"referral to {address}: one of our reps, not a lead")
    found = session.scalar(select(Lead).where(Lead.email == address))
    if found is not None:
        return Referred(found, created=False, enrolled=False, note=f"referral to {address}: a lead already, left as is")
    first, _, last = _printable(referral.name or "").partition(" ")
    lead = Lead(
        email=address,
        first_name=first[:100] or None,
        last_name=last.strip()[:100] or None,
        phone=_printable(referral.phone or "")[:60] or None,
        company=referrer.company,
        timezone=referrer.timezone,
        country=referrer.country,
        source=SOURCE,
        interactions=0,
        custom={"referred_by": _name(referrer), "referred_by_email": referrer.email},
        owner_id=_account_owner(session, referrer),
        kind=Kind.LEAD.value,
        status=Kind.LEAD.value,
        persona_fit=referrer.persona_fit,
        inbound=False,
        source_rank=referrer.source_rank,
        lead_class=referrer.lead_class,
        priority=referrer.priority,
        cadence=referral.cadence,
        referred_by_id=referrer.id,
        account_id=referrer.account_id,  # a colleague, most often: the same account, worked by its owner
        created_at=at,
        updated_at=at,
    )
    session.add(lead)
    session.flush()
    outbox.record(session, outbox.lead_events(lead, created=True, qualified=True, at=at))
    ctx = context_of(session)  # the cadences as saved in the template store, when the session has a context
    cadences = ctx.cadences if ctx is not None else load_cadences(settings.templates_dir)
    cadence = cadences.get(referral.cadence)
    if cadence is None:
        raise ConfigurationError(f"no cadence named {referral.cadence!r} for referrals: add it to the cadences folder")
    try:
        start_enrollment(session, lead, cadence, now=at, settings=settings)
    except (Suppressed, AlreadyExists) as exc:
        return Referred(lead, created=True, enrolled=False, note=f"referral to {address}: added, not enrolled ({exc})")
    return Referred(lead, created=True, enrolled=True, note=f"referral to {address}: added, enrolled in {cadence.name}")


def _account_owner(session: Session, referrer: Lead) -> int | None:
    """The owner of the referrer's account (one owner per account), else the referrer's own."""
    from cadence.adapters.models import Account

    account = session.get(Account, referrer.account_id) if referrer.account_id is not None else None
    return account.owner_id if account is not None and account.owner_id is not None else referrer.owner_id


def _printable(text: str) -> str:
    """``text`` on one line, without control characters (it ends up in email headers)."""
    return " ".join("".join(c for c in text if c.isprintable()).split())[:200]


def _name(lead: Lead) -> str:
    return lead.label
