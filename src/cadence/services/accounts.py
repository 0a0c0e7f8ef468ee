"""Accounts: matching leads to their company, one owner per account, merges, splits, reassignments, the view.

Matching is :func:`cadence.core.accounts.account_match`: an explicit key, else the company domain
of the address, else the normalized company name. A lead at a free-mail address whose company we
know by name (a colleague at ``acme.example`` wrote "Acme") joins that account. An account merged
into another keeps its row and points at it, so that its old key still finds the contacts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import (
    Account,
    AccountChange,
    Decision,
    Enrollment,
    Lead,
    Rep,
    Response,
    Task,
    Touch,
)
from cadence.core.accounts import (
    AccountMatch,
    MatchedBy,
    account_match,
    clean_key,
    company_domain,
    coverage,
    normalize_company,
)
from cadence.core.cadences import Cadence
from cadence.core.leads import normalize_email, normalize_phone
from cadence.core.qualification import Rules
from cadence.errors import NotFound, ValidationError
from cadence.settings import Settings

ENGAGED_LEAD_STATUSES = ("responded",)
"""Lead statuses that count as engaged: answered and being worked."""
MEETING_OUTCOMES = ("meeting_booked", "qualified_handoff")


def _followed(session: Session, account: Account) -> Account:
    """The account that took ``account``'s contacts when it was merged (itself when it was not)."""
    seen = {account.id}
    while account.merged_into_id is not None:
        account = session.get_one(Account, account.merged_into_id)
        if account.id in seen:  # pragma: no cover - a cycle is refused by merge_accounts
            break
        seen.add(account.id)
    return account


def find_account(session: Session, match: AccountMatch) -> Account | None:
    """The account ``match`` names (following merges); else, for a company domain, an account given that domain
    by an explicit key; else, for a company name, one known by the same name."""
    found = session.scalar(select(Account).where(Account.key == match.key))
    if found is None and match.matched_by is MatchedBy.DOMAIN:
        found = session.scalar(
            select(Account)
            .where(Account.domain == match.domain, Account.merged_into_id.is_(None))
            .order_by(Account.id)
            .limit(1)
        )
    if found is None and match.matched_by is MatchedBy.COMPANY and match.name_key is not None:
        found = session.scalar(
            select(Account)
            .where(Account.name_key == match.name_key, Account.merged_into_id.is_(None))
            .order_by(Account.id)
            .limit(1)
        )
    return _followed(session, found) if found is not None else None


def account_for(
    session: Session,
    email: str | None,
    company: str | None,
    *,
    explicit: str | None = None,
    now: datetime,
    phone: str | None = None,
) -> Account:
    """The account of a lead at ``email`` working at ``company`` (``explicit``: a given key), created if new.

    A contact without an address is matched by company or key, else by its ``phone``.
    """
    match = account_match(email, company, explicit, phone=phone)
    found = find_account(session, match)
    if found is not None:
        if found.name is None and company:
            found.name = company[:500]
        return found
    return add_account(session, new_account(match, company, explicit, now=now), match)


def new_account(match: AccountMatch, company: str | None, explicit: str | None, *, now: datetime) -> Account:
    """A new account for ``match``, not yet in a session: named by the explicit key, else by the company."""
    name = explicit.strip() if match.matched_by is MatchedBy.KEY and explicit else company
    return Account(
        key=match.key,
        name=name[:500] if name else None,
        domain=match.domain,
        name_key=match.name_key,
        created_at=now,
    )


def add_account(session: Session, account: Account, match: AccountMatch) -> Account:
    """``account`` inserted now; or, when another transaction inserted the same one meanwhile (two colleagues
    at once), that one."""
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError:
        found = find_account(session, match)
        if found is None:
            raise
        return found
    return account


def place_lead(session: Session, lead: Lead, *, explicit: str | None = None, now: datetime) -> Account:
    """Put ``lead`` in its account (an explicit key moves it; otherwise a lead keeps the account it has)."""
    if lead.account_id is not None and explicit is None:
        return session.get_one(Account, lead.account_id)
    account = account_for(session, lead.email, lead.company, explicit=explicit, now=now, phone=lead.phone)
    lead.account_id = account.id
    return account


def resolve(session: Session, ref: str) -> Account:
    """The account ``ref`` names: its key, a domain, a company name, a contact's address, or ``#id``."""
    text = (ref or "").strip()
    if not text:
        raise ValidationError("name an account: its domain, its company name, a contact's address or #id")
    found: Account | None = None
    if text.startswith("#") and text[1:].isdigit():
        found = session.get(Account, int(text[1:]))
    elif "@" in text:
        lead = session.scalar(select(Lead).where(Lead.email == normalize_email(text)))
        found = session.get(Account, lead.account_id) if lead is not None and lead.account_id else None
    else:
        lowered = text.lower()
        key = clean_key(lowered)
        found = session.scalar(
            select(Account)
            .where(Account.key.in_([lowered, f"key:{key}", f"domain:{lowered}", f"company:{normalize_company(text)}"]))
            .limit(1)
        )
        if found is None and (name_key := normalize_company(text)) is not None:
            found = session.scalar(select(Account).where(Account.name_key == name_key).order_by(Account.id).limit(1))
    if found is None:
        raise NotFound(f"no account {text!r}: try its domain, its company name, a contact's address or #id")
    return _followed(session, found)


def label(account: Account) -> str:
    """How people name the account: its company name, else its domain, else its key."""
    return account.name or account.domain or account.key.split(":", 1)[-1]


def _record(
    session: Session,
    kind: str,
    account: Account,
    *,
    other: Account | None = None,
    lead_ids: list[int] | None = None,
    note: str | None = None,
    by: str | None,
    now: datetime,
) -> None:
    session.add(
        AccountChange(
            kind=kind,
            account_id=account.id,
            other_account_id=other.id if other else None,
            lead_ids=lead_ids,
            note=note,
            changed_by=by,
            changed_at=now,
        )
    )


def _contacts(session: Session, account: Account) -> list[Lead]:
    return list(session.scalars(select(Lead).where(Lead.account_id == account.id).order_by(Lead.id)))


def _move_owner(session: Session, leads: list[Lead], owner: Rep | None) -> int:
    """Give ``leads`` and their open tasks to ``owner``; how many leads changed owner."""
    if owner is None or not leads:
        return 0
    moved = [lead for lead in leads if lead.owner_id != owner.id]
    for lead in moved:
        lead.owner = owner
    ids = [lead.id for lead in leads]
    for task in session.scalars(select(Task).where(Task.lead_id.in_(ids), Task.status == "open")):
        task.owner_id = owner.id
    return len(moved)


def reassign_account(session: Session, ref: str, rep_email: str, *, by: str | None, now: datetime) -> dict[str, Any]:
    """Give the account to ``rep_email``: its contacts and their open tasks move with it (recorded)."""
    account = resolve(session, ref)
    rep = session.scalar(select(Rep).where(Rep.email == normalize_email(rep_email)))
    if rep is None:
        raise NotFound(f"no rep {rep_email}: add one with `cadence reps add`")
    if not rep.active:
        raise ValidationError(f"{rep.email} is not an active rep")
    before = account.owner.email if account.owner else None
    account.owner = rep
    contacts = _contacts(session, account)
    moved = _move_owner(session, contacts, rep)
    _record(
        session,
        "reassign",
        account,
        lead_ids=[c.id for c in contacts],
        by=by,
        now=now,
        note=f"owner {before or 'none'} -> {rep.email}",
    )
    session.flush()
    return {"account": label(account), "owner": rep.email, "previous_owner": before, "contacts_moved": moved}


def merge_accounts(
    session: Session, source_ref: str, target_ref: str, *, by: str | None, now: datetime
) -> dict[str, Any]:
    """Merge ``source`` into ``target``: its contacts (with their timelines) join ``target`` and its owner.

    ``source`` keeps its row, pointing at ``target``: its key still finds the contacts. Recorded.
    """
    source, target = resolve(session, source_ref), resolve(session, target_ref)
    if source.id == target.id:
        raise ValidationError(f"{label(source)} and {label(target)} are one account already")
    contacts = _contacts(session, source)
    for lead in contacts:
        lead.account_id = target.id
    if target.owner_id is None:
        target.owner_id = source.owner_id
    owner = session.get(Rep, target.owner_id) if target.owner_id is not None else None
    _move_owner(session, contacts, owner)
    source.merged_into_id = target.id
    _record(
        session,
        "merge",
        target,
        other=source,
        lead_ids=[c.id for c in contacts],
        by=by,
        now=now,
        note=f"{label(source)} merged into {label(target)}",
    )
    session.flush()
    return {"merged": label(source), "into": label(target), "contacts_moved": len(contacts)}


def split_account(
    session: Session, ref: str, emails: list[str], *, into: str, by: str | None, now: datetime
) -> dict[str, Any]:
    """Move the contacts ``emails`` of the account ``ref`` into a new account keyed ``into`` (recorded)."""
    account = resolve(session, ref)
    key = clean_key(into)
    if key is None:
        raise ValidationError("name the new account (--into)")
    if session.scalar(select(Account.id).where(Account.key == f"key:{key}")) is not None:
        raise ValidationError(f"an account {key!r} exists already: merge into it instead")
    addresses = [normalize_email(e) for e in emails]
    if not addresses:
        raise ValidationError("name the contacts that move (--contact, one or more)")
    leads = list(session.scalars(select(Lead).where(Lead.email.in_(addresses))))
    strangers = sorted(set(addresses) - {lead.email for lead in leads if lead.account_id == account.id})
    if strangers:
        raise ValidationError(f"not contacts of {label(account)}: {', '.join(strangers)}")
    new = Account(key=f"key:{key}", name=into.strip()[:500], owner_id=account.owner_id, created_at=now)
    session.add(new)
    session.flush()
    for lead in leads:
        lead.account_id = new.id
    _record(
        session,
        "split",
        account,
        other=new,
        lead_ids=[lead.id for lead in leads],
        by=by,
        now=now,
        note=f"{len(leads)} contact(s) of {label(account)} moved to {new.name}",
    )
    session.flush()
    return {"account": label(account), "into": new.name, "contacts_moved": len(leads)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def list_accounts(session: Session, *, owner: str | None = None) -> list[dict[str, Any]]:
    """Accounts with contacts (merged ones left out), with their owner, contacts and engaged count."""
    counts = (
        select(
            Lead.account_id.label("account_id"),
            func.count(Lead.id).label("contacts"),
            func.count(Lead.id).filter(Lead.status.in_(ENGAGED_LEAD_STATUSES)).label("engaged"),
        )
        .group_by(Lead.account_id)
        .subquery()
    )
    query = (
        select(Account, counts.c.contacts, counts.c.engaged)
        .join(counts, counts.c.account_id == Account.id)
        .where(Account.merged_into_id.is_(None))
        .order_by(counts.c.engaged.desc(), counts.c.contacts.desc(), Account.id)
    )
    if owner:
        query = query.where(
            Account.owner_id == session.scalar(select(Rep.id).where(Rep.email == normalize_email(owner)))
        )
    return [
        {
            "id": a.id,
            "account": label(a),
            "domain": a.domain,
            "owner": a.owner.email if a.owner else None,
            "contacts": n,
            "engaged": e,
        }
        for a, n, e in session.execute(query).unique()
    ]


def show_account(session: Session, ref: str) -> dict[str, Any]:
    """One account: its contacts with roles, stages and states, one timeline, open tasks, coverage, changes."""
    account = resolve(session, ref)
    leads = _contacts(session, account)
    ids = [lead.id for lead in leads]
    by_id = {lead.id: lead.reference for lead in leads}
    enrollments = {
        e.lead_id: e
        for e in session.scalars(select(Enrollment).where(Enrollment.lead_id.in_(ids)).order_by(Enrollment.id))
    }
    decisions = {
        d.lead_id: d.outcome
        for d in session.scalars(select(Decision).where(Decision.lead_id.in_(ids), Decision.superseded_at.is_(None)))
    }
    contacts = [
        {
            "ref": lead.reference,
            "email": lead.email,
            "phone": lead.phone,
            "name": " ".join(p for p in (lead.first_name, lead.last_name) if p) or None,
            "title": lead.title,
            "role": lead.buying_role,
            "status": lead.status,
            "state": enrollments[lead.id].state if lead.id in enrollments else None,
            "step": enrollments[lead.id].next_step if lead.id in enrollments else None,
            "decision": decisions.get(lead.id),
            "owner": lead.owner.email if lead.owner else None,
            "referred_by": by_id.get(lead.referred_by_id) if lead.referred_by_id else None,
        }
        for lead in leads
    ]
    timeline: list[dict[str, Any]] = []
    for touch in session.scalars(select(Touch).where(Touch.lead_id.in_(ids), Touch.executed_at.is_not(None))):
        timeline.append(
            {
                "at": _iso(touch.executed_at),
                "contact": by_id[touch.lead_id],
                "what": touch.channel,
                "detail": f"step {touch.step_index + 1}: {touch.state}",
            }
        )
    for response in session.scalars(select(Response).where(Response.lead_id.in_(ids))):
        timeline.append(
            {
                "at": _iso(response.received_at),
                "contact": by_id[response.lead_id or 0],
                "what": f"response ({response.kind})",
                "detail": (response.note or "")[:200],
            }
        )
    for decision in session.scalars(select(Decision).where(Decision.lead_id.in_(ids))):
        timeline.append(
            {
                "at": _iso(decision.decided_at),
                "contact": by_id[decision.lead_id],
                "what": f"decision {decision.outcome}",
                "detail": decision.reason or "",
            }
        )
    timeline.sort(key=lambda row: (row["at"] or "", row["contact"]))
    tasks = [
        {
            "id": t.id,
            "contact": by_id[t.lead_id],
            "title": t.title,
            "due": _iso(t.due_at),
            "owner": t.owner.email if t.owner else None,
        }
        for t in session.scalars(select(Task).where(Task.lead_id.in_(ids), Task.status == "open").order_by(Task.due_at))
    ]
    changes = [
        {"at": _iso(c.changed_at), "kind": c.kind, "note": c.note, "by": c.changed_by}
        for c in session.scalars(
            select(AccountChange)
            .where(or_(AccountChange.account_id == account.id, AccountChange.other_account_id == account.id))
            .order_by(AccountChange.changed_at, AccountChange.id)
        )
    ]
    cover = coverage([lead.buying_role for lead in leads], [lead.status in ENGAGED_LEAD_STATUSES for lead in leads])
    return {
        "id": account.id,
        "account": label(account),
        "key": account.key,
        "domain": account.domain,
        "owner": account.owner.email if account.owner else None,
        "contacts": contacts,
        "coverage": {
            "decision_maker": cover.decision_maker,
            "approver": cover.approver,
            "engaged": cover.engaged,
            "contacts": cover.contacts,
            "gaps": cover.gaps,
        },
        "open_tasks": tasks,
        "timeline": timeline,
        "changes": changes,
    }


def add_colleague(
    session: Session,
    of: str,
    values: dict[str, str | None],
    *,
    referred: bool,
    now: datetime,
    settings: Settings,
    rules: Rules,
    cadences: dict[str, Cadence],
) -> dict[str, Any]:
    """Add a colleague of the lead ``of``: same account, the account's owner, a role in the buying group.

    ``values`` are a lead's fields as a form or the command line gives them (an ``email`` or a
    ``phone``, or both; ``name`` is split into first and last). A phone is normalized (E.164, read in
    the colleague's country, else the lead's). ``referred``: ``of`` named them, so they are ``referred_by``
    it and enrolled in the referral cadence; otherwise they are qualified as an import qualifies a row
    and enrolled in their class's cadence if they are a lead. An address that is a lead already, or a
    phone number a contact of the same account has already, is refused (no second lead for one person).
    A colleague without an address gets the cadence's tasks; its email steps are skipped, with the reason.
    """
    from cadence.core.leads import make_lead
    from cadence.core.qualification import Kind, qualify
    from cadence.services.enrollments import Suppressed, get_lead, start_enrollment
    from cadence.services.leads import lead_columns, lead_data

    referrer = get_lead(session, of)
    name = " ".join((values.pop("name", None) or "").split())
    first, _, last = name.partition(" ")
    raw = {k: v for k, v in values.items() if v is not None}
    raw.setdefault("first_name", first or None)  # type: ignore[arg-type]
    raw.setdefault("last_name", last or None)  # type: ignore[arg-type]
    raw.setdefault("company", referrer.company)  # type: ignore[arg-type]
    raw.setdefault("timezone", referrer.timezone)  # type: ignore[arg-type]
    raw.setdefault("country", referrer.country)  # type: ignore[arg-type]
    if not raw.get("email") and not raw.get("phone"):
        raise ValidationError("a colleague needs an email address or a phone number (--email or --phone)")
    if raw.get("phone"):
        raw["phone"] = normalize_phone(raw["phone"], raw.get("country"))
    data = make_lead({k: v for k, v in raw.items() if v is not None}, email_optional=True)
    if data.email is not None and session.scalar(select(Lead.id).where(Lead.email == data.email)) is not None:
        raise ValidationError(f"{data.email} is a lead already: see `cadence leads show {data.email}`")
    account = place_lead(session, referrer, now=now)
    if data.phone is not None:
        same = same_phone(session, account.id, data.phone)
        if same is not None:
            raise ValidationError(
                f"{data.phone} is the phone of {same.label} ({same.reference}) at this account already: "
                f"no second lead was added; see `cadence leads show '{same.reference}'`"
            )
    owner_id = account.owner_id or referrer.owner_id
    lead = Lead(email=data.email, created_at=now, updated_at=now, status=Kind.NAME.value, owner_id=owner_id,
                account_id=account.id, buying_role=data.role, source="colleague", interactions=0, custom={},
                **{k: v for k, v in lead_columns(data).items() if v is not None})  # fmt: skip
    if referred:
        lead.referred_by_id = referrer.id
        lead.source = "referral"
        lead.custom = {"referred_by": label_of(referrer)}
        if referrer.email is not None:
            lead.custom["referred_by_email"] = referrer.email
    lead.owner = session.get(Rep, owner_id) if owner_id is not None else None
    result = qualify(lead_data(lead), rules)
    lead.kind, lead.persona_fit, lead.source_rank = result.kind.value, result.persona_fit, result.source_rank
    lead.lead_class, lead.priority, lead.status = result.lead_class, result.priority, result.kind.value
    lead.inbound = result.inbound
    session.add(lead)
    session.flush()
    cadence_name = settings.referral_cadence if referred else (result.cadence if result.kind is Kind.LEAD else None)
    enrolled = None
    if cadence_name is not None and cadence_name in cadences:
        if referred:
            lead.kind = lead.status = Kind.LEAD.value
        lead.cadence = cadence_name
        try:
            start_enrollment(session, lead, cadences[cadence_name], now=now, settings=settings)
            enrolled = cadence_name
        except Suppressed:
            enrolled = None
    session.flush()
    return {"id": lead.id, "reference": lead.reference, "email": lead.email, "phone": lead.phone,
            "name": lead.label, "account": label(account), "owner": lead.owner.email if lead.owner else None,
            "role": lead.buying_role, "referred_by": referrer.reference if referred else None, "status": lead.status,
            "enrolled": enrolled}  # fmt: skip


def same_phone(session: Session, account_id: int, phone: str) -> Lead | None:
    """The contact of the account whose phone is ``phone`` (E.164), however its number was written; else None.

    Numbers kept as imported (``(212) 555-0100``) are read in their lead's country to compare them.
    """
    for contact in session.scalars(select(Lead).where(Lead.account_id == account_id, Lead.phone.is_not(None))):
        try:
            if contact.phone is not None and normalize_phone(contact.phone, contact.country) == phone:
                return contact
        except ValidationError:
            continue  # a number we cannot read is no match
    return None


def label_of(lead: Lead) -> str:
    """A lead's name, else its address, else ``#ID``."""
    return lead.label


def company_suppression(session: Session, email: str) -> str:
    """What suppresses the whole company of the lead ``email`` (a company-wide unsubscribe): its domain.

    Raises :class:`ValidationError` when the lead's account has no company domain (a free-mail address).
    """
    from cadence.services.enrollments import get_lead

    lead = get_lead(session, email)
    account = session.get(Account, lead.account_id) if lead.account_id is not None else None
    own = company_domain(lead.email) if lead.email is not None else None
    domain = account.domain if account is not None else own
    if domain is None:
        raise ValidationError(
            f"{lead.reference} has no company domain (a free-mail address, or none): "
            "suppress the address, or the colleagues one by one"
        )
    return f"@{domain}"


def move_to_account(session: Session, email: str, key: str, *, by: str | None, now: datetime) -> dict[str, Any]:
    """Put the lead ``email`` in the account of the explicit ``key`` (created if new), recorded as a move.

    The lead keeps its owner; a manager reassigns the account when it should change hands.
    """
    from cadence.services.enrollments import get_lead

    if clean_key(key) is None:
        raise ValidationError("give the account's key (a name such as Globex Group)")
    lead = get_lead(session, email)
    before = session.get(Account, lead.account_id) if lead.account_id is not None else None
    account = place_lead(session, lead, explicit=key, now=now)
    if before is not None and before.id == account.id:
        return {"email": lead.reference, "account": label(account), "moved": False}
    if account.owner_id is None:
        account.owner_id = lead.owner_id
    note = f"{lead.reference} moved from {label(before) if before else 'no account'} to {label(account)}"
    _record(session, "move", account, other=before, lead_ids=[lead.id], by=by, now=now, note=note)
    session.flush()
    return {"email": lead.reference, "account": label(account), "moved": True}
