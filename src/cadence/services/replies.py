"""Reading the replies mailbox: a reply stops the lead's cadence, an out-of-office pauses it, a bounce
or an unsubscribe ends it.

:func:`sync_replies` reads the new messages of one IMAP folder of one inbox (the shared replies
mailbox, ``CADENCE_IMAP_*``, or a sending mailbox's own: :mod:`cadence.services.reply_sources`;
:mod:`cadence.services.reply_runs` reads them all), classifies each (:mod:`cadence.core.inbound`) and
acts on it, each message in a transaction of its own together with its
:class:`~cadence.adapters.models.InboundMessage` row. That row's unique key (inbox, folder, UIDVALIDITY,
UID) makes each message processed at most once, even by overlapping runs; a message whose
transaction fails leaves no row, is reported, and is read again by the next run. When the folder's
UIDVALIDITY changes, its UIDs mean nothing any more: the folder is read again from UID 1, skipping
messages whose Message-ID was processed already.

What each message means is the rule of :mod:`cadence.core.events`, applied by
:func:`~cadence.services.enrollments.handle` as on every other path; this module matches messages
to leads:

* **reply** (:class:`~cadence.core.events.Responded`): matched to its lead by In-Reply-To/References
  against our Message-IDs, else by the sender's address. The lead's automated steps stop, and what
  the reply says (:func:`cadence.core.intent.read_message`: its intent, confidence and evidence,
  kept on the message's row and shown on the lead's timeline) decides what follows: the owner's
  task to answer and book, a snooze until the date named, a referred lead, a decision and a
  suppression, or a review task (the table of :mod:`cadence.core.events`). A reply read as an
  out-of-office follows the automatic reply's rule; an automatic reply saying the person left and
  naming who to contact instead is taken as a referral (or ``wrong_person``), not as an absence.
  A reply nobody can be matched to is recorded and reported as unmatched; nothing else changes.
* **auto_reply** (:class:`~cadence.core.events.AutoReply`): an active enrollment is paused until the
  return date the message names (at the start of the cadence's send window, in the lead's time
  zone), else for ``auto_reply_pause_days``. The note goes on the lead's timeline.
* **bounce** (:class:`~cadence.core.events.BounceNotice`, permanent): only when it returns an email
  we sent (our Message-ID in it, or its signed VERP envelope address) to the address it names: that
  lead's address is suppressed and the lead gets the decision ``bounced``, unless it was decided
  since it was enrolled.
* **unsubscribe** (:class:`~cadence.core.events.Unsubscribed`): from the lead's own address only, the
  lead's address is suppressed and it gets the decision ``unsubscribed``, unless it was decided since.
* **meeting** (:class:`~cadence.core.events.MeetingBooked`): a message with a calendar part
  (``text/calendar``, an ``.ics`` attachment), matched to its lead as a reply is, whose calendar
  names the lead's own address as :func:`cadence.core.meetings.meeting_with` requires (an invitation
  it sent or is invited to, an invitation it accepted): the decision ``meeting_booked`` with the
  meeting's start and the owner's task to qualify before it (:mod:`cadence.services.meetings`). A
  calendar that books nothing (cancelled, declined, naming someone else) is a reply the owner reads:
  its intent is not acted on, since "Declined: ..." says nothing of the lead's interest.

Inbound mail is evidence, not authority, whichever inbox it was read from: a reply, out-of-office
or unsubscribe from another address than the lead's, or one our receiving server did not
authenticate (``CADENCE_TRUSTED_AUTHSERV_ID``), and a bounce of no email of ours, are kept as kind
``review`` with why (``cadence inbound review``), and nothing is done.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.calendar import calendar_events
from cadence.adapters.imap import FETCH_BATCH, ImapConfig, ImapMailbox
from cadence.adapters.models import InboundMessage, Lead, Rep, SendingMailbox, Touch
from cadence.core.enrollment import State
from cadence.core.events import AutoReply, BounceNotice, Responded, Unsubscribed
from cadence.core.inbound import Inbound, addresses, classify, headers
from cadence.core.inbound.authentication import Verdict, verdict
from cadence.core.intent import Reading, read_message
from cadence.core.leads import normalize_email
from cadence.core.meetings import CalendarEvent, meeting_with
from cadence.core.questions import DEFAULT_QUESTIONS, Question
from cadence.core.tokens import touch_of_bounce_token
from cadence.errors import ValidationError
from cadence.services import reply_state
from cadence.services.context import Context
from cadence.services.enrollments import handle
from cadence.services.meetings import record_meeting
from cadence.services.reply_sources import ReplySource, shared_source
from cadence.services.suppression import suppress
from cadence.settings import Settings

UNSUBSCRIBE_REASON = "unsubscribe by email"
COMPLAINT_REASON = "marked our email as spam"

MailboxFactory = Callable[[ImapConfig], ImapMailbox]


@dataclass
class SyncReport:
    """What one ``sync-replies`` run read and did."""

    folder: str = ""
    mailbox: str = ""
    """Which inbox: the shared replies mailbox, or a sending mailbox's."""
    uidvalidity: int | None = None
    restarted: bool = False
    """True when the folder's UIDVALIDITY changed and it was read again from UID 1."""
    last_uid: int = 0
    fetched: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    """Messages processed, by kind: reply, auto_reply, bounce, unsubscribe, ignored, duplicate."""
    unmatched: int = 0
    replies: int = 0
    tasks: int = 0
    paused: int = 0
    suppressed: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)
    """Messages processed, by what they say (:data:`cadence.core.intent.INTENTS`)."""
    snoozed: int = 0
    referred: int = 0
    """Leads added from referrals."""
    errors: list[str] = field(default_factory=list)
    unmatched_senders: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        """Messages processed by this run (duplicates included)."""
        return sum(self.kinds.values())

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (the flow's result)."""
        return {
            "mailbox": self.mailbox,
            "folder": self.folder,
            "uidvalidity": self.uidvalidity,
            "restarted": self.restarted,
            "last_uid": self.last_uid,
            "fetched": self.fetched,
            "processed": self.processed,
            "kinds": dict(sorted(self.kinds.items())),
            "unmatched": self.unmatched,
            "replies": self.replies,
            "tasks_created": self.tasks,
            "paused": self.paused,
            "suppressed": self.suppressed,
            "decisions": dict(sorted(self.decisions.items())),
            "intents": dict(sorted(self.intents.items())),
            "snoozed": self.snoozed,
            "referred": self.referred,
            "errors": list(self.errors),
        }


@dataclass
class _Effects:
    """What one message did, merged into the report only once its transaction committed."""

    kind: str
    unmatched: bool = False
    replies: int = 0
    tasks: int = 0
    paused: int = 0
    suppressed: int = 0
    decisions: list[str] = field(default_factory=list)
    snoozed: int = 0
    referred: int = 0


def _own_addresses(settings: Settings) -> set[str]:
    """The addresses of the replies mailbox itself."""
    return {a.strip().lower() for a in (settings.reply_to, settings.imap_username) if a and "@" in a}


def unsubscribe_addresses(settings: Settings) -> set[str]:
    """Addresses whose every message is an unsubscribe: List-Unsubscribe's mailto, unless it is the replies mailbox.

    When the mailto is the replies mailbox (the default), only the subject ``unsubscribe`` tells.
    """
    address = (settings.unsubscribe_address or "").strip().lower()
    if not address or address in _own_addresses(settings):
        return set()
    return {address}


async def sync_replies(
    ctx: Context, *, now: datetime, mailbox: MailboxFactory = ImapMailbox, source: ReplySource | None = None
) -> SyncReport:
    """Read the new messages of one inbox's folder and act on each, once (see the module's docstring).

    ``source``: the inbox (default: the shared replies mailbox, ``CADENCE_IMAP_*``); its read state and
    its messages' rows are its own. Raises :class:`~cadence.adapters.imap.ImapError` when the mailbox
    cannot be read and :class:`ConfigurationError` when it is not configured; a message that fails is
    reported in ``errors`` and read again next time.
    """
    settings = ctx.settings
    where = source or shared_source(settings)
    account, folder = where.account, where.folder
    report = SyncReport(folder=folder, mailbox=where.label)
    wanted = unsubscribe_addresses(settings)
    async with mailbox(await where.config()) as imap:
        uidvalidity = await imap.select(folder)
        report.uidvalidity = uidvalidity
        begin, report.restarted = reply_state.start(ctx, account, folder, uidvalidity, now)
        found = await imap.uids_after(begin, since=where.since)
        todo = reply_state.unprocessed(ctx, account, folder, uidvalidity, found)
        failed: list[int] = []
        for index in range(0, len(todo), FETCH_BATCH):
            batch = todo[index : index + FETCH_BATCH]
            for uid, raw in await imap.fetch(batch):
                report.fetched += 1
                if not _process(ctx, (account, folder, uidvalidity), uid, raw, now=now, report=report, wanted=wanted):
                    failed.append(uid)
    # Next time, read again from the first message that failed; the others have their rows.
    last = min(failed) - 1 if failed else max([begin, *found])
    report.last_uid = reply_state.finish(ctx, account, folder, uidvalidity, last, now)
    return report


# -- one message -------------------------------------------------------------------------------------


def _process(
    ctx: Context,
    place: tuple[str, str, int],
    uid: int,
    raw: bytes,
    *,
    now: datetime,
    report: SyncReport,
    wanted: set[str],
) -> bool:
    """Process one message of ``place`` (account, folder, UIDVALIDITY) in its own transaction; False when it
    failed (nothing of it was kept)."""
    account, folder, uidvalidity = place
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:  # the parser is lenient; should it ever give up, the message is recorded as ignored
        message = EmailMessage()
    inbound = classify(message, now=now, unsubscribe_addresses=wanted)
    reading = read_message(message, at=now)
    events = calendar_events(message)
    vouched = verdict(message, inbound.sender, ctx.settings.trusted_authserv_id)
    returned = verp_touch(message, ctx.settings)
    try:
        # a broken questions.yaml fails this message only (reported, read again once it is fixed)
        questions = ctx.questions if events else DEFAULT_QUESTIONS
        with ctx.sessions() as session, session.begin():
            row = InboundMessage(
                account=account,
                folder=folder,
                uidvalidity=uidvalidity,
                uid=uid,
                message_id=inbound.message_id,
                kind=inbound.kind,
                sender=inbound.sender,
                subject=inbound.subject[:998] if inbound.subject else None,
                detail=inbound.reason or None,
                received_at=inbound.sent_at,
                processed_at=now,
                intent=reading.intent,
                confidence=round(reading.confidence, 3),
                evidence=list(reading.evidence),
                named_date=reading.date,
            )
            try:
                with session.begin_nested():
                    session.add(row)
                    session.flush()
            except IntegrityError:
                return True  # another run processed it in the meantime
            effects = _apply(
                session,
                ctx.settings,
                inbound,
                reading,
                row,
                now=now,
                events=(events, questions),
                vouched=vouched,
                returned=returned,
            )
            row.kind = effects.kind
    except Exception as exc:  # reported, and the message is read again by the next run
        report.errors.append(f"UID {uid} ({inbound.message_id or 'no Message-ID'}): {type(exc).__name__}: {exc}"[:500])
        return False
    report.kinds[effects.kind] += 1
    report.replies += effects.replies
    report.tasks += effects.tasks
    report.paused += effects.paused
    report.suppressed += effects.suppressed
    report.decisions.update(effects.decisions)
    report.intents[reading.intent] += 1
    report.snoozed += effects.snoozed
    report.referred += effects.referred
    if effects.unmatched:
        report.unmatched += 1
        if inbound.sender and len(report.unmatched_senders) < 50:
            report.unmatched_senders.append(inbound.sender)
    return True


REVIEW = "review"
"""The kind of an inbound message kept for a person to read, not acted on (``cadence inbound review``)."""


def _review(row: InboundMessage, why: str, lead: Lead | None = None) -> _Effects:
    """Keep the message for review: recorded with why, nothing acted on."""
    row.detail = f"for review, not acted on: {why}"[:2000]
    if lead is not None:
        row.lead_id = lead.id
    return _Effects(kind=REVIEW)


def _own_address(lead: Lead, sender: str | None) -> bool:
    """Whether ``sender`` is the lead's own address (inbound mail from anyone else is not the lead's word)."""
    try:
        return sender is not None and normalize_email(sender) == lead.email
    except ValidationError:
        return False


def _apply(
    session: Session,
    settings: Settings,
    inbound: Inbound,
    reading: Reading,
    row: InboundMessage,
    *,
    now: datetime,
    events: tuple[Sequence[CalendarEvent], tuple[Question, ...]] = ((), DEFAULT_QUESTIONS),
    vouched: Verdict | None = None,
    returned: int | None = None,
) -> _Effects:
    if inbound.message_id is not None:
        earlier = session.scalar(
            select(InboundMessage.id)
            .where(
                InboundMessage.message_id == inbound.message_id,
                InboundMessage.id != row.id,
                InboundMessage.kind != "duplicate",
            )
            .limit(1)
        )
        if earlier is not None:
            row.detail = f"Message-ID processed already (inbound message {earlier})"
            return _Effects(kind="duplicate")
    if inbound.kind in ("reply", "auto_reply", "unsubscribe") and _from_us(session, settings, inbound.sender):
        row.detail = "sent by us (a rep, a rep's sending mailbox, or the replies mailbox itself)"
        return _Effects(kind="ignored")
    if inbound.kind in ("reply", "auto_reply", "unsubscribe") and vouched is not None and vouched.passed is False:
        return _review(row, f"{inbound.kind} from {inbound.sender}: {vouched.reason}")
    if events[0] and inbound.kind not in ("bounce", "unsubscribe"):
        return _calendar(session, settings, inbound, row, events[0], events[1], now=now)
    if inbound.kind == "auto_reply" and reading.intent in ("referral", "wrong_person"):
        # "I have left the company, please contact ...": nobody comes back to this address, so pausing
        # would only resume the cadence on an empty desk; it is answered as the person it names
        return _reply(session, settings, inbound, reading, row, now=now)
    if inbound.kind == "reply" and reading.intent == "out_of_office":
        return _auto_reply(session, settings, inbound, row, now=now, return_date=reading.date)
    if inbound.kind == "reply":
        return _reply(session, settings, inbound, reading, row, now=now)
    if inbound.kind == "auto_reply":
        return _auto_reply(session, settings, inbound, row, now=now)
    if inbound.kind == "bounce":
        return _bounce(session, settings, inbound, row, now=now, returned=returned)
    if inbound.kind == "unsubscribe":
        return _unsubscribe(session, settings, inbound, row, now=now)
    if inbound.kind == "complaint":
        return _complaint(session, settings, inbound, row, now=now)
    return _Effects(kind="ignored")


def _from_us(session: Session, settings: Settings, sender: str | None) -> bool:
    if sender is None:
        return False
    if sender in _own_addresses(settings):
        return True
    if session.scalar(select(SendingMailbox.id).where(SendingMailbox.address == sender).limit(1)) is not None:
        return True  # a rep's own sending mailbox (its sent copies, a forward to itself)
    return session.scalar(select(Rep.id).where(Rep.email == sender).limit(1)) is not None


def _lead_by_address(session: Session, address: str | None) -> Lead | None:
    if not address:
        return None
    try:
        address = normalize_email(address)
    except ValidationError:
        return None
    return _locked_lead(session, Lead.email == address)


def _locked_lead(session: Session, condition: ColumnElement[bool]) -> Lead | None:
    """The lead matching ``condition``, locked against its other writers until the transaction ends.

    FOR NO KEY UPDATE, not FOR UPDATE: an advance run that has claimed the lead's enrollment inserts
    rows referencing the lead (its touch, its tasks), whose foreign-key checks take a key share of
    this row. FOR UPDATE would block them while we wait for that enrollment: a deadlock.
    """
    return session.scalar(select(Lead).where(condition).with_for_update(of=Lead, key_share=True))


def _touch_by_references(session: Session, references: Sequence[str]) -> Touch | None:
    """Our touch that the message answers: the first of ``references`` (In-Reply-To first) that is ours."""
    if not references:
        return None
    touches = {t.message_id: t for t in session.scalars(select(Touch).where(Touch.message_id.in_(list(references))))}
    return next((touches[r] for r in references if r in touches), None)


def _match(session: Session, inbound: Inbound, *, by_sender: bool = True) -> tuple[Lead | None, Touch | None]:
    """The lead a message is about: by its thread (our Message-IDs), else by its sender's address."""
    touch = _touch_by_references(session, inbound.references)
    if touch is not None:
        lead = _locked_lead(session, Lead.id == touch.lead_id)
        return lead, touch
    return (_lead_by_address(session, inbound.sender) if by_sender else None), None


def _reply(
    session: Session, settings: Settings, inbound: Inbound, reading: Reading, row: InboundMessage, *, now: datetime
) -> _Effects:
    lead, touch = _match(session, inbound)
    if lead is None:
        row.detail = "a reply from an address that is no lead, in no thread of ours"
        return _Effects(kind="reply", unmatched=True)
    if not _own_address(lead, inbound.sender):
        return _review(row, f"a reply in {lead.email}'s thread from another address ({inbound.sender})", lead)
    row.lead_id, row.touch_id = lead.id, touch.id if touch else None
    event = Responded(kind="reply", channel="email", note=inbound.note, subject=inbound.subject, reading=reading)
    applied = handle(
        session, lead, event, at=now, settings=settings, message_id=inbound.message_id, touch_id=_touch_id(touch)
    )
    done = applied.consequences
    row.detail = f"{'matched by thread' if touch else 'matched by sender'}; {done.note}"
    if applied.referred is not None:
        row.detail += f"; {applied.referred.note}"
    return _Effects(
        kind="reply",
        replies=1,
        tasks=int(applied.task is not None),
        suppressed=applied.suppressed,
        decisions=[applied.decision.outcome] if applied.decision is not None else [],
        snoozed=int(done.snooze is not None),
        referred=int(applied.referred is not None and applied.referred.created),
    )


def _calendar(
    session: Session,
    settings: Settings,
    inbound: Inbound,
    row: InboundMessage,
    events: Sequence[CalendarEvent],
    questions: tuple[Question, ...],
    *,
    now: datetime,
) -> _Effects:
    """A message with a calendar part: a meeting booked with its lead, else a reply the owner reads."""
    lead, touch = _match(session, inbound)
    if lead is None:
        row.detail = "a calendar from an address that is no lead, in no thread of ours"
        return _Effects(kind="reply", unmatched=True)
    row.lead_id, row.touch_id = lead.id, _touch_id(touch)
    seen = meeting_with(events, lead.email) if lead.email is not None else None  # invited by address
    if seen is not None and seen.booked and seen.start is not None:
        applied = record_meeting(
            session, lead, start=seen.start, via="calendar invitation", at=now, evidence=seen.reason,
            settings=settings, questions=questions, message_id=inbound.message_id,
        )  # fmt: skip
        row.detail = f"calendar: {seen.reason}; {applied.consequences.note}"
        return _Effects(
            kind="meeting",
            tasks=int(applied.task is not None),
            decisions=[applied.decision.outcome] if applied.decision is not None else [],
        )
    why = seen.reason if seen is not None else "no meeting in the calendar"
    note = f"calendar, nothing booked: {why}. {inbound.note or ''}".strip()
    event = Responded(kind="reply", channel="email", note=note, subject=inbound.subject)
    applied = handle(
        session, lead, event, at=now, settings=settings, message_id=inbound.message_id, touch_id=_touch_id(touch)
    )
    row.detail = f"calendar, nothing booked: {why}; {applied.consequences.note}"
    return _Effects(kind="reply", replies=1, tasks=int(applied.task is not None))


def _touch_id(touch: Touch | None) -> int | None:
    return touch.id if touch is not None else None


def _auto_reply(
    session: Session,
    settings: Settings,
    inbound: Inbound,
    row: InboundMessage,
    *,
    now: datetime,
    return_date: date | None = None,
) -> _Effects:
    lead, touch = _match(session, inbound)
    reason = inbound.reason or "a reply read as an out-of-office"
    if lead is None:
        row.detail = f"{reason}; no lead matches"
        return _Effects(kind="auto_reply", unmatched=True)
    if not _own_address(lead, inbound.sender):
        return _review(row, f"an out-of-office in {lead.email}'s thread from another address ({inbound.sender})", lead)
    row.lead_id, row.touch_id = lead.id, _touch_id(touch)
    event = AutoReply(return_date=inbound.return_date or return_date, note=inbound.note or inbound.subject)
    applied = handle(
        session, lead, event, at=now, settings=settings, message_id=inbound.message_id, touch_id=_touch_id(touch)
    )
    row.detail = f"{reason}; {applied.consequences.note}"
    moved = applied.consequences.enrollment
    return _Effects(kind="auto_reply", paused=int(moved is not None and moved.state == State.PAUSED))


def _suppress(session: Session, address: str, *, now: datetime, reason: str) -> bool:
    try:
        suppress(session, address, now=now, reason=reason[:1000])
    except ValidationError:
        return False
    return True


def verp_touch(message: EmailMessage, settings: Settings) -> int | None:
    """The touch a message was sent back for, by its VERP address (``bounce+TOKEN@`` the bounce domain), if signed."""
    if not settings.bounce_domain:
        return None
    domain = settings.bounce_domain.lower()
    secret = settings.secret_key.get_secret_value()
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To"):
        for address in addresses(headers(message, name)):
            local, _, at = address.lower().rpartition("@")
            if at == domain and local.startswith("bounce+"):
                touch_id = touch_of_bounce_token(local.removeprefix("bounce+"), secret)
                if touch_id is not None:
                    return touch_id
    return None


def _bounce(
    session: Session,
    settings: Settings,
    inbound: Inbound,
    row: InboundMessage,
    *,
    now: datetime,
    returned: int | None = None,
) -> _Effects:
    """A bounce counts only when it returns a message we sent (our Message-ID in it, or the signed VERP address
    of its envelope, ``returned``) to the address it names: then that lead, and only its address, bounces.
    Any other is kept for review (anyone can write a DSN)."""
    status = inbound.bounce_status or "undelivered"
    touch = _touch_by_references(session, inbound.references)
    if touch is None and returned is not None:
        touch = session.get(Touch, returned)
    if touch is None:
        named = ", ".join(inbound.bounced_recipients[:5]) or "no address"
        return _review(row, f"a bounce ({named}: {status}) that returns no message of ours (no Message-ID we sent)")
    lead = _locked_lead(session, Lead.id == touch.lead_id)
    if lead is None:  # pragma: no cover - a touch's lead is never deleted
        return _review(row, f"a bounce of touch {touch.id}, whose lead is gone")
    others = [a for a in inbound.bounced_recipients if a != lead.email]
    if others:
        return _review(row, f"a bounce of our message to {lead.email} naming other addresses ({', '.join(others[:5])})",
                       lead)  # fmt: skip
    row.lead_id, row.touch_id = lead.id, touch.id
    effects = _Effects(kind="bounce")
    applied = handle(session, lead, BounceNotice(permanent=inbound.bounce_permanent, status=status), at=now,
                     settings=settings, message_id=inbound.message_id, touch_id=touch.id)  # fmt: skip
    effects.suppressed = applied.suppressed
    if applied.decision is not None:
        effects.decisions.append(applied.decision.outcome)
    if inbound.bounce_permanent:
        row.detail = f"bounced: {status}"[:2000]
    else:
        row.detail = f"temporary delivery failure, nothing changed: {status}"[:2000]
    return effects


def _complaint(
    session: Session, settings: Settings, inbound: Inbound, row: InboundMessage, *, now: datetime
) -> _Effects:
    """A spam complaint about an email we sent: the lead's address is suppressed and the decision recorded.

    Only the attached original's Message-ID counts (one of our touches): a report naming an address
    without our message in it is anyone's claim, and changes nothing.
    """
    touch = _touch_by_references(session, inbound.references)
    if touch is None:
        row.detail = "spam complaint about no message of ours (its original's Message-ID is not one we sent): ignored"
        return _Effects(kind="complaint", unmatched=True)
    lead = _locked_lead(session, Lead.id == touch.lead_id)
    if lead is None:  # pragma: no cover - a touch always has its lead
        return _Effects(kind="complaint", unmatched=True)
    row.lead_id, row.touch_id = lead.id, touch.id
    reason = f"{COMPLAINT_REASON} (feedback report from {inbound.sender or 'an unnamed sender'})"
    also = [lead.email] if lead.email else []
    applied = handle(session, lead, Unsubscribed(reason=reason[:1000], by=inbound.sender), at=now, settings=settings,
                     suppress_also=also, message_id=inbound.message_id, touch_id=touch.id)  # fmt: skip
    effects = _Effects(kind="complaint", suppressed=applied.suppressed)
    if applied.decision is not None:
        effects.decisions.append(applied.decision.outcome)
    row.detail = f"spam complaint about our email (touch {touch.id}): {lead.email} suppressed" + (
        " and decided" if applied.decision is not None else "; the lead was decided already"
    )
    return effects


def _unsubscribe(
    session: Session, settings: Settings, inbound: Inbound, row: InboundMessage, *, now: datetime
) -> _Effects:
    assert inbound.sender is not None, "classify gives every unsubscribe a sender"
    lead = _lead_by_address(session, inbound.sender)
    touch = None
    if lead is None:
        lead, touch = _match(session, inbound, by_sender=False)
    effects = _Effects(kind="unsubscribe")
    if lead is None:  # a suppression never lands on an address we never emailed because a stranger asked
        return _review(row, f"an unsubscribe from {inbound.sender}, which is no lead's address")
    if not _own_address(lead, inbound.sender):
        return _review(row, f"an unsubscribe for {lead.email} from another address ({inbound.sender})", lead)
    row.lead_id, row.touch_id = lead.id, _touch_id(touch)
    event = Unsubscribed(reason=UNSUBSCRIBE_REASON, by=inbound.sender)
    applied = handle(session, lead, event, at=now, settings=settings)
    effects.suppressed = applied.suppressed
    if applied.decision is None:
        row.detail = "unsubscribe: suppressed; the lead was decided already"
    else:
        effects.decisions.append(applied.decision.outcome)
        row.detail = "unsubscribe: suppressed and decided"
    return effects
