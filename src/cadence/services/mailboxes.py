"""Sending mailboxes: a rep's own mailboxes, their caps, ramp-up and pacing, paused and resumed by hand.

A rep with at least one mailbox sends every email of its leads from one of them (the one stored on
the enrollment, chosen at its first email: the owner's active mailbox with the fewest leads under
way); a rep without any sends through the global SMTP server (``CADENCE_SMTP_*``) as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Enrollment, Rep, SendingMailbox, Touch
from cadence.core.leads import normalize_email
from cadence.core.pacing import Ramp, daily_allowance, describe_rate, spacing
from cadence.core.schedule import local_instant
from cadence.core.touch_states import MAY_HAVE_GONE_OUT, TouchState
from cadence.errors import NotFound
from cadence.services import audit
from cadence.services.mailbox_fields import MailboxFields, TlsMode, check
from cadence.settings import Settings

PAUSED_RECHECK = timedelta(hours=1)
"""How often an email waiting for a paused mailbox or cadence is looked at again (it stays due)."""


@dataclass(frozen=True)
class ImapOptions:
    """A mailbox's own inbox as given (all None: it has none; its replies reach the shared mailbox)."""

    host: str | None = None
    port: int | str | None = None
    tls: str = "tls"
    username: str | None = None
    password_block: str | None = None
    folder: str | None = None


@dataclass(frozen=True)
class MailboxRoute:
    """Where one email goes out: the mailbox's address (From and envelope) and its SMTP server."""

    id: int
    address: str
    host: str
    port: int
    tls: TlsMode
    username: str | None
    password_block: str | None


def route(mailbox: SendingMailbox) -> MailboxRoute:
    """The route of ``mailbox``."""
    tls: TlsMode = "tls" if mailbox.smtp_tls == "tls" else "starttls" if mailbox.smtp_tls == "starttls" else "none"
    return MailboxRoute(mailbox.id, mailbox.address, mailbox.smtp_host, mailbox.smtp_port, tls,
                        mailbox.smtp_username, mailbox.password_block)  # fmt: skip


def ramp_of(mailbox: SendingMailbox) -> Ramp | None:
    """The mailbox's ramp-up, if it has one."""
    if mailbox.ramp_start is None or mailbox.ramp_step is None or mailbox.ramp_max is None:
        return None
    return Ramp(mailbox.ramp_start, mailbox.ramp_step, mailbox.ramp_max)


def mailbox_zone(mailbox: SendingMailbox, settings: Settings) -> ZoneInfo:
    """The time zone of the mailbox's days (its rep's, else the default)."""
    return ZoneInfo(mailbox.rep.timezone or settings.default_timezone)


def sending_day(mailbox: SendingMailbox, today: date) -> int:
    """The mailbox's sending day number on ``today`` (0 on the day of its first email, and before it)."""
    return 0 if mailbox.first_sent_on is None else max(0, (today - mailbox.first_sent_on).days)


def allowance_on(mailbox: SendingMailbox, today: date) -> int:
    """The emails the mailbox may send on its local day ``today`` (cap, or ramp-up value)."""
    return daily_allowance(mailbox.daily_cap, ramp_of(mailbox), sending_day(mailbox, today))


def sent_on(session: Session, mailbox: SendingMailbox, day: date, settings: Settings) -> int:
    """The emails that may have gone out from ``mailbox`` on its local ``day``."""
    zone = mailbox_zone(mailbox, settings)
    start = local_instant(day, datetime.min.time(), zone)
    end = local_instant(day + timedelta(days=1), datetime.min.time(), zone)
    count = session.scalar(
        select(func.count())
        .select_from(Touch)
        .where(
            Touch.mailbox_id == mailbox.id,
            Touch.state.in_(sorted(MAY_HAVE_GONE_OUT)),
            Touch.executed_at >= start,
            Touch.executed_at < end,
        )
    )
    return count or 0


def add_mailbox(
    session: Session,
    address: str,
    *,
    rep_email: str,
    smtp_host: str,
    now: datetime,
    daily_cap: int | str | None,
    smtp_port: int | str | None = 587,
    smtp_tls: str = "starttls",
    smtp_username: str | None = None,
    password_block: str | None = None,
    per_minute: int | str | None = None,
    ramp: str | None = None,
    imap: ImapOptions | None = None,
    actor: str = audit.CLI,
) -> SendingMailbox:
    """Add a sending mailbox for a rep (a removed mailbox of the same address comes back with these settings).

    Every field is checked by :func:`cadence.services.mailbox_fields.check` (:class:`InvalidMailbox` names
    each wrong one); ``imap``: its own inbox, read for replies. The change is written to the audit log.
    """
    i = imap or ImapOptions()
    checked = check(session, MailboxFields(
        address=address, rep=rep_email, smtp_host=smtp_host, daily_cap=daily_cap, smtp_port=smtp_port,
        smtp_tls=smtp_tls, smtp_username=smtp_username, password_block=password_block, per_minute=per_minute,
        ramp=ramp, imap_host=i.host, imap_port=i.port, imap_tls=i.tls, imap_username=i.username,
        imap_password_block=i.password_block, imap_folder=i.folder,
    ))  # fmt: skip
    mailbox = checked.existing or SendingMailbox(address=checked.address, created_at=now)
    mailbox.rep_id = checked.rep.id
    mailbox.rep = checked.rep
    mailbox.smtp_host = checked.smtp_host
    mailbox.smtp_port = checked.smtp_port
    mailbox.smtp_tls = checked.smtp_tls
    mailbox.smtp_username = checked.smtp_username
    mailbox.password_block = checked.password_block
    mailbox.daily_cap = checked.daily_cap
    mailbox.per_minute = checked.per_minute
    parsed = checked.ramp
    mailbox.ramp_start, mailbox.ramp_step, mailbox.ramp_max = (
        (parsed.start, parsed.step, parsed.maximum) if parsed else (None, None, None)
    )
    box = checked.imap
    mailbox.imap_host, mailbox.imap_port, mailbox.imap_tls = (
        (box.host, box.port, box.tls) if box else (None, None, None)
    )
    mailbox.imap_username, mailbox.imap_folder, mailbox.imap_password_block = (
        (box.username, box.folder, box.password_block) if box else (None, None, None)
    )
    mailbox.state = "active"
    mailbox.paused_reason = None
    mailbox.paused_at = None
    if checked.existing is None:
        session.add(mailbox)
    session.flush()
    details: dict[str, Any] = {
        "rep": checked.rep.email, "smtp": f"{mailbox.smtp_host}:{mailbox.smtp_port}", "daily_cap": mailbox.daily_cap,
        "imap": f"{box.host}:{box.port} {box.folder}" if box else None, "again": checked.existing is not None,
    }  # fmt: skip
    audit.record(session, actor, "mailboxes.add", mailbox.address, details, now=now)
    return mailbox


def get_mailbox(session: Session, address: str) -> SendingMailbox:
    """The mailbox with ``address`` (not removed), or :class:`NotFound`."""
    email = normalize_email(address)
    mailbox = session.scalar(
        select(SendingMailbox).where(SendingMailbox.address == email, SendingMailbox.state != "removed")
    )
    if mailbox is None:
        raise NotFound(f"no sending mailbox {email}; add one with `cadence mailboxes add`")
    return mailbox


def pause_mailbox(session: Session, address: str, *, now: datetime, reason: str) -> SendingMailbox:
    """Pause a mailbox: its emails stay due and wait until it is resumed."""
    mailbox = get_mailbox(session, address)
    mailbox.state = "paused"
    mailbox.paused_reason = reason[:2000]
    mailbox.paused_at = now
    return mailbox


def resume_mailbox(session: Session, address: str, *, now: datetime) -> SendingMailbox:
    """Resume a paused mailbox: the emails that waited for it go within the hour, each at its lead's next slot.

    From ``now`` on, the bounce guard counts its sends afresh.
    """
    mailbox = get_mailbox(session, address)
    if mailbox.state == "paused":
        mailbox.guard_since = now
    mailbox.state = "active"
    mailbox.paused_reason = None
    mailbox.paused_at = None
    return mailbox


def open_leads(session: Session, mailbox_ids: list[int]) -> dict[int, int]:
    """The enrollments under way of each mailbox."""
    if not mailbox_ids:
        return {}
    rows = session.execute(
        select(Enrollment.mailbox_id, func.count())
        .where(Enrollment.mailbox_id.in_(mailbox_ids), Enrollment.state.in_(("active", "paused", "responded")))
        .group_by(Enrollment.mailbox_id)
    ).tuples()
    return {mailbox_id: count for mailbox_id, count in rows if mailbox_id is not None}


def bounce_record(session: Session, mailbox: SendingMailbox, sends: int) -> tuple[int, int]:
    """(hard bounces, sends) among the mailbox's last ``sends`` emails that went out or bounced (since its last
    resume by hand)."""
    states = sorted({*MAY_HAVE_GONE_OUT, TouchState.BOUNCED})
    since = mailbox.guard_since or datetime(1970, 1, 1, tzinfo=UTC)
    last = list(
        session.scalars(
            select(Touch.state)
            .where(Touch.mailbox_id == mailbox.id, Touch.state.in_(states), Touch.executed_at >= since)
            .order_by(Touch.id.desc())  # the newest first, through the primary key: no sort of the history
            .limit(sends)
        )
    )
    return sum(1 for s in last if s == TouchState.BOUNCED), len(last)


def list_mailboxes(session: Session, *, now: datetime, settings: Settings) -> list[dict[str, Any]]:
    """Every mailbox not removed: owner, server, caps, today's allowance and sends, pacing, state."""
    mailboxes = list(
        session.scalars(
            select(SendingMailbox).where(SendingMailbox.state != "removed").order_by(SendingMailbox.address)
        )
    )
    leads = open_leads(session, [m.id for m in mailboxes])
    rows: list[dict[str, Any]] = []
    for m in mailboxes:
        today = now.astimezone(mailbox_zone(m, settings)).date()
        allowance = allowance_on(m, today)
        bounced, sends = bounce_record(session, m, settings.bounce_guard_sends)
        rows.append(
            {
                "address": m.address,
                "rep": m.rep.email,
                "smtp": f"{m.smtp_host}:{m.smtp_port} ({m.smtp_tls})",
                "password_block": m.password_block,
                "inbox": f"{m.imap_folder} of {m.imap_username or m.address} on {m.imap_host}:{m.imap_port}"
                if m.imap_host
                else None,
                "daily_cap": m.daily_cap,
                "per_minute": m.per_minute,
                "ramp": str(ramp_of(m)) if ramp_of(m) else None,
                "today_allowed": allowance,
                "today_sent": sent_on(session, m, today, settings),
                "rate": rate_text(m, today, settings),
                "leads_under_way": leads.get(m.id, 0),
                "recent_bounces": f"{bounced}/{sends}",
                "state": m.state,
                "paused_reason": m.paused_reason,
            }
        )
    return rows


def rate_text(mailbox: SendingMailbox, today: date, settings: Settings, window: timedelta = timedelta(hours=9)) -> str:
    """The rate the mailbox's schedule allows on ``today``, in words (``window``: the send window's length)."""
    allowance = allowance_on(mailbox, today)
    every = spacing(window, allowance, minimum=timedelta(seconds=settings.pacing_min_seconds),
                    per_minute=mailbox.per_minute)  # fmt: skip
    text = describe_rate(allowance, every)
    return f"{text} (paused)" if mailbox.state == "paused" else text


def owner_mailboxes(session: Session, rep_ids: list[int], *, lock: bool = False) -> dict[int, list[SendingMailbox]]:
    """The mailboxes (active or paused) of each of ``rep_ids`` (``lock``: locked until the transaction ends)."""
    if not rep_ids:
        return {}
    found: dict[int, list[SendingMailbox]] = {}
    query = (
        select(SendingMailbox)
        .where(SendingMailbox.rep_id.in_(rep_ids), SendingMailbox.state != "removed")
        .order_by(SendingMailbox.id)
    )
    if lock:
        query = query.with_for_update(of=SendingMailbox).execution_options(populate_existing=True)
    for m in session.scalars(query).unique():
        found.setdefault(m.rep_id, []).append(m)
    return found


def rate_for_owner(
    session: Session, owner: Rep | None, *, now: datetime, settings: Settings, window: timedelta = timedelta(hours=9)
) -> list[str]:
    """For ``cadence plan`` and ``due``: each of the owner's mailboxes and the rate its schedule allows today
    (``window``: the length of the send window its emails share)."""
    if owner is None:
        return []
    lines = []
    for m in owner_mailboxes(session, [owner.id]).get(owner.id, []):
        today = now.astimezone(mailbox_zone(m, settings)).date()
        sent = sent_on(session, m, today, settings)
        lines.append(f"{m.address} ({owner.email}): {rate_text(m, today, settings, window)}; sent today {sent}")
    return lines


def rates_today(session: Session, *, now: datetime, settings: Settings) -> list[str]:
    """For ``cadence due``: every mailbox and the rate its schedule allows today."""
    reps = session.scalars(select(Rep).where(Rep.id.in_(select(SendingMailbox.rep_id))).order_by(Rep.email))
    return [line for rep in reps for line in rate_for_owner(session, rep, now=now, settings=settings)]
