"""TXT lookups through dnspython, against a private dnsmasq."""

from __future__ import annotations

import socket

import pytest

from cadence.adapters.dns import DnsConfig, DnsUnavailable, TxtLookup
from tests.support.ports import free_port
from tests.support.servers import DnsServerFactory

LONG = "v=DKIM1; k=rsa; p=" + "A" * 600


def test_records_are_read_whole_from_the_server_named(dns_server: DnsServerFactory) -> None:
    server = dns_server(
        {
            "acme.test": ["v=spf1 -all", "google-site-verification=abc"],
            "k1._domainkey.acme.test": [LONG],
        }
    )
    lookup = TxtLookup(DnsConfig(nameservers=(server.host,), port=server.port))
    assert sorted(lookup("acme.test")) == ["google-site-verification=abc", "v=spf1 -all"]
    # 600 characters are served as three strings of at most 255; they read as one record
    (line,) = [line for line in server.render_config().splitlines() if line.startswith("txt-record=k1.")]
    assert line.count('","') == 2
    assert lookup("k1._domainkey.acme.test") == [LONG]
    assert "query[TXT] k1._domainkey.acme.test" in server.log()


def test_a_name_without_records_or_that_does_not_exist_has_none(dns_server: DnsServerFactory) -> None:
    server = dns_server({"acme.test": ["v=spf1 -all"]})
    lookup = TxtLookup(DnsConfig(nameservers=(server.host,), port=server.port))
    assert lookup("nothing-here.acme.test") == []
    assert lookup("other.test") == []
    assert lookup("x" * 70 + ".acme.test") == []  # a label too long is no name at all


def test_a_server_that_does_not_answer_is_a_clear_error() -> None:
    # A UDP socket bound and never read: queries go nowhere, as to a firewalled server.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", free_port()))
        lookup = TxtLookup(DnsConfig(nameservers=("127.0.0.1",), port=silent.getsockname()[1], timeout=0.3))
        with pytest.raises(DnsUnavailable, match=r"no DNS server answered for acme\.test within 0\.3 s"):
            lookup("acme.test")
