"""DKIM signing of messages built as cadence builds them, sent over SMTP, verified with the key from DNS."""

from __future__ import annotations

import asyncio
import email
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cadence.adapters.dkim import (
    DkimError,
    DkimKey,
    DkimKeyError,
    headers_to_sign,
    load_private_key,
    parse_private_key,
    sign_message,
)
from cadence.adapters.dns import DnsConfig, TxtLookup
from cadence.adapters.mail import build_message
from cadence.adapters.smtp_sink import SmtpSink
from tests.support.servers import DnsServerFactory

DOMAIN = "acme.test"
SELECTOR = "s1"
Verify = Callable[[bytes], bool]


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, *, pkcs8: bool = True, password: bytes = b"") -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8 if pkcs8 else serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption(),
    )


@functools.cache
def rsa_private(bits: int = 2048, seed: int = 0) -> rsa.RSAPrivateKey:
    """A key per (bits, seed), generated once: ``seed`` only tells keys apart."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return parse_private_key(pem(rsa_private()))


@pytest.fixture
def verify(dns_server: DnsServerFactory, key: DkimKey) -> Verify:
    """Verifies a message's DKIM signature with dkimpy, the public key read from a DNS server that serves it."""
    other = parse_private_key(pem(rsa_private(seed=1)))
    server = dns_server(
        {
            f"{SELECTOR}._domainkey.{DOMAIN}": [key.public_record()],
            f"old._domainkey.{DOMAIN}": [other.public_record()],
        }
    )
    lookup = TxtLookup(DnsConfig(nameservers=(server.host,), port=server.port))
    asked: list[str] = []

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        asked.append(name.decode().rstrip("."))
        records = lookup(asked[-1])
        return records[0].encode() if records else None

    def run(message: bytes) -> bool:
        asked.clear()
        result = bool(dkim.verify(message, dnsfunc=txt, minkey=1024))
        assert asked, "the verifier asked DNS for the key"
        return result

    return run


def message(**overrides: object) -> bytes:
    """A message built by cadence's own build_message: text and HTML, non-ASCII names, List-Unsubscribe."""
    fields: dict[str, object] = {
        "from_name": "Zoë Rep",
        "from_address": f"zoe@{DOMAIN}",
        "to_address": "jane@customer.example",
        "to_name": "Jane Müller",
        "subject": "Quick question about Acme's rollout — 5 minutes?",
        "text": "Hi Jane,\n\nA line long enough to be folded by some relays " + "and then some " * 12 + "\n",
        "html": "<p>Hi Jane,</p><p>Ünïcode and a <a href='https://acme.test/x'>link</a>.</p>",
        "message_id": f"<touch-1@{DOMAIN}>",
        "date": datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        "reply_to": f"zoe@{DOMAIN}",
        "headers": {
            "List-Unsubscribe": f"<https://{DOMAIN}/u/abc>, <mailto:unsubscribe@{DOMAIN}?subject=abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    fields.update(overrides)
    return build_message(**fields).as_bytes()  # type: ignore[arg-type]


def through_smtp(sink: SmtpSink, raw: bytes) -> bytes:
    """Send ``raw`` to the sink over SMTP (aiosmtplib, a client other than cadence's) and return what it received."""
    send = aiosmtplib.send(
        raw, sender=f"zoe@{DOMAIN}", recipients=["jane@customer.example"], hostname="127.0.0.1", port=sink.port
    )
    asyncio.run(send)
    (received,) = sink.raw_messages()
    return received


def test_a_signed_message_verifies_after_travelling_over_smtp(
    smtp_sink: SmtpSink, key: DkimKey, verify: Verify
) -> None:
    raw = message()
    signed = sign_message(raw, domain=DOMAIN, selector=SELECTOR, key=key)
    assert signed.endswith(raw)
    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.test;")
    received = through_smtp(smtp_sink, signed)
    assert received != signed  # line endings and the like changed on the way, and it still verifies
    assert verify(received)


def test_the_signature_covers_the_headers_that_matter_and_oversigns_the_key_ones(key: DkimKey) -> None:
    signed = sign_message(message(), domain=DOMAIN, selector=SELECTOR, key=key)
    header = "".join(str(email.message_from_bytes(signed)["DKIM-Signature"]).split())
    tags = dict(tag.split("=", 1) for tag in header.split(";"))
    signed_headers = tags["h"].split(":")
    assert signed_headers == [
        "from",
        "to",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ]
    assert tags["s"] == "s1"
    assert tags["d"] == "acme.test"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda m: m.replace(b"Quick question", b"Quick offer", 1), id="subject changed"),
        pytest.param(lambda m: m.replace(b"Hi Jane", b"Hi Joan", 1), id="body changed"),
        pytest.param(lambda m: m.replace(b"/u/abc>", b"/u/evil>", 1), id="unsubscribe link changed"),
        pytest.param(lambda m: m.replace(b"\nSubject:", b"\nFrom: ceo@acme.test\nSubject:", 1), id="From added"),
        pytest.param(lambda m: m.replace(b"\nSubject:", b"\nList-Unsubscribe-Post: x\nSubject:", 1), id="header added"),
    ],
)
def test_a_message_changed_after_signing_fails(
    smtp_sink: SmtpSink, key: DkimKey, verify: Verify, tamper: Callable[[bytes], bytes]
) -> None:
    received = through_smtp(smtp_sink, sign_message(message(), domain=DOMAIN, selector=SELECTOR, key=key))
    assert verify(received), "untouched, it verifies"
    tampered = tamper(received)
    assert tampered != received
    assert not verify(tampered)


def test_relays_adding_trace_headers_and_refolding_white_space_do_not_break_it(key: DkimKey, verify: Verify) -> None:
    signed = sign_message(message(), domain=DOMAIN, selector=SELECTOR, key=key)
    relayed = b"Received: from relay.example by mx.example; Mon, 7 Dec 2026 09:30:01 +0000\n" + signed
    relayed = relayed.replace(b"\nSubject: ", b"\nSubject:    ", 1)
    assert verify(relayed)


def test_a_signature_by_another_key_than_the_one_published_fails(key: DkimKey, verify: Verify) -> None:
    other = parse_private_key(pem(rsa_private(seed=2)))
    assert not verify(sign_message(message(), domain=DOMAIN, selector=SELECTOR, key=other))
    assert not verify(sign_message(message(), domain=DOMAIN, selector="old", key=key))
    assert not verify(sign_message(message(), domain=DOMAIN, selector="missing", key=key))


def test_crlf_messages_are_signed_as_they_are(smtp_sink: SmtpSink, key: DkimKey, verify: Verify) -> None:
    raw = message().replace(b"\n", b"\r\n")
    signed = sign_message(raw, domain=DOMAIN, selector=SELECTOR, key=key)
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert verify(through_smtp(smtp_sink, signed))


def test_headers_to_sign_keeps_the_order_and_ignores_what_is_absent_or_unknown() -> None:
    assert headers_to_sign(["X-Mailer", "Subject", "From"]) == ["from", "subject", "from", "subject"]
    assert headers_to_sign(["Content-Type", "Received"]) == ["content-type"]


def test_a_message_without_from_is_a_clear_error(key: DkimKey) -> None:
    with pytest.raises(DkimError, match="no From header"):
        sign_message(b"Subject: hi\n\nbody\n", domain=DOMAIN, selector=SELECTOR, key=key)
    with pytest.raises(DkimError, match="must be ASCII"):
        sign_message(message(), domain="bücher.test", selector=SELECTOR, key=key)


def test_key_files_in_pkcs1_or_pkcs8_are_read_and_give_the_record_to_publish(tmp_path: Path, key: DkimKey) -> None:
    for name, data in (("pkcs8.pem", pem(rsa_private())), ("pkcs1.pem", pem(rsa_private(), pkcs8=False))):
        (tmp_path / name).write_bytes(data)
        loaded = load_private_key(tmp_path / name)
        assert loaded == key
        assert loaded.bits == 2048
    assert key.public_record().startswith("v=DKIM1; k=rsa; p=MIIBIjAN")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        (b"", "is not a PEM private key"),
        (b"ssh-rsa AAAAB3NzaC1yc2E jane@laptop\n", "is not a PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n", "not a readable PEM"),
        ("encrypted", "protected by a passphrase"),
        ("ec", "is not an RSA key"),
        ("public", "not a readable PEM"),
        ("directory", "is a directory"),
    ],
)
def test_a_bad_key_file_is_a_clear_error(tmp_path: Path, content: bytes | str | None, expected: str) -> None:
    path = tmp_path / "dkim.pem"
    if content == "encrypted":
        path.write_bytes(pem(rsa_private(), password=b"secret"))
    elif content == "ec":
        path.write_bytes(pem(ec.generate_private_key(ec.SECP256R1())))
    elif content == "public":
        path.write_bytes(
            rsa_private()
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    elif content == "directory":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(DkimKeyError, match=expected) as caught:
        load_private_key(path)
    assert str(path) in str(caught.value)
