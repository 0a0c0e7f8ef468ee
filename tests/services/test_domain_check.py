"""Checking a sending domain's SPF, DKIM and DMARC, read from a private DNS server."""

from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from cadence.adapters.dns import DnsConfig, TxtLookup
from cadence.errors import ValidationError
from cadence.services.domain_check import COMMON_SELECTORS, DomainReport, check_domain, normalize_domain
from tests.support.servers import DnsServerFactory

Records = dict[str, list[str]]
Check = Callable[..., DomainReport]


@functools.cache
def rsa_key(bits: int) -> str:
    """The base64 DER of an RSA public key of ``bits`` (under 1024 made from numbers: no library generates one)."""
    if bits >= 1024:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    else:
        key = rsa.RSAPublicNumbers(65537, secrets.randbits(bits) | (1 << (bits - 1)) | 1).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def ed25519_key() -> str:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    return base64.b64encode(raw).decode()


GOOD: Records = {
    "acme.test": ["v=spf1 include:_spf.mailer.test ~all", "some-verification=123"],
    "_spf.mailer.test": ["v=spf1 ip4:192.0.2.0/24 -all"],
    "s1._domainkey.acme.test": [f"v=DKIM1; k=rsa; p={rsa_key(2048)}"],
    "_dmarc.acme.test": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.test"],
}


@pytest.fixture
def check(dns_server: DnsServerFactory) -> Check:
    """check(records, domain, selectors) -> the report, read through DNS from a server serving ``records``."""

    def run(records: Records, domain: str = "acme.test", selectors: tuple[str, ...] = ()) -> DomainReport:
        server = dns_server(records)
        lookup = TxtLookup(DnsConfig(nameservers=(server.host,), port=server.port))
        return check_domain(domain, lookup, selectors)

    return run


def messages(report: DomainReport, severity: str) -> list[str]:
    return [f"{f.record}: {f.message}" for f in report.findings if f.severity == severity]


def test_a_well_set_up_domain_has_no_problem_and_its_records_are_shown(check: Check) -> None:
    report = check(GOOD)
    assert report.ok, report.findings
    assert messages(report, "problem") == messages(report, "warning") == []
    assert report.spf == "v=spf1 include:_spf.mailer.test ~all"
    assert set(report.dkim) == {"s1"}
    assert report.dmarc == "v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.test"
    assert messages(report, "ok") == [
        "SPF: SPF is published (1 of 10 DNS lookups).",
        "DKIM: DKIM key of selector s1: RSA, 2048 bits.",
        "DMARC: DMARC policy is p=quarantine.",
    ]


@pytest.mark.parametrize(
    ("spf", "expected"),
    [
        ([], "No SPF record"),
        (["v=spf1 +all"], "SPF ends with +all"),
        (["v=spf1 mx all"], "SPF ends with +all"),
        (["v=spf1 -all", "v=spf1 include:_spf.mailer.test ~all"], "2 SPF records"),
        (["v=spf1 include:gone.test ~all"], "SPF includes gone.test, which has no SPF record"),
        (["v=spf1 " + " ".join(f"a:host{i}.acme.test" for i in range(11)) + " -all"], "SPF needs 11 DNS lookups"),
        (["v=spf1 include:_spf.mailer.test " + " ".join(f"mx:m{i}.test" for i in range(10)) + " -all"], "needs 11"),
        (["v=spf1 include:loop.test -all"], "SPF needs"),  # loop.test includes itself
        (["v=spf1 a/24 mx/24 " + " ".join(f"exists:e{i}.test" for i in range(9)) + " -all"], "SPF needs 11"),
    ],
)
def test_spf_problems_are_named(check: Check, spf: list[str], expected: str) -> None:
    records = {**GOOD, "acme.test": spf, "loop.test": ["v=spf1 include:loop.test -all"]}
    report = check(records)
    assert not report.ok
    problems = messages(report, "problem")
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("SPF") for p in problems), problems


@pytest.mark.parametrize(
    ("spf", "expected"),
    [
        ("v=spf1 ip4:192.0.2.1 ?all", "?all (neutral)"),
        ("v=spf1 ip4:192.0.2.1", "does not say what to do"),
        ("v=spf1 ptr -all", "ptr mechanism"),
    ],
)
def test_spf_weaknesses_are_warnings(check: Check, spf: str, expected: str) -> None:
    report = check({**GOOD, "acme.test": [spf]})
    assert report.ok
    assert any(expected in w for w in messages(report, "warning")), report.findings


def test_a_redirect_counts_as_the_end_of_spf_and_its_lookups_count(check: Check) -> None:
    report = check({**GOOD, "acme.test": ["v=spf1 redirect=_spf.mailer.test"]})
    assert report.ok
    assert messages(report, "warning") == []
    assert "SPF: SPF is published (1 of 10 DNS lookups)." in messages(report, "ok")


@pytest.mark.parametrize(
    ("dkim", "severity", "expected"),
    [
        ("v=DKIM1; k=rsa; p=", "problem", "revoked (empty p=)"),
        (f"v=DKIM1; k=rsa; p={rsa_key(512)}", "problem", "is 512 bits: receivers ignore keys under 1024"),
        (f"v=DKIM1; k=rsa; p={rsa_key(1024)}", "warning", "is 1024 bits; 2048 is the norm"),
        (f"v=DKIM1; t=y; p={rsa_key(2048)}", "warning", "test mode (t=y)"),
        ("v=DKIM1; k=rsa; p=not*base64", "problem", "not valid base64"),
        ("v=DKIM1; k=rsa; p=AAAA", "problem", "not an RSA public key"),
        ("v=DKIM1; k=dsa; p=AAAA", "problem", "unknown type k=dsa"),
        (f"v=DKIM1; k=ed25519; p={ed25519_key()}", "ok", "Ed25519"),
    ],
    # the keys are random: ids of their own keep test names equal across pytest-xdist workers
    ids=["revoked", "rsa-512", "rsa-1024", "test-mode", "not-base64", "not-rsa", "k=dsa", "ed25519"],
)
def test_dkim_keys_are_judged(check: Check, dkim: str, severity: str, expected: str) -> None:
    report = check({**GOOD, "s1._domainkey.acme.test": [dkim]}, selectors=("s1",))
    found = messages(report, severity)
    assert any(expected in m and m.startswith("DKIM") for m in found), report.findings


def test_a_selector_given_without_a_key_is_a_problem_and_the_others_are_not_tried(check: Check) -> None:
    report = check(GOOD, selectors=("s2", "s1"))
    assert messages(report, "problem") == [
        "DKIM: No DKIM key at s2._domainkey.acme.test: mail signed with selector s2 fails DKIM. Publish the "
        "public key your mail provider (or `cadence domains add`) gives you as a TXT record at "
        "s2._domainkey.acme.test."
    ]
    assert set(report.dkim) == {"s1"}


def test_without_selectors_the_common_ones_are_tried(check: Check) -> None:
    records = {name: value for name, value in GOOD.items() if "_domainkey" not in name}
    assert "No DKIM key found for acme.test under the usual selectors" in " ".join(messages(check(records), "problem"))
    for selector in ("google", "selector2", "k1"):
        report = check({**records, f"{selector}._domainkey.acme.test": [f"p={rsa_key(2048)}"]})
        assert report.ok, report.findings
        assert set(report.dkim) == {selector}
    assert "s1" in COMMON_SELECTORS


@pytest.mark.parametrize(
    ("dmarc", "severity", "expected"),
    [
        ([], "problem", "No DMARC record: Gmail and Yahoo require one"),
        (["v=DMARC1; p=none; rua=mailto:d@acme.test"], "warning", "p=none: it only monitors"),
        (["v=DMARC1; p=quarantine"], "warning", "no reports (no rua=)"),
        (["v=DMARC1; p=reject; pct=20; rua=mailto:d@acme.test"], "warning", "only 20%"),
        (["v=DMARC1; p=maybe"], "problem", "no valid policy"),
        (["v=DMARC1; p=reject", "v=DMARC1; p=none"], "problem", "2 DMARC records"),
        (["some other text"], "problem", "No DMARC record"),
    ],
)
def test_dmarc_is_judged(check: Check, dmarc: list[str], severity: str, expected: str) -> None:
    report = check({**GOOD, "_dmarc.acme.test": dmarc})
    assert any(expected in m and m.startswith("DMARC") for m in messages(report, severity)), report.findings


def test_a_subdomain_falls_under_its_parents_dmarc_and_its_subdomain_policy(check: Check) -> None:
    records = {
        **GOOD,
        "mail.acme.test": GOOD["acme.test"],
        "s1._domainkey.mail.acme.test": GOOD["s1._domainkey.acme.test"],
        "_dmarc.acme.test": ["v=DMARC1; p=reject; sp=none; rua=mailto:d@acme.test"],
    }
    report = check(records, domain="mail.acme.test")
    assert report.dmarc == "v=DMARC1; p=reject; sp=none; rua=mailto:d@acme.test"
    assert any("p=none (inherited from acme.test)" in w for w in messages(report, "warning")), report.findings


@pytest.mark.parametrize("value", ["", "acme", "not a domain", "acme..test", "-acme.test", "a" * 64 + ".test"])
def test_what_is_not_a_domain_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValidationError, match="is not a domain name"):
        normalize_domain(value)


def test_a_domain_is_read_in_lower_case_ascii_and_an_address_gives_its_domain() -> None:
    assert normalize_domain(" Acme.TEST. ") == "acme.test"
    assert normalize_domain("jane@acme.test") == "acme.test"
    assert normalize_domain("bücher.test") == "xn--bcher-kva.test"


def test_a_bad_selector_is_a_clear_error(check: Check) -> None:
    with pytest.raises(ValidationError, match="is not a DKIM selector"):
        check(GOOD, selectors=("s1; rm",))
