"""One page of the leads list: filtered by status, owner and the start of the address, in (priority, email) order.

The list reads at most a page of rows whatever the number of leads: the order is the one of the
indexes ``ix_leads_*_priority_email`` (priority, NULLs last, then address; leads known by phone
only last), the next page starts after the last lead shown (keyset pagination: no OFFSET, which
would read every row it skips), and the number of leads is counted up to :data:`COUNT_CAP` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Rep
from cadence.services.lead_views import lead_summary

PAGE_SIZE = 100
"""How many leads one page of the list shows."""
COUNT_CAP = 10_000
"""The list counts its leads up to this number; beyond, it says "more than 10,000"."""
SEARCH_CHARS = 320


@dataclass(frozen=True)
class LeadPage:
    """One page of leads, the count of all that match (up to :data:`COUNT_CAP`) and where the next page starts."""

    rows: list[dict[str, Any]]
    total: int
    """How many leads match, counted up to :data:`COUNT_CAP` (then it is :data:`COUNT_CAP`)."""
    capped: bool
    """True when more than :data:`COUNT_CAP` leads match."""
    next_after: str | None
    """The lead the next page starts after (its address, or ``#ID``), or None on the last page."""


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: Select[Any], *, status: str | None, owner_id: int | None, search: str | None) -> Select[Any]:
    if status:
        query = query.where(Lead.status == status)
    if owner_id is not None:
        query = query.where(Lead.owner_id == owner_id)
    if search:
        # a range on the address index, and LIKE to keep exactly the addresses that begin with the text
        query = query.where(
            Lead.email >= search,
            Lead.email < search + "\U0010ffff",
            Lead.email.like(_escape_like(search) + "%", escape="\\"),
        )
    return query


def _after(session: Session, reference: str) -> Any:
    """The condition "comes after the lead ``reference``" (its address, or ``#ID``) in the list's order (None when
    there is no such lead). Leads without an address (known by phone) come last within their priority, by id."""
    by = Lead.id == int(reference[1:]) if reference[1:].isdigit() and reference[0] == "#" else Lead.email == reference
    found = session.execute(select(Lead.priority, Lead.email, Lead.id).where(by)).first()
    if found is None:
        return None
    priority, email, lead_id = found
    if email is not None:
        within = or_(Lead.email > email, Lead.email.is_(None))
    else:
        within = and_(Lead.email.is_(None), Lead.id > lead_id)
    if priority is None:
        return and_(Lead.priority.is_(None), within)
    if email is not None:  # the row comparison lets the index start at the lead
        later = tuple_(Lead.priority, Lead.email) > tuple_(literal(priority), literal(email))
        return or_(later, and_(Lead.priority == priority, Lead.email.is_(None)), Lead.priority.is_(None))
    return or_(Lead.priority > priority, Lead.priority.is_(None), and_(Lead.priority == priority, within))


def lead_page(
    session: Session,
    *,
    status: str | None = None,
    owner_id: int | None = None,
    search: str | None = None,
    after: str | None = None,
    size: int = PAGE_SIZE,
) -> LeadPage:
    """The leads of ``status`` and ``owner_id`` whose address begins with ``search``, after the lead ``after``.

    ``search`` is lowered (addresses are stored in lower case) and cut to 320 characters; an
    ``after`` that is no lead starts at the first page.
    """
    search = (search or "").strip().lower()[:SEARCH_CHARS] or None
    status = (status or "").strip().lower() or None
    query = _filtered(select(Lead), status=status, owner_id=owner_id, search=search)
    position = _after(session, after.strip().lower()) if after and after.strip() else None
    if position is not None:
        query = query.where(position)
    query = query.order_by(Lead.priority.asc().nulls_last(), Lead.email.asc().nulls_last(), Lead.id).limit(size + 1)
    leads = list(session.scalars(query))
    counted = _filtered(select(Lead.id), status=status, owner_id=owner_id, search=search).limit(COUNT_CAP + 1)
    total = int(session.scalar(select(func.count()).select_from(counted.subquery())) or 0)
    shown = leads[:size]
    return LeadPage(
        rows=[lead_summary(lead) for lead in shown],
        total=min(total, COUNT_CAP),
        capped=total > COUNT_CAP,
        next_after=shown[-1].reference if len(leads) > size else None,
    )


def rep_choices(session: Session) -> list[dict[str, object]]:
    """Every rep's address and name, by address: what a filter offers (no counts: they would read every lead)."""
    return [
        {"email": email, "name": name}
        for email, name in session.execute(select(Rep.email, Rep.name).order_by(Rep.email)).tuples()
    ]
