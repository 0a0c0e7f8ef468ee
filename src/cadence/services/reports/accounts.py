"""The accounts section: accounts touched, accounts with two or more engaged contacts, meetings per account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Account, Lead
from cadence.services.reports.rules import MEETING_OUTCOMES
from cadence.services.reports.scope import Scope, to_int

MAX_LISTED = 50


def accounts(session: Session, scope: Scope, chosen: Subquery) -> dict[str, Any]:
    """Accounts of the period's enrollments: touched (a contact contacted), engaged (two or more contacts
    responded), and the meetings of each account with one (the ``chosen`` decisions)."""
    f = scope.facts.c
    per_account = (
        select(
            Lead.account_id.label("account_id"),
            func.count(func.distinct(f.lead_id)).filter(f.contacted == 1).label("contacted"),
            func.count(func.distinct(f.lead_id)).filter(f.first_at.is_not(None)).label("engaged"),
            func.count(func.distinct(f.lead_id))
            # An enrollment's latest decision is always among the chosen ones (:func:`.decisions.chosen_decisions`):
            # testing that it has one is the same, where an IN over every chosen decision ran once per row.
            .filter(f.outcome.in_(MEETING_OUTCOMES), f.decision_id.is_not(None))
            .label("meetings"),
        )
        .join(Lead, Lead.id == f.lead_id)
        .where(Lead.account_id.is_not(None))
        .group_by(Lead.account_id)
        .subquery()
    )
    a = per_account.c
    touched, engaged, meetings = session.execute(
        select(
            func.count().filter(a.contacted > 0),
            func.count().filter(a.engaged >= 2),
            func.coalesce(func.sum(a.meetings), 0),
        )
    ).one()
    listed = session.execute(
        select(Account.name, Account.domain, Account.key, a.meetings, a.engaged)
        .join(per_account, a.account_id == Account.id)
        .where(a.meetings > 0)
        .order_by(a.meetings.desc(), Account.id)
        .limit(MAX_LISTED)
    ).tuples()
    return {
        "touched": to_int(touched),
        "engaged_two_or_more": to_int(engaged),
        "meetings": to_int(meetings),
        "meetings_per_touched_account": round(to_int(meetings) / to_int(touched), 2) if touched else None,
        "with_meetings": [
            {"account": name or domain or key.split(":", 1)[-1], "meetings": to_int(m), "engaged": to_int(e)}
            for name, domain, key, m, e in listed
        ],
    }
