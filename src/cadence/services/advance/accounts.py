"""The account gate of intake: colleagues at one account are worked a few at a time, one email a local day.

Two rules of the cadence file's settings, applied set-based to a claimed batch (one query each):

- **at most ``account_max_active`` contacts of an account in automated steps at once** (default 3): a
  contact whose first step is due while that many colleagues have started waits a day, and again,
  until one of them answers, is decided or runs out (the rest of the account is *queued*);
- **no two contacts of one account emailed on the same local day** (the day in the contact's time
  zone): an email is moved to the next day's slot when a colleague's email went out (or is on its
  way) that day, or when a colleague's email in the same batch comes first (by priority, then due time).

Runs taking steps of the same account take turns: the gate locks the accounts' rows, so that what
one run hands over is seen by the next. A step moved here is given back, as a capped one is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Account, Enrollment, Lead, Touch
from cadence.core.cadences import Channel
from cadence.core.event_data import MAY_HAVE_GONE_OUT
from cadence.core.events import TouchState
from cadence.core.schedule import LeadCalendar
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.services.context import Context

ON_THEIR_WAY = sorted({*MAY_HAVE_GONE_OUT, TouchState.CLAIMED})
"""An email of a colleague counts from its claim: another run may hand it over any moment."""


def space_account_contacts(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Keep the batch's steps that the account rules allow now; move the others to the next day (see the module)."""
    lead_ids = sorted({item.claim.lead_id for item in items})
    if not lead_ids:
        return items
    account_of: dict[int, int] = {
        lead_id: account_id
        for lead_id, account_id in session.execute(
            select(Lead.id, Lead.account_id).where(Lead.id.in_(lead_ids), Lead.account_id.is_not(None))
        ).tuples()
        if account_id is not None
    }
    accounts = sorted(set(account_of.values()))
    if not accounts:
        return items
    session.execute(select(Account.id).where(Account.id.in_(accounts)).order_by(Account.id).with_for_update())
    emailed = _emails_since(session, accounts, since=now - timedelta(days=2), batch={i.claim.touch_id for i in items})
    started = _started(session, accounts)
    kept: list[WorkItem] = []
    emailing: dict[int, int] = {}  # account -> the contact it emails in this batch
    for item in sorted(items, key=lambda i: (i.lead_priority, i.claim.due_at, i.claim.touch_id)):
        account = account_of.get(item.claim.lead_id)
        if account is None:
            kept.append(item)
            continue
        enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        calendar = calendar_for(enrollment.lead, cadence, ctx.settings)
        if item.claim.step_index == 0 and enrollment.next_step == 0:
            if started.get(account, 0) >= cadence.settings.account_max_active:
                _next_day(session, enrollment, item, calendar, now, report)
                continue
            started[account] = started.get(account, 0) + 1
        if item.step.channel == Channel.EMAIL:
            today = calendar.local_date(now)
            others = [when for lead, when in emailed.get(account, []) if lead != item.claim.lead_id]
            if emailing.get(account, item.claim.lead_id) != item.claim.lead_id or any(
                calendar.local_date(when) == today for when in others
            ):
                _next_day(session, enrollment, item, calendar, now, report)
                continue
            emailing[account] = item.claim.lead_id
        kept.append(item)
    return kept


def _emails_since(
    session: Session, accounts: list[int], *, since: datetime, batch: set[int]
) -> dict[int, list[tuple[int, datetime]]]:
    """By account: (contact, when) of each email that went out or is on its way since ``since``, this batch's aside."""
    when = func.coalesce(Touch.executed_at, Touch.claimed_at)
    rows = session.execute(
        select(Lead.account_id, Touch.lead_id, when, Touch.id)
        .join(Lead, Lead.id == Touch.lead_id)
        .where(
            Lead.account_id.in_(accounts),
            Touch.channel == Channel.EMAIL.value,
            Touch.state.in_(ON_THEIR_WAY),
            when >= since,
        )
    ).tuples()
    found: dict[int, list[tuple[int, datetime]]] = {}
    for account_id, lead_id, at, touch_id in rows:
        if account_id is not None and at is not None and touch_id not in batch:
            found.setdefault(account_id, []).append((lead_id, _aware(at)))
    return found


def _aware(value: datetime) -> datetime:
    """``coalesce`` loses the column type: read a naive UTC value back as aware."""
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _started(session: Session, accounts: list[int]) -> dict[int, int]:
    """By account: its contacts in automated steps (an active enrollment past its first step)."""
    rows = session.execute(
        select(Lead.account_id, func.count())
        .select_from(Enrollment)
        .join(Lead, Lead.id == Enrollment.lead_id)
        .where(Lead.account_id.in_(accounts), Enrollment.state == "active", Enrollment.next_step > 0)
        .group_by(Lead.account_id)
    ).tuples()
    return {account_id: count for account_id, count in rows if account_id is not None}


def _next_day(
    session: Session, enrollment: Enrollment, item: WorkItem, calendar: LeadCalendar, now: datetime, report: RunReport
) -> None:
    """Give the step back: due at the lead's first slot of the next day."""
    from cadence.services.advance.intake import give_back

    next_day = calendar.local_date(now) + timedelta(days=1)
    enrollment.next_due_at = calendar.next_slot(calendar.start_of_day(next_day))
    give_back(session, session.get_one(Touch, item.claim.touch_id))
    report.deferred += 1
