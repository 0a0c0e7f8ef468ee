"""Erasing a person who asks to be forgotten, and keeping them out afterwards.

:func:`erase` deletes the person's data from every table in one transaction: the lead row stays as
an anonymous tombstone (``erased-ID@erased.invalid``, status ``erased``, no name, company, phone,
address or custom fields) so that the counts of reports still add up; its touches keep only
their channel, step, state and template version; tasks, decisions and responses lose their
text; inbound messages, qualifying answers, interactions' topics and automatic actions are
deleted. What stays is a keyed hash (HMAC-SHA-256 with :meth:`Settings.erasure_secret`) of the
address, as a suppression: :func:`erased_among` finds it at intake, so that a later import or
API call never stores or enrolls the person again. The erasure itself is in the audit log, under
the tombstone's name and the hash's first characters, never the address.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from cadence.adapters.models import (
    Account,
    AccountChange,
    ApiIdempotency,
    Decision,
    InboundMessage,
    Interaction,
    Lead,
    LeadAction,
    LeadNote,
    QualifyingAnswer,
    Response,
    StageChange,
    Suppression,
    Task,
    Touch,
)
from cadence.core.decisions import Outcome
from cadence.core.leads import normalize_email
from cadence.services import audit
from cadence.services.enrollments import decide, open_enrollment
from cadence.settings import Settings

PREFIX = "erased:"
"""Suppressions whose value starts with this hold an erased address's keyed hash."""
ERASED = "erased"
"""The status of an erased lead's tombstone."""
REASON = "erased at the person's request"
GONE = "(erased)"


def erased_key(settings: Settings, email: str) -> str:
    """The suppression value that stands for ``email`` once erased: ``erased:`` and its HMAC-SHA-256."""
    digest = hmac.new(settings.erasure_secret(), email.strip().lower().encode("utf-8"), hashlib.sha256)
    return PREFIX + digest.hexdigest()


def erased_among(session: Session, settings: Settings, emails: Iterable[str]) -> set[str]:
    """The addresses of ``emails`` that belong to erased people."""
    keys = {erased_key(settings, e): e for e in emails}
    found: set[str] = set()
    items = list(keys)
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        found.update(keys[v] for v in session.scalars(select(Suppression.value).where(Suppression.value.in_(chunk))))
    return found


@dataclass(frozen=True)
class Erased:
    """What an erasure did: the tombstone's name and how many rows lost their personal data."""

    tombstone: str
    rows: dict[str, int]


def erase(session: Session, settings: Settings, email: str, *, actor: str, now: datetime) -> Erased | None:
    """Erase the person with address ``email``; None when cadence holds no lead for it.

    The hash is kept as a suppression even when there is no lead (a request to be forgotten covers
    future imports too). The caller commits.
    """
    address = normalize_email(email)
    key = erased_key(settings, address)
    if session.scalar(select(Suppression.id).where(Suppression.value == key)) is None:
        session.add(Suppression(value=key, reason=REASON, created_at=now))
    session.execute(delete(Suppression).where(Suppression.value == address))
    lead = session.scalar(select(Lead).where(Lead.email == address).with_for_update(of=Lead))
    if lead is None:
        audit.record(session, actor, "leads.erase", key[: len(PREFIX) + 12], {"lead": None}, now=now)
        session.flush()
        return None
    tombstone = f"erased-{lead.id}@erased.invalid"
    lead.email = tombstone  # before anything else writes the address anywhere (the audit log included)
    session.flush()
    if open_enrollment(session, lead) is not None:
        decide(session, lead, Outcome.UNSUBSCRIBED, now=now, reason=REASON, decided_by=actor)
    rows = _scrub(session, lead, address, tombstone, now=now)
    audit.record(
        session, actor, "leads.erase", tombstone, {"hash": key[len(PREFIX) : len(PREFIX) + 12], **rows}, now=now
    )
    session.flush()
    return Erased(tombstone, rows)


def _run(session: Session, statement: Executable) -> int:
    """Execute an UPDATE or DELETE; the number of rows it matched."""
    return int(session.connection().execute(statement).rowcount)


def _drop_lone_account(session: Session, account_id: int | None) -> int:
    """Delete the account the erased person was alone in (its key or name may be theirs: a free-mail address,
    a one-person company); an account with other contacts is the company's and stays. 1 if deleted."""
    if account_id is None or session.scalar(select(Lead.id).where(Lead.account_id == account_id).limit(1)):
        return 0
    changes = (AccountChange.account_id == account_id) | (AccountChange.other_account_id == account_id)
    session.execute(delete(AccountChange).where(changes))
    session.execute(update(Account).where(Account.merged_into_id == account_id).values(merged_into_id=None))
    return _run(session, delete(Account).where(Account.id == account_id))


def _scrub(session: Session, lead: Lead, address: str, tombstone: str, *, now: datetime) -> dict[str, int]:
    """Delete or blank the personal data of ``lead`` in every table; the number of rows touched by table."""
    for name in (
        "first_name", "last_name", "title", "company", "industry", "company_size", "phone", "linkedin_url",
        "address_line1", "address_line2", "city", "region", "postal_code", "country", "timezone", "snoozed_until",
        "snooze_cadence", "why_now", "topic",
    ):  # fmt: skip
        setattr(lead, name, None)
    lead.custom = {}
    lead.status = ERASED
    lead.updated_at = now
    company, lead.account_id, lead.buying_role = lead.account_id, None, None
    session.flush()  # the decision's cancelled tasks and the tombstone go first: the statements below bypass the ORM
    where = lead.id
    counts = {
        "touches": _run(session, update(Touch).where(Touch.lead_id == where).values(subject=None, error=None)),
        "tasks": _run(
            session, update(Task).where(Task.lead_id == where).values(title=GONE, instructions=None, note=None)
        ),
        "decisions": _run(session, update(Decision).where(Decision.lead_id == where).values(reason=None, answers=None)),
        "responses": _run(session, update(Response).where(Response.lead_id == where).values(note=None)),
        "interactions": _run(session, update(Interaction).where(Interaction.lead_id == where).values(topic=None)),
        "stage_changes": _run(session, update(StageChange).where(StageChange.lead_id == where).values(reason=GONE)),
        "inbound_messages": _run(
            session,
            delete(InboundMessage).where((InboundMessage.lead_id == where) | (InboundMessage.sender == address)),
        ),
        "qualifying_answers": _run(session, delete(QualifyingAnswer).where(QualifyingAnswer.lead_id == where)),
        "lead_actions": _run(session, delete(LeadAction).where(LeadAction.lead_id == where)),
        "lead_notes": _run(session, delete(LeadNote).where(LeadNote.lead_id == where)),
    }
    counts["accounts"] = _drop_lone_account(session, company)
    # The API's remembered answers (24 hours) may quote the person: drop those that do.
    quoting = [row.id for row in session.scalars(select(ApiIdempotency)) if address in str(row.body).lower()]
    if quoting:
        session.execute(delete(ApiIdempotency).where(ApiIdempotency.id.in_(quoting)))
    counts["api_answers"] = len(quoting)
    session.execute(delete(Suppression).where(Suppression.value == tombstone))  # the decision's own, if any
    return {k: v for k, v in counts.items() if v}
