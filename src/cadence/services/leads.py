"""Leads: importing them (qualify, assign, enroll); what is shown of them is in :mod:`cadence.services.lead_views`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cadence.adapters.models import (
    Account,
    Decision,
    Enrollment,
    ImportChange,
    Lead,
    Rep,
)
from cadence.core.accounts import account_match
from cadence.core.addresses import DISPOSABLE, ROLE, normalized_address_flags
from cadence.core.cadences import Cadence
from cadence.core.leads import LEAD_FIELDS, LeadData
from cadence.core.qualification import Kind, Qualification, Rules, qualify
from cadence.core.webhooks import EventType
from cadence.errors import CadenceError, NotFound, ValidationError, database_problem
from cadence.services.cadence_versions import pinned_cadence
from cadence.services.enrollments import open_enrollment, schedule_next, start_enrollment
from cadence.services.erasure import erased_among
from cadence.services.import_lookups import ChunkLookups
from cadence.services.new_leads import NewLead, write_new
from cadence.services.reps import RoundRobin, get_rep, is_away
from cadence.services.webhooks import outbox
from cadence.settings import Settings

_CHUNK = 500


class ImportAborted(CadenceError):
    """The database refused the rows being written: they are not imported (the chunks before them are)."""


class RowsRefused(CadenceError):
    """The database refused rows written together (``flush_each=False``); importing them one by one names the row."""


@contextmanager
def _aborting_on_database_error(item: ImportRow, *, flush_each: bool) -> Iterator[None]:
    """Turn a database error while importing ``item`` into :class:`ImportAborted` naming its row.

    When rows are written together, the error may be another row's: it is :class:`RowsRefused`.
    """
    try:
        yield
    except SQLAlchemyError as exc:
        if not flush_each:
            raise RowsRefused(database_problem(exc)) from exc
        raise ImportAborted(
            f"row {item.row} ({item.lead.email}): the database refused it ({database_problem(exc)}), "
            "so the rows written with it were not imported"
        ) from exc


@dataclass(frozen=True)
class ImportRow:
    """One valid row of an import: its row number and the lead it carries."""

    row: int
    lead: LeadData

    @property
    def email(self) -> str:
        """The row's address: an import finds people by address (a phone-only contact is added as a colleague)."""
        if self.lead.email is None:
            raise ValidationError(f"row {self.row}: an imported person needs an email address")
        return self.lead.email


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    imported: int = 0
    updated: int = 0
    enrolled: int = 0
    names: int = 0
    unfit: int = 0
    suppressed: int = 0
    erased: int = 0
    """Rows of people who asked to be forgotten (counted in ``suppressed`` too): skipped, nothing stored."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    import_id: int | None = None
    rows: int = 0
    rejected_count: int | None = None
    """Rows rejected, when ``errors`` lists only the first :data:`MAX_LISTED` of them."""
    warnings: list[dict[str, Any]] = field(default_factory=list)
    """What a person may want to look at, each ``{"row", "warning"}``: a field normalized or left empty, an owner
    other than the account's, a role address (enrolled) or a disposable domain (not enrolled)."""
    warned: int = 0
    """Rows imported with a field normalized or left empty; the first warnings are in ``warnings``."""
    reasons: dict[str, int] = field(default_factory=dict)
    """Why the people not enrolled are not: each reason and how many people it holds back."""
    custom_columns: list[str] = field(default_factory=list)
    mapped_columns: dict[str, str] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        """How many rows were rejected."""
        return self.rejected_count if self.rejected_count is not None else len(self.errors)

    def add(self, other: ImportReport) -> None:
        """Add the counts of ``other`` (one chunk of the same import) to these."""
        for name in ("imported", "updated", "enrolled", "names", "unfit", "suppressed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for ``--json``)."""
        return {
            "import_id": self.import_id,
            "imported": self.imported,
            "updated": self.updated,
            "rejected": self.rejected,
            "enrolled": self.enrolled,
            "names": self.names,
            "unfit": self.unfit,
            "suppressed": self.suppressed,
            "dry_run": self.dry_run,
            "errors": self.errors,
            "warned": self.warned,
            "warnings": self.warnings,
            "not_enrolled": dict(sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))),
            "custom_columns": self.custom_columns,
            "mapped_columns": self.mapped_columns,
        }


MAX_LISTED = 1000
"""The most rejected rows (and rows with warnings) a report lists; the counts count them all."""

SNAPSHOT = [
    *LEAD_FIELDS[1 : LEAD_FIELDS.index("owner")],  # the imported fields, first_name to interactions
    "custom",
    "owner_id",
    "kind",
    "status",
    "persona_fit",
    "inbound",
    "source_rank",
    "lead_class",
    "priority",
    "cadence",
    "not_enrolled_reasons",
    "updated_at",
]
"""The columns of a lead an import may change, kept before it does so that ``--undo`` can put them back."""


def snapshot(lead: Lead) -> dict[str, Any]:
    """The :data:`SNAPSHOT` columns of ``lead`` as JSON-ready data."""
    values = {name: getattr(lead, name) for name in SNAPSHOT}
    values["updated_at"] = lead.updated_at.isoformat()
    return values


def lead_columns(data: LeadData) -> dict[str, Any]:
    """The lead's contact and profile columns as ``data`` (a validated row) gives them; None where empty."""
    return {
        "first_name": data.first_name,
        "last_name": data.last_name,
        "title": data.title,
        "company": data.company,
        "industry": data.industry,
        "company_size": data.company_size,
        "phone": data.phone,
        "linkedin_url": data.linkedin_url,
        "address_line1": data.address.line1,
        "address_line2": data.address.line2,
        "city": data.address.city,
        "region": data.address.region,
        "postal_code": data.address.postal_code,
        "country": data.address.country,
        "timezone": data.timezone,
    }


def _apply(lead: Lead, data: LeadData, *, creating: bool) -> bool:
    """Copy the given fields of ``data`` onto ``lead``; an empty cell keeps what we know. True if anything changed."""
    values = {**lead_columns(data), "source": data.source}
    changed = False
    for name, value in values.items():
        if (value is not None or creating) and getattr(lead, name) != value:
            setattr(lead, name, value)
            changed = True
    if creating or data.interactions > lead.interactions:
        # Interactions only grow: a list with an older count does not undo what we saw.
        lead.interactions = data.interactions
        changed = True
    if data.custom:
        merged = {**(lead.custom or {}), **data.custom}
        if merged != lead.custom:
            lead.custom = merged
            changed = True
    elif creating:
        lead.custom = {}
    return changed


def lead_data(lead: Lead) -> LeadData:
    """The stored lead as core data, for qualification and templates."""
    from cadence.core.leads import Address

    return LeadData(
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        title=lead.title,
        company=lead.company,
        industry=lead.industry,
        company_size=lead.company_size,
        phone=lead.phone,
        linkedin_url=lead.linkedin_url,
        address=Address(lead.address_line1, lead.address_line2, lead.city, lead.region, lead.postal_code, lead.country),
        timezone=lead.timezone,
        source=lead.source,
        interactions=lead.interactions,
        owner=lead.owner.email if lead.owner else None,
        custom={k: str(v) for k, v in (lead.custom or {}).items()},
    )


def _classification(
    result: Qualification, cadence_override: str | None, *, status: str | None, enrolled_anyway: bool
) -> dict[str, Any]:
    """The columns a qualification sets on a lead whose status is ``status``."""
    values: dict[str, Any] = {
        "kind": result.kind.value,
        "persona_fit": result.persona_fit,
        "inbound": result.inbound,
        "source_rank": result.source_rank,
        "lead_class": result.lead_class,
        "priority": result.priority,
    }
    if result.kind is Kind.LEAD:
        values["cadence"] = cadence_override or result.cadence
    elif not enrolled_anyway:  # enrolled anyway: keeps the cadence it was given
        values["cadence"] = None
    if status in (None, Kind.NAME.value, Kind.UNFIT.value, Kind.LEAD.value):
        values["status"] = result.kind.value
    return values


def _classify(lead: Lead, result: Qualification, cadence_override: str | None) -> None:
    anyway = lead.enrolled_anyway is not None
    for name, value in _classification(result, cadence_override, status=lead.status, enrolled_anyway=anyway).items():
        setattr(lead, name, value)


def import_leads(
    session: Session,
    rows: Sequence[ImportRow],
    *,
    now: datetime,
    settings: Settings,
    rules: Rules,
    cadences: dict[str, Cadence],
    default_owner: str | None = None,
    cadence_override: str | None = None,
    enroll: bool = True,
    journal: int | None = None,
    flush_each: bool = True,
) -> ImportReport:
    """Import validated rows: create or update each lead, qualify it, assign an owner and enroll new leads.

    A re-imported email updates its lead; it never duplicates it nor restarts its enrollment.
    A row whose owner is unknown gets the default owner (or round-robin) and a warning in the report.
    Each person not enrolled keeps why (``Lead.not_enrolled_reasons``), counted in ``report.reasons``.
    With ``journal`` (an :class:`~cadence.adapters.models.Import` id), each lead created or updated is
    recorded there with its fields before, for ``--undo``.
    Day 0 of a new enrollment is ``now``. The caller commits (or rolls back for a dry run).
    A database error on a row raises :class:`ImportAborted` naming that row; the caller's
    transaction then rolls back, so that nothing of the import is kept. With ``flush_each=False`` the
    rows are written together, at the end (a few statements for all of them instead of several per
    row), and a database error raises :class:`RowsRefused`: run the same rows again with
    ``flush_each=True`` in a new transaction to learn which row it was.
    """
    report = ImportReport()
    changes: list[tuple[Lead | NewLead, bool, bool]] = []  # (lead, created, qualified): their events, at the end
    if cadence_override is not None and cadence_override not in cadences:
        raise NotFound(f"no cadence named {cadence_override!r}; known: {', '.join(sorted(cadences))}")
    fallback_owner = get_rep(session, default_owner) if default_owner else None
    reps = {rep.email: rep for rep in session.scalars(select(Rep))}
    robin = RoundRobin(session, now=now)
    emails = list(dict.fromkeys(r.email for r in rows))
    erased = erased_among(session, settings, emails)
    existing: dict[str, Lead] = {}
    for start in range(0, len(emails), _CHUNK):
        chunk = emails[start : start + _CHUNK]
        found = session.scalars(select(Lead).where(Lead.email.in_(chunk)))
        existing.update({lead.email: lead for lead in found if lead.email is not None})
    lookups = ChunkLookups(session, [item.lead for item in rows if item.email not in erased])
    asked = {lead.id for lead in existing.values()}
    followed = _followed_before(session, sorted(asked))  # known leads, read at once; others asked one by one
    journaled: list[_Change] = []
    pending: dict[str, NewLead] = {}  # created by this chunk's rows, written together (write_new)
    if not flush_each and rows and (fallback_owner is not None or not robin.empty):
        # The new leads' accounts first, written together: each new lead below finds its own.
        made: set[str] = set()
        for item in rows:
            data, address = item.lead, item.email
            if address not in existing and address not in erased and address not in made:
                made.add(address)
                lookups.account_for(address, data.company, explicit=data.account, now=now, flush=False)
        with _aborting_on_database_error(rows[0], flush_each=False):
            session.flush()
    for item in rows:
        with _aborting_on_database_error(item, flush_each=flush_each):
            data, address = item.lead, item.email
            owner: Rep | None = None
            if data.owner is not None:
                owner = reps.get(data.owner)
                if owner is None:
                    report.warnings.append(
                        {"row": item.row, "warning": f"unknown owner {data.owner}: another rep was given the lead"}
                    )
            if address in erased:  # asked to be forgotten: neither stored nor enrolled again
                report.suppressed += 1
                report.erased += 1
                continue
            if address in pending:  # created by an earlier row of this chunk: written now, and updated as any lead
                write_new(session, pending)
                earlier = pending.pop(address)
                existing[address] = earlier.lead = session.scalars(select(Lead).where(Lead.email == address)).one()
                asked.add(earlier.lead.id)  # what it has is known: the enrollment this chunk gave it, and no decision
                if earlier.enrollment is not None:
                    followed.add(earlier.lead.id)
            lead = existing.get(address)
            if lead is None:
                if owner is None and fallback_owner is None and robin.empty and not _owned_account(lookups, data):
                    report.errors.append({"row": item.row, "reason": NO_OWNER})  # and no account made for nobody
                    continue
                account = lookups.account_for(address, data.company, explicit=data.account, now=now)
                owner = _owner_for(account, owner, fallback_owner, robin, item, report, now)
                if owner is None:
                    report.errors.append({"row": item.row, "reason": NO_OWNER})
                    continue
                if account.owner_id is None:
                    account.owner = owner
                new = _new_lead(
                    item, owner, account, now=now, rules=rules, cadence_override=cadence_override, report=report
                )
                pending[address] = new
                report.imported += 1
                qualified = new.values["kind"] == Kind.LEAD.value
                enrolled = qualified and _enroll_new(
                    new, lookups, cadences, owner, enroll=enroll, now=now, settings=settings, report=report
                )
                if journal is not None:
                    journaled.append(_Change(new, created=True, enrolled=enrolled))
                changes.append((new, True, qualified))
                if flush_each:
                    write_new(session, pending)
                continue
            change = _Change(lead, created=False, before=snapshot(lead)) if journal is not None else None
            changed = _apply(lead, data, creating=False)
            if data.account is not None or lead.account_id is None:
                lead.account_id = lookups.account_for(address, lead.company, explicit=data.account, now=now).id
            if data.role is not None and data.role != lead.buying_role:
                lead.buying_role, changed = data.role, True
            if owner is not None and owner is not lead.owner:
                robin.moved(lead.owner, owner)
                lead.owner = owner
                changed = True
            if changed:
                lead.updated_at = now
            report.updated += 1
            was_lead = lead.kind == Kind.LEAD.value
            result = qualify(lead_data(lead), rules)
            _classify(lead, result, cadence_override)
            lead.address_flag, lead.address_warning = address_flag(lead.email)
            _warn_flagged(item, lead.email, lead.address_flag, lead.address_warning, report)
            if flush_each:
                session.flush()
            if change is not None:
                journaled.append(change)
            qualified = result.kind is Kind.LEAD and not was_lead
            if qualified:
                changes.append((lead, False, qualified))
            if result.kind is not Kind.LEAD:
                if lead.enrolled_anyway is None:
                    lead.not_enrolled_reasons = list(result.reasons)
                    for reason in result.reasons:
                        report.reasons[reason] = report.reasons.get(reason, 0) + 1
                continue
            lead.not_enrolled_reasons = None
            if not enroll or lead.cadence is None:
                continue
            if lead.id in followed or (lead.id not in asked and _followed_before(session, [lead.id])):
                _reschedule_if_moved(session, lead, settings)
                continue
            if lookups.is_suppressed(address):
                lead.not_enrolled_reasons = [SUPPRESSED_REASON]
                report.reasons[SUPPRESSED_REASON] = report.reasons.get(SUPPRESSED_REASON, 0) + 1
                report.suppressed += 1
                continue
            if lead.address_flag == DISPOSABLE and lead.enrolled_anyway is None:
                why = _disposable_reason(address)
                lead.not_enrolled_reasons = [why]
                report.reasons[why] = report.reasons.get(why, 0) + 1
                continue  # the warning is on the lead and in the report
            start_enrollment(session, lead, cadences[lead.cadence], now=now, settings=settings)
            followed.add(lead.id)
            if change is not None:
                change.enrolled = True
            report.enrolled += 1
    try:
        session.flush()
        write_new(session, pending)
        if journaled:
            session.execute(
                insert(ImportChange).execution_options(render_nulls=True),
                [change.values(journal) for change in journaled],
            )
        if changes and (
            outbox.wanted(session, EventType.LEAD_CREATED) or outbox.wanted(session, EventType.LEAD_QUALIFIED)
        ):
            session.flush()
            outbox.record(
                session, [e for lead, c, q in changes for e in _lead_events(lead, created=c, qualified=q, at=now)]
            )
        session.flush()
    except SQLAlchemyError as exc:
        if flush_each or not rows:
            raise
        raise RowsRefused(database_problem(exc)) from exc
    return report


@dataclass
class _Change:
    """One row of an import's journal (:class:`ImportChange`): the lead created or updated, and its fields before."""

    lead: Lead | NewLead
    created: bool
    enrolled: bool = False
    before: dict[str, Any] | None = None

    def values(self, journal: int | None) -> dict[str, Any]:
        """Its columns, once its lead is written."""
        return {"import_id": journal, "lead_id": self.lead.id, "created": self.created, "enrolled": self.enrolled,
                "before": self.before}  # fmt: skip


def _new_lead(
    item: ImportRow,
    owner: Rep,
    account: Account,
    *,
    now: datetime,
    rules: Rules,
    cadence_override: str | None,
    report: ImportReport,
) -> NewLead:
    """The columns of the lead ``item`` creates, qualified and flagged, for ``owner`` at ``account``.

    What a new :class:`Lead` updated by :func:`_apply`, :func:`_classify` and :func:`flag_address` holds.
    """
    data = item.lead
    values: dict[str, Any] = {"email": data.email, "created_at": now, "updated_at": now, "owner_id": owner.id,
                              "account_id": account.id, "buying_role": data.role, **lead_columns(data),
                              "source": data.source, "interactions": data.interactions,
                              "custom": dict(data.custom)}  # fmt: skip
    stored = replace(data, owner=owner.email, account=None, role=None, warnings=())  # as lead_data() reads it back
    result = qualify(stored, rules)
    values.update(_classification(result, cadence_override, status=None, enrolled_anyway=False))
    values["address_flag"], values["address_warning"] = address_flag(data.email)
    _warn_flagged(item, data.email, values["address_flag"], values["address_warning"], report)
    values["not_enrolled_reasons"] = None if result.kind is Kind.LEAD else list(result.reasons)
    if result.kind is not Kind.LEAD:
        for reason in result.reasons:
            report.reasons[reason] = report.reasons.get(reason, 0) + 1
        report.names += 1 if result.kind is Kind.NAME else 0
        report.unfit += 1 if result.kind is Kind.UNFIT else 0
    return NewLead(values, owner)


def _enroll_new(
    new: NewLead,
    lookups: ChunkLookups,
    cadences: dict[str, Cadence],
    owner: Rep,
    *,
    enroll: bool,
    now: datetime,
    settings: Settings,
    report: ImportReport,
) -> bool:
    """Enroll the new lead ``new`` (a lead) unless it is suppressed or at a disposable address; True if enrolled."""
    values = new.values
    address, cadence = values["email"], values["cadence"]
    if not enroll or cadence is None:
        return False
    why = SUPPRESSED_REASON if lookups.is_suppressed(address) else None
    if why is None and values["address_flag"] == DISPOSABLE:
        why = _disposable_reason(address)
    if why is not None:
        values["not_enrolled_reasons"] = [why]
        report.reasons[why] = report.reasons.get(why, 0) + 1
        report.suppressed += 1 if why == SUPPRESSED_REASON else 0
        return False
    timezone = values["timezone"] or owner.timezone or settings.default_timezone  # as lead_timezone() says
    new.enrollment = lookups.new_enrollment(
        cadences[cadence], timezone=timezone, country=values["country"], priority=values["priority"], now=now
    )
    values["status"] = new.enrollment["state"]
    report.enrolled += 1
    return True


def _lead_events(lead: Lead | NewLead, *, created: bool, qualified: bool, at: datetime) -> list[outbox.Event]:
    """The webhook events of a lead an import created or qualified (:func:`outbox.lead_events`)."""
    if isinstance(lead, NewLead):
        if lead.lead is None:
            assert lead.id is not None, "written before its events"
            data = outbox.lead_data_of(lead.id, lead.values, lead.owner.email)
            return outbox.lead_events_of(lead.id, data, created=created, qualified=qualified, at=at)
        lead = lead.lead
    return outbox.lead_events(lead, created=created, qualified=qualified, at=at)


def _disposable_reason(address: str) -> str:
    """Why a lead at a disposable address is not enrolled."""
    return f"disposable address: {address.rpartition('@')[2]} is a throw-away inbox"


def _warn_flagged(
    item: ImportRow, email: str | None, flag: str | None, warning: str | None, report: ImportReport
) -> None:
    """Put a flagged address's warning in the report."""
    if flag is not None:
        report.warnings.append({"row": item.row, "email": email, "flag": flag, "warning": warning})


def _owner_for(
    account: Account,
    given: Rep | None,
    fallback: Rep | None,
    robin: RoundRobin,
    item: ImportRow,
    report: ImportReport,
    now: datetime,
) -> Rep | None:
    """The owner of a new lead: the row's, else its account's (ahead of round-robin, unless out of office at
    ``now``), else the fallback or the next rep in turn. A row's owner other than the account's wins, with a
    warning in the report."""
    current = account.owner if account.owner is not None and account.owner.active else None
    if current is not None and is_away(current, now):  # out of office: new contacts go elsewhere meanwhile
        current = None
    if given is not None:
        if current is not None and current.id != given.id:
            name = account.name or account.domain or account.key
            reason = f"owner {given.email} given, while the account {name} is {current.email}'s"
            report.warnings.append({"row": item.row, "warning": reason})
        return given
    if current is not None:
        robin.moved(None, current)
        return current
    return fallback or robin.next()


NO_OWNER = "no owner and no rep to assign: add one with `cadence reps add`"


def _owned_account(lookups: ChunkLookups, data: LeadData) -> bool:
    """True when the account a new lead ``data`` would join exists and has an active owner."""
    account = lookups.find_account(account_match(data.email, data.company, data.account))
    return account is not None and account.owner is not None and account.owner.active


def flag_address(lead: Lead) -> bool:
    """Flag a role address or a disposable domain on ``lead`` (with the warning people read); True when flagged.

    A role address (``info@``, ``sales@``) reaches a shared inbox, not a person: it is enrolled, with
    the warning. A disposable domain is a throw-away inbox: its lead is kept but not enrolled.
    """
    lead.address_flag, lead.address_warning = address_flag(lead.email)
    return lead.address_flag is not None


def address_flag(email: str | None) -> tuple[str | None, str | None]:
    """The flag of a lead's (normalized) address and the warning people read (see :func:`flag_address`)."""
    if email is None:  # known by phone only: no address to flag
        return None, None
    flags = normalized_address_flags(email)  # stored normalized
    domain = email.rpartition("@")[2]
    if DISPOSABLE in flags:
        return DISPOSABLE, (
            f"{domain} is a disposable email service: not enrolled (nobody reads a throw-away inbox, and mailing it "
            "hurts the sending domain); find a real address and import it"
        )
    if ROLE in flags:
        return ROLE, (
            f"{email.partition('@')[0]}@ is a role address (a shared inbox, not a person): enrolled, "
            "but look for a named contact"
        )
    return None, None


SUPPRESSED_REASON = "suppressed: the address or its domain is on the suppression list"


def _followed_before(session: Session, lead_ids: list[int]) -> set[int]:
    """The leads of ``lead_ids`` that have an enrollment or a decision (a re-import does not enroll them again)."""
    found: set[int] = set()
    for start in range(0, len(lead_ids), _CHUNK):
        part = lead_ids[start : start + _CHUNK]
        found.update(session.scalars(select(Enrollment.lead_id).where(Enrollment.lead_id.in_(part)).distinct()))
        found.update(session.scalars(select(Decision.lead_id).where(Decision.lead_id.in_(part)).distinct()))
    return found


def _reschedule_if_moved(session: Session, lead: Lead, settings: Settings) -> None:
    """A re-import may change the lead's time zone or country: re-place its next step."""
    enrollment = open_enrollment(session, lead)
    if enrollment is not None and enrollment.state == "active":
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        schedule_next(enrollment, cadence, settings)


def rows_from(parsed_rows: Iterable[Any]) -> list[ImportRow]:
    """Adapt the CSV adapter's parsed rows to :class:`ImportRow`."""
    return [ImportRow(row=r.row, lead=r.lead) for r in parsed_rows]


def require_rows(rows: Sequence[ImportRow]) -> None:
    """Refuse an import with nothing in it."""
    if not rows:
        raise ValidationError("no valid rows to import")
