"""Addresses worth a second look before a cadence emails them (pure: no I/O).

Two kinds are flagged:

- ``role``: a mailbox of a function, not of a person (``info@``, ``sales@``, ``support@``, ...). A
  cadence written to one person reads oddly there, several people may answer, and such mailboxes
  complain more often. The names are the ones of RFC 2142 plus the usual functions of a company.
- ``disposable``: a domain of a throw-away mail service, from the list of the
  ``disposable-email-domains`` package (the community list of the GitHub project of the same name,
  released on PyPI as it changes, with an allowlist that keeps known false positives out). A
  subdomain of a listed domain counts too.

Flags are advice for intake: the shell decides what to do with them (warn, hold, reject).
"""

from __future__ import annotations

from disposable_email_domains import blocklist as _DISPOSABLE_DOMAINS

from cadence.core.leads import normalize_email

ROLE = "role"
"""The flag of an address that names a function (``sales@``), not a person."""
DISPOSABLE = "disposable"
"""The flag of an address at a throw-away mail service."""

ROLE_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        # RFC 2142, "Mailbox names for common services, roles and functions"
        "info",
        "marketing",
        "sales",
        "support",
        "abuse",
        "noc",
        "security",
        "postmaster",
        "hostmaster",
        "usenet",
        "news",
        "webmaster",
        "www",
        "uucp",
        "ftp",
        # the usual functions of a company
        "accounting",
        "accounts",
        "admin",
        "administrator",
        "billing",
        "bookings",
        "careers",
        "contact",
        "contactus",
        "customercare",
        "customerservice",
        "enquiries",
        "enquiry",
        "feedback",
        "finance",
        "hello",
        "help",
        "helpdesk",
        "hr",
        "inquiries",
        "inquiry",
        "invoices",
        "jobs",
        "legal",
        "mail",
        "media",
        "newsletter",
        "no-reply",
        "noreply",
        "do-not-reply",
        "donotreply",
        "office",
        "orders",
        "press",
        "privacy",
        "purchasing",
        "reception",
        "recruiting",
        "recruitment",
        "service",
        "team",
    }
)
"""Local parts (before any ``+tag``) that name a function rather than a person, lower case."""


def address_flags(email: str) -> set[str]:
    """The flags of an email address: a subset of ``{ROLE, DISPOSABLE}``, empty for a person's address.

    The address is normalized first (case, Unicode); a ``+tag`` does not hide a role
    (``sales+emea@`` is ``sales@``), nor does a subdomain hide a disposable domain. Raises
    :class:`~cadence.errors.ValidationError` for a string that is not an email address.
    """
    return normalized_address_flags(normalize_email(email))


def normalized_address_flags(email: str) -> set[str]:
    """:func:`address_flags` of an address :func:`~cadence.core.leads.normalize_email` gave already (a lead's).

    It is not validated again: an import flags every row's address, which its validation normalized.
    """
    local, _, domain = email.rpartition("@")
    flags: set[str] = set()
    if local.lower().partition("+")[0] in ROLE_LOCAL_PARTS:
        flags.add(ROLE)
    if any(candidate in _DISPOSABLE_DOMAINS for candidate in _domain_and_parents(_ascii_domain(domain))):
        flags.add(DISPOSABLE)
    return flags


def _ascii_domain(domain: str) -> str:
    """The domain in lower-case ASCII (an internationalized one in its ``xn--`` form), as the list writes it."""
    domain = domain.lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:  # not encodable: it cannot be on an ASCII list either
        return domain


def _domain_and_parents(domain: str) -> list[str]:
    """``a.b.example.com`` -> ``a.b.example.com``, ``b.example.com``, ``example.com`` (never a bare TLD)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]
