"""The sending mailboxes' gate: which of a batch's emails leave now, and from which of their owner's mailboxes.

Run by :func:`cadence.services.advance.intake.take` after the owners' daily caps. An email whose
owner has no mailbox goes through the global SMTP server, untouched. The others leave from the
mailbox stored on their enrollment (chosen at its first email: the owner's active mailbox with the
fewest leads under way), when that mailbox may send now (:func:`cadence.core.pacing.verdict`): not
paused, its day's allowance (cap or ramp-up) not used, its next send time reached. An email that
may not go is given back and stays due: at the mailbox's next send time, its next local day, or an
hour later while the mailbox or its cadence is paused. Nothing is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import CadencePause, Enrollment, SendingMailbox, Touch
from cadence.core.pacing import Gate, floor_interval, interval, spacing, verdict
from cadence.core.schedule import local_instant
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.services.context import Context
from cadence.services.mailboxes import (
    PAUSED_RECHECK,
    allowance_on,
    mailbox_zone,
    open_leads,
    owner_mailboxes,
    route,
    sent_on,
)


def _wait(session: Session, ctx: Context, item: WorkItem, earliest: datetime, report: RunReport) -> None:
    """Give the claim back; the step is due again at the lead's first slot from ``earliest``."""
    from cadence.services.advance.intake import give_back

    enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
    cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
    enrollment.next_due_at = calendar_for(enrollment.lead, cadence, ctx.settings).next_slot(earliest)
    give_back(session, session.get_one(Touch, item.claim.touch_id))
    report.paced += 1


def hold_paused_cadences(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Keep back the emails of cadences the bounce guard paused: due again an hour later, until resumed by hand."""
    if not items:
        return items
    paused = set(session.scalars(select(CadencePause.cadence_name).where(CadencePause.resumed_at.is_(None))))
    if not paused:
        return items
    kept: list[WorkItem] = []
    for item in items:
        if item.cadence_key is not None and item.cadence_key[0] in paused:
            _wait(session, ctx, item, now + PAUSED_RECHECK, report)
        else:
            kept.append(item)
    return kept


def apply_mailbox_gate(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Route each email to its owner's mailbox and keep each mailbox within its caps, ramp-up and pacing.

    ``items`` come in the order they should go (priority, then due time); what is returned goes now.
    """
    owner_ids = sorted({i.owner_id for i in items if i.owner_id is not None})
    owners = owner_mailboxes(session, owner_ids, lock=True) if owner_ids else {}
    if not owners:
        return items
    settings = ctx.settings
    load = open_leads(session, [m.id for mailboxes in owners.values() for m in mailboxes])
    sent: dict[int, int] = {}
    kept: list[WorkItem] = []
    for item in items:
        mailboxes = owners.get(item.owner_id) if item.owner_id is not None else None
        if not mailboxes:
            kept.append(item)
            continue
        enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
        mailbox = next((m for m in mailboxes if m.id == enrollment.mailbox_id), None)
        if mailbox is None:
            active = [m for m in mailboxes if m.state == "active"]
            if not active:
                _wait(session, ctx, item, now + PAUSED_RECHECK, report)
                continue
            mailbox = min(active, key=lambda m: (load.get(m.id, 0), m.id))
            enrollment.mailbox_id = mailbox.id
            load[mailbox.id] = load.get(mailbox.id, 0) + 1
        if mailbox.state != "active":
            _wait(session, ctx, item, now + PAUSED_RECHECK, report)
            continue
        zone = mailbox_zone(mailbox, settings)
        today = now.astimezone(zone).date()
        if mailbox.id not in sent:
            sent[mailbox.id] = sent_on(session, mailbox, today, settings)
        allowance = allowance_on(mailbox, today)
        said = verdict(Gate(allowance, sent[mailbox.id], mailbox.next_send_at), now)
        if said == "day_used":
            _wait(session, ctx, item, local_instant(today + timedelta(days=1), datetime.min.time(), zone), report)
            continue
        if said == "paced":
            assert mailbox.next_send_at is not None  # paced means a next send time in the future
            _wait(session, ctx, item, mailbox.next_send_at, report)
            continue
        _take_turn(ctx, mailbox, item, now, allowance, session)
        if mailbox.first_sent_on is None:
            mailbox.first_sent_on = today
        sent[mailbox.id] += 1
        session.get_one(Touch, item.claim.touch_id).mailbox_id = mailbox.id
        item.mailbox = route(mailbox)
        kept.append(item)
    return kept


def _take_turn(
    ctx: Context, mailbox: SendingMailbox, item: WorkItem, now: datetime, allowance: int, session: Session
) -> None:
    """The mailbox sends ``item`` now: its next send time is one jittered interval later."""
    assert item.cadence_key is not None  # set when loaded
    window = pinned_cadence(session, *item.cadence_key).settings
    length = datetime.combine(now.date(), window.window_end) - datetime.combine(now.date(), window.window_start)
    minimum = timedelta(seconds=ctx.settings.pacing_min_seconds)
    base = spacing(length, allowance, minimum=minimum, per_minute=mailbox.per_minute)
    floor = floor_interval(minimum, mailbox.per_minute)
    draw = ctx.pacing_random.random()
    mailbox.next_send_at = now + interval(base, jitter=ctx.settings.pacing_jitter, draw=draw, floor=floor)
