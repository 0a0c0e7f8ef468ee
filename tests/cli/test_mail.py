"""``cadence mail check-domain``: a domain's SPF, DKIM and DMARC in words, or JSON, read over DNS."""

from __future__ import annotations

import pytest

from tests.conftest import Cli
from tests.support.servers import DnsServerFactory

RECORDS = {
    "acme.test": ["v=spf1 +all"],
    "_dmarc.acme.test": ["v=DMARC1; p=none; rua=mailto:d@acme.test"],
}


@pytest.fixture
def cli() -> Cli:
    """The CLI with a database that cannot be reached: checking a domain must not need one."""
    return Cli({"CADENCE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=1"})


def test_text_says_what_to_fix_for_each_record(cli: Cli, dns_server: DnsServerFactory) -> None:
    server = dns_server(RECORDS)
    dns = ("--nameserver", server.host, "--dns-port", str(server.port))
    out = cli("mail", "check-domain", "Acme.test", *dns, "--selector", "s1").stdout.splitlines()
    assert out[0] == "acme.test: 2 problem(s) to fix"
    assert out[1].startswith("  PROBLEM  SPF   SPF ends with +all: it allows every server in the world")
    assert out[2].startswith("  PROBLEM  DKIM  No DKIM key at s1._domainkey.acme.test")
    assert out[3].startswith("  warning  DMARC DMARC policy is p=none: it only monitors")
    assert len(out) == 4


def test_json_gives_the_findings_and_the_records(cli: Cli, dns_server: DnsServerFactory) -> None:
    server = dns_server(RECORDS)
    dns = ("--nameserver", server.host, "--dns-port", str(server.port))
    report = cli("mail", "check-domain", "acme.test", *dns, "--json").json()
    assert report["domain"] == "acme.test"
    assert report["ok"] is False
    assert report["spf"] == "v=spf1 +all"
    assert report["dmarc"] == RECORDS["_dmarc.acme.test"][0]
    assert report["dkim"] == {}
    assert [(f["record"], f["severity"]) for f in report["findings"]] == [
        ("SPF", "problem"),
        ("DKIM", "problem"),
        ("DMARC", "warning"),
    ]


def test_bad_input_and_an_unreachable_dns_are_one_line_errors(cli: Cli) -> None:
    result = cli("mail", "check-domain", "not a domain", expect=1)
    assert result.stderr == "error: 'not a domain' is not a domain name (e.g. acme.com)\n"
    result = cli(
        "mail",
        "check-domain",
        "acme.test",
        "--nameserver",
        "127.0.0.1",
        "--dns-port",
        "9",
        "--timeout",
        "0.5",
        expect=1,
    )
    assert result.stderr.startswith("error: ")
    assert "acme.test" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    result = cli("mail", "check-domain", "acme.test", "--nameserver", "dns.example", expect=1)
    assert result.stderr == "error: 'dns.example' is not the IP address of a DNS server (e.g. 1.1.1.1)\n"
