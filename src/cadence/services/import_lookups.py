"""What one chunk of an import reads from the database, read once for the whole chunk.

An import used to ask the database, for every row, whether the address was suppressed, which
account it joined, whether the cadence version was stored, and whether the lead had an enrollment:
some twenty round trips a row. :class:`ChunkLookups` reads the suppressions and accounts that a
chunk's rows can meet in a few queries (bounded by the chunk, never a scan of a table), answers
from memory after that, and makes the chunk's new accounts and enrollments without a query each,
so that they are written together at the chunk's flush.

It answers exactly as :func:`~cadence.services.suppression.is_suppressed`,
:func:`~cadence.services.accounts.account_for` and
:func:`~cadence.services.enrollments.start_enrollment` would inside the chunk's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Account, Suppression
from cadence.core.accounts import AccountMatch, MatchedBy, account_match
from cadence.core.cadences import Cadence
from cadence.core.enrollment import State
from cadence.core.event_data import Position
from cadence.core.events import next_due_at
from cadence.core.leads import LeadData
from cadence.core.schedule import LeadCalendar
from cadence.services.accounts import add_account, find_account, new_account
from cadence.services.cadence_versions import pin_cadence
from cadence.services.enrollments import REPLY_GRACE_DAYS

IN_LIST = 500
"""Values per ``IN (...)`` list: well under every database's limit on bound parameters."""


class ChunkLookups:
    """Suppressions and accounts for the rows of one chunk, read in a few queries; new enrollments made in memory."""

    def __init__(self, session: Session, rows: Sequence[LeadData]) -> None:
        """Read the suppressions of the rows' addresses and domains and the accounts their rows can join."""
        self._session = session
        values = {value for data in rows if data.email for value in _suppression_values(data.email)}
        self._suppressed: set[str] = set()
        for part in _parts(sorted(values)):
            self._suppressed.update(session.scalars(select(Suppression.value).where(Suppression.value.in_(part))))
        self._by_key: dict[str, Account] = {}
        self._by_domain: dict[str, Account] = {}
        self._by_name: dict[str, Account] = {}
        matches = [account_match(data.email, data.company, data.account) for data in rows]
        keys = sorted({match.key for match in matches})
        domains = sorted({match.domain for match in matches if match.domain is not None})
        names = sorted({match.name_key for match in matches if match.name_key is not None})
        for part in _parts(domains):
            query = select(Account).where(Account.domain.in_(part), Account.merged_into_id.is_(None))
            self._remember(session.scalars(query.order_by(Account.id)))
        for part in _parts(names):
            query = select(Account).where(Account.name_key.in_(part), Account.merged_into_id.is_(None))
            self._remember(session.scalars(query.order_by(Account.id)))
        self._asked = set(keys)
        for part in _parts(keys):  # last: the oldest account of a domain or a name is the one that answers for it
            self._remember(session.scalars(select(Account).where(Account.key.in_(part))))
        self._pinned: set[tuple[str, str]] = set()
        self._first_due: dict[tuple[str, str, str, str | None], datetime | None] = {}

    def is_suppressed(self, email: str) -> bool:
        """True when ``email`` or its domain is suppressed (as :func:`~cadence.services.suppression.is_suppressed`)."""
        return any(value in self._suppressed for value in _suppression_values(email))

    def find_account(self, match: AccountMatch) -> Account | None:
        """The account ``match`` names, as :func:`~cadence.services.accounts.find_account` finds it.

        A match that none of the chunk's rows gave (a known lead's stored company) is looked up in the database.
        """
        if match.key not in self._asked:
            found = find_account(self._session, match)
            if found is not None:
                self._remember([found])
            return found
        found = self._by_key.get(match.key)
        if found is None and match.matched_by is MatchedBy.DOMAIN and match.domain is not None:
            found = self._by_domain.get(match.domain)
        if found is None and match.matched_by is MatchedBy.COMPANY and match.name_key is not None:
            found = self._by_name.get(match.name_key)
        return self._followed(found) if found is not None else None

    def account_for(
        self, email: str, company: str | None, *, explicit: str | None = None, now: datetime, flush: bool = True
    ) -> Account:
        """The account of a lead at ``email`` working at ``company``, created if new (see
        :func:`~cadence.services.accounts.account_for`); ``flush=False`` leaves a new one for the next flush."""
        match = account_match(email, company, explicit)
        found = self.find_account(match)
        if found is not None:
            if found.name is None and company:
                found.name = company[:500]
            return found
        account = new_account(match, company, explicit, now=now)
        if flush:
            account = add_account(self._session, account, match)
        else:  # written with the chunk's other rows; a clash there is RowsRefused, and the rows go one by one
            self._session.add(account)
        self._remember([account])
        return account

    def new_enrollment(
        self, cadence: Cadence, *, timezone: str, country: str | None, priority: int | None, now: datetime
    ) -> dict[str, Any]:
        """The column values of a new enrollment in ``cadence`` with Day 0 at ``now`` (its ``lead_id`` left to set).

        What :func:`~cadence.services.enrollments.start_enrollment` writes for a lead created in this
        chunk's transaction, without its checks for an enrollment under way (a lead nobody else can see
        yet has none) and for a suppression (the caller asked :meth:`is_suppressed`), with each cadence
        version pinned once per chunk, and the first step's time computed once per cadence, time zone
        and country (``timezone``: the lead's, else its owner's, else the default, as
        :func:`~cadence.services.cadence_versions.lead_timezone` says).
        """
        key = (cadence.name, cadence.version)
        if key not in self._pinned:
            pin_cadence(self._session, cadence, now)
            self._pinned.add(key)
        where = (cadence.name, cadence.version, timezone, country)
        if where not in self._first_due:
            start = Position(state=State.ACTIVE, enrolled_at=now, anchor_at=now)
            calendar = LeadCalendar.for_lead(cadence.settings, timezone, country)
            self._first_due[where] = next_due_at(start, cadence, calendar, grace_days=REPLY_GRACE_DAYS)
        return {
            "cadence_name": cadence.name,
            "cadence_version": cadence.version,
            "state": State.ACTIVE.value,
            "enrolled_at": now,
            "anchor_at": now,
            "next_step": 0,
            "next_due_at": self._first_due[where],
            "priority": priority if priority is not None else 2,
        }

    def _remember(self, accounts: Iterable[Account]) -> None:
        """Index accounts by key, and the first unmerged one of each domain and company name (oldest first)."""
        for account in accounts:
            self._by_key.setdefault(account.key, account)
            if account.merged_into_id is None:
                if account.domain is not None:
                    self._by_domain.setdefault(account.domain, account)
                if account.name_key is not None:
                    self._by_name.setdefault(account.name_key, account)

    def _followed(self, account: Account) -> Account:
        """The account that took ``account``'s contacts when it was merged (itself when it was not)."""
        seen = {account.id}
        while account.merged_into_id is not None:
            account = self._session.get_one(Account, account.merged_into_id)
            if account.id in seen:  # pragma: no cover - a cycle is refused by merge_accounts
                break
            seen.add(account.id)
        return account


def _suppression_values(email: str) -> tuple[str, str]:
    """The address and the ``@domain`` that suppress ``email``."""
    address = email.lower()
    return address, "@" + address.rsplit("@", 1)[-1]


def _parts(values: list[str]) -> Iterable[list[str]]:
    """``values`` in lists of at most :data:`IN_LIST`."""
    for start in range(0, len(values), IN_LIST):
        yield values[start : start + IN_LIST]
