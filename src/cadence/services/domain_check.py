"""Is a sending domain set up to be trusted? SPF, DKIM and DMARC read from DNS, explained for a marketer.

Gmail and Yahoo (2024) require SPF, DKIM and DMARC of bulk senders; a domain that lacks one sees its
mail land in spam or bounce. :func:`check_domain` reads the records through a TXT lookup (the DNS
adapter, or anything with its signature) and returns findings: what is missing or wrong, and what
to do about it, in words that need no RFC.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from cadence.errors import ValidationError, shown

TxtLookup = Callable[[str], list[str]]
"""Returns the TXT records of a name (``[]`` for none); the DNS adapter's :class:`~cadence.adapters.dns.TxtLookup`."""

Severity = Literal["problem", "warning", "ok"]

COMMON_SELECTORS: tuple[str, ...] = (
    "default",
    "dkim",
    "mail",
    "k1",
    "k2",
    "s1",
    "s2",
    "selector1",
    "selector2",
    "google",
    "smtp",
    "mandrill",
    "cadence",
)
"""DKIM selectors tried when none is given: the defaults of common mail services and servers."""

SPF_LOOKUP_LIMIT = 10
"""RFC 7208 4.6.4: an SPF check that needs more DNS lookups fails (permerror), as if there were no SPF."""
MIN_RSA_BITS = 1024
"""Receivers ignore RSA DKIM keys shorter than this (RFC 8301)."""
GOOD_RSA_BITS = 2048

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9](?:[a-z0-9_-]{0,62}))*$", re.IGNORECASE)
_LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")


@dataclass(frozen=True)
class Finding:
    """One thing found: about which record, how bad, and what to do, in plain words."""

    record: Literal["SPF", "DKIM", "DMARC"]
    severity: Severity
    message: str


@dataclass
class DomainReport:
    """What :func:`check_domain` found for a domain, with the records it read."""

    domain: str
    findings: list[Finding] = field(default_factory=list)
    spf: str | None = None
    dmarc: str | None = None
    dkim: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is a problem (warnings may remain)."""
        return not any(f.severity == "problem" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def _add(self, record: Literal["SPF", "DKIM", "DMARC"], severity: Severity, message: str) -> None:
        self.findings.append(Finding(record, severity, message))


def normalize_domain(value: str) -> str:
    """A domain name in lower-case ASCII, or a :class:`ValidationError` saying it is not one."""
    text = value.strip().rstrip(".").lower()
    if "@" in text:
        text = text.rpartition("@")[2]
    try:
        ascii_text = text.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_text = ""
    if not _DOMAIN.match(ascii_text):
        raise ValidationError(f"{shown(value)} is not a domain name (e.g. acme.com)")
    return ascii_text


def check_domain(domain: str, lookup: TxtLookup, selectors: Sequence[str] = ()) -> DomainReport:
    """Read SPF, DKIM (``selectors``, or :data:`COMMON_SELECTORS`) and DMARC of ``domain`` and judge them.

    Raises :class:`ValidationError` for a domain or selector that is not one; the DNS adapter's
    :class:`~cadence.adapters.dns.DnsUnavailable` when DNS cannot be asked.
    """
    name = normalize_domain(domain)
    for selector in selectors:
        if not _SELECTOR.match(selector):
            raise ValidationError(f"{shown(selector)} is not a DKIM selector (letters, digits, '-', '_', '.')")
    report = DomainReport(domain=name)
    _check_spf(report, lookup)
    _check_dkim(report, lookup, tuple(s.lower() for s in selectors))
    _check_dmarc(report, lookup)
    return report


# -- SPF -----------------------------------------------------------------------------------------


def _spf_records(records: list[str]) -> list[str]:
    return [r for r in records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]


def _check_spf(report: DomainReport, lookup: TxtLookup) -> None:
    domain = report.domain
    records = _spf_records(lookup(domain))
    if not records:
        report._add(
            "SPF",
            "problem",
            f"No SPF record: receiving servers cannot tell which servers may send mail for {domain}, and Gmail "
            f"and Yahoo send such mail to spam or refuse it. Add one TXT record at {domain}, such as "
            '"v=spf1 include:<your mail provider\'s SPF domain> ~all" (your provider names the include).',
        )
        return
    if len(records) > 1:
        report._add(
            "SPF",
            "problem",
            f"{len(records)} SPF records at {domain}: there must be exactly one, or receivers ignore them all. "
            "Merge them into one record (one v=spf1, the includes of both, one ~all at the end).",
        )
    report.spf = records[0]
    terms = records[0].split()[1:]
    final = [t for t in terms if t.lower().lstrip("+-~?") == "all"]
    redirect = any(t.lower().startswith("redirect=") for t in terms)
    if any(t.lower() in {"all", "+all"} for t in final):
        report._add(
            "SPF",
            "problem",
            "SPF ends with +all: it allows every server in the world to send as "
            f"{domain}, which is the same as having no SPF. Change the end of the record to ~all (or -all).",
        )
    elif any(t.lower() == "?all" for t in final):
        report._add(
            "SPF",
            "warning",
            "SPF ends with ?all (neutral): it says nothing about other servers. End it with ~all or -all.",
        )
    elif not final and not redirect:
        report._add(
            "SPF",
            "warning",
            "SPF does not say what to do with mail from other servers. End the record with ~all (or -all).",
        )
    if any(t.lower().lstrip("+-~?").split(":")[0] == "ptr" for t in terms):
        report._add(
            "SPF",
            "warning",
            "SPF uses the ptr mechanism, which is deprecated and ignored by some receivers: remove it.",
        )
    lookups, broken = _count_lookups(records[0], lookup, seen={domain}, depth=0)
    for target in broken:
        report._add(
            "SPF",
            "problem",
            f"SPF includes {target}, which has no SPF record: receivers treat the whole SPF as broken. "
            "Remove that include, or correct the name your mail provider gave you.",
        )
    if lookups > SPF_LOOKUP_LIMIT:
        report._add(
            "SPF",
            "problem",
            f"SPF needs {lookups} DNS lookups; receivers stop at {SPF_LOOKUP_LIMIT} and then treat it as broken. "
            "Remove includes of services you no longer send with, or ask your provider for a flattened record.",
        )
    if not any(f.record == "SPF" and f.severity == "problem" for f in report.findings):
        report._add("SPF", "ok", f"SPF is published ({lookups} of {SPF_LOOKUP_LIMIT} DNS lookups).")


def _count_lookups(record: str, lookup: TxtLookup, *, seen: set[str], depth: int) -> tuple[int, list[str]]:
    """DNS lookups an SPF check of ``record`` costs, following include and redirect, and includes without SPF."""
    count = 0
    broken: list[str] = []
    for term in record.split()[1:]:
        name, _, argument = term.lower().lstrip("+-~?").partition(":")
        name = name.partition("/")[0]  # a/24, mx/24: a prefix length after the mechanism
        if name.startswith("redirect="):
            name, argument = "redirect", name.partition("=")[2]
        if name not in _LOOKUP_TERMS:
            continue
        count += 1
        if name not in {"include", "redirect"} or not argument or "%" in argument:
            continue
        if argument in seen or depth >= SPF_LOOKUP_LIMIT:  # a loop, or deeper than any valid record goes
            count += SPF_LOOKUP_LIMIT
            continue
        nested = _spf_records(lookup(argument))
        if not nested:
            broken.append(argument)
            continue
        more, more_broken = _count_lookups(nested[0], lookup, seen=seen | {argument}, depth=depth + 1)
        count += more
        broken += more_broken
    return count, broken


# -- DKIM ----------------------------------------------------------------------------------------


def _tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), "".join(value.split()))
    return tags


def _check_dkim(report: DomainReport, lookup: TxtLookup, selectors: tuple[str, ...]) -> None:
    domain = report.domain
    for selector in selectors or COMMON_SELECTORS:
        name = f"{selector}._domainkey.{domain}"
        records = [r for r in lookup(name) if "p=" in r.replace(" ", "")]
        if not records:
            if selectors:
                report._add(
                    "DKIM",
                    "problem",
                    f"No DKIM key at {name}: mail signed with selector {selector} fails DKIM. Publish the public "
                    f"key your mail provider (or `cadence domains add`) gives you as a TXT record at {name}.",
                )
            continue
        report.dkim[selector] = records[0]
        _judge_dkim_key(report, selector, name, _tags(records[0]))
    if not selectors and not report.dkim:
        report._add(
            "DKIM",
            "problem",
            f"No DKIM key found for {domain} under the usual selectors ({', '.join(COMMON_SELECTORS)}). Without "
            "DKIM, Gmail and Yahoo send your mail to spam. If you sign with another selector, run this again "
            "with --selector NAME; otherwise set up DKIM signing and publish its key.",
        )


def _judge_dkim_key(report: DomainReport, selector: str, name: str, tags: dict[str, str]) -> None:
    key = tags.get("p", "")
    if tags.get("v", "DKIM1") != "DKIM1":
        report._add("DKIM", "problem", f"The DKIM record at {name} does not start with v=DKIM1: correct it.")
        return
    if not key:
        report._add(
            "DKIM",
            "problem",
            f"The DKIM key of selector {selector} is revoked (empty p=): mail signed with it fails. "
            "Sign with a current selector, or publish a new key.",
        )
        return
    try:
        der = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        report._add("DKIM", "problem", f"The DKIM key at {name} is not valid base64: publish it again, unchanged.")
        return
    kind = tags.get("k", "rsa").lower()
    if kind == "ed25519":
        if len(der) != 32:
            report._add("DKIM", "problem", f"The Ed25519 DKIM key at {name} is not 32 bytes: publish it again.")
        else:
            report._add("DKIM", "ok", f"DKIM key of selector {selector}: Ed25519.")
        return
    if kind != "rsa":
        report._add("DKIM", "problem", f"The DKIM key at {name} has an unknown type k={kind}: use rsa.")
        return
    bits = _rsa_bits(der)
    if bits is None:
        report._add("DKIM", "problem", f"The DKIM key at {name} is not an RSA public key: publish it again.")
    elif bits < MIN_RSA_BITS:
        report._add(
            "DKIM",
            "problem",
            f"The DKIM key of selector {selector} is {bits} bits: receivers ignore keys under {MIN_RSA_BITS} "
            f"bits. Generate a {GOOD_RSA_BITS}-bit key and publish it.",
        )
    elif bits < GOOD_RSA_BITS:
        report._add(
            "DKIM",
            "warning",
            f"The DKIM key of selector {selector} is {bits} bits; {GOOD_RSA_BITS} is the norm now. "
            "Plan to rotate to a 2048-bit key.",
        )
    else:
        report._add("DKIM", "ok", f"DKIM key of selector {selector}: RSA, {bits} bits.")
    if "y" in tags.get("t", "").split(":"):
        report._add(
            "DKIM",
            "warning",
            f"The DKIM key of selector {selector} is in test mode (t=y): receivers may ignore its signatures. "
            "Remove t=y once signing works.",
        )


def _rsa_bits(der: bytes) -> int | None:
    """The size of an RSA public key in DER (SubjectPublicKeyInfo, or a bare RSAPublicKey), or None."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        key = load_der_public_key(der)
    except ValueError:
        return None
    return key.key_size if isinstance(key, rsa.RSAPublicKey) else None


# -- DMARC ---------------------------------------------------------------------------------------


def _check_dmarc(report: DomainReport, lookup: TxtLookup) -> None:
    domain = report.domain
    found_at, records = domain, []
    labels = domain.split(".")
    # A subdomain without a record of its own falls under its organizational domain's (RFC 7489 6.6.3).
    for i in range(len(labels) - 1):
        found_at = ".".join(labels[i:])
        records = [r for r in lookup(f"_dmarc.{found_at}") if _tags(r).get("v", "").upper() == "DMARC1"]
        if records:
            break
    if not records:
        report._add(
            "DMARC",
            "problem",
            f"No DMARC record: Gmail and Yahoo require one of bulk senders. Add a TXT record at _dmarc.{domain} "
            'such as "v=DMARC1; p=none; rua=mailto:dmarc-reports@' + domain + '", read the reports for a few '
            "weeks, then move to p=quarantine.",
        )
        return
    if len(records) > 1:
        report._add(
            "DMARC",
            "problem",
            f"{len(records)} DMARC records at _dmarc.{found_at}: receivers ignore them all. Keep one.",
        )
    report.dmarc = records[0]
    tags = _tags(records[0])
    inherited = found_at != domain
    policy = (tags["sp"] if inherited and "sp" in tags else tags.get("p", "")).lower()
    where = f" (inherited from {found_at})" if inherited else ""
    if policy not in {"none", "quarantine", "reject"}:
        report._add(
            "DMARC",
            "problem",
            f"The DMARC record{where} has no valid policy (p=none, quarantine or reject): receivers ignore it. "
            "Add p=none to start with.",
        )
        return
    if policy == "none":
        report._add(
            "DMARC",
            "warning",
            f"DMARC policy is p=none{where}: it only monitors, and mail forged in your name is still delivered. "
            "Once the reports show your own mail passing, change it to p=quarantine.",
        )
    if "rua" not in tags:
        report._add(
            "DMARC",
            "warning",
            f"DMARC{where} asks for no reports (no rua=): you will not see who sends as {domain}. "
            f"Add rua=mailto:dmarc-reports@{domain}.",
        )
    pct = tags.get("pct", "100")
    if pct != "100" and policy != "none":
        report._add(
            "DMARC",
            "warning",
            f"DMARC applies p={policy} to only {pct}% of failing mail{where}. Raise pct to 100 when ready.",
        )
    if policy != "none":
        report._add("DMARC", "ok", f"DMARC policy is p={policy}{where}.")
