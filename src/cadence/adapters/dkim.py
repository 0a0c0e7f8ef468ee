"""DKIM signatures on outgoing mail (dkimpy), with the private key of a sending domain.

Signing is relaxed/relaxed (RFC 6376 3.4.2 and 3.4.4: survives the re-folding and white-space
changes of relays) and covers the headers a receiver judges a message by: From, To, Subject, Date,
Message-ID, the reply and thread headers, List-Unsubscribe and List-Unsubscribe-Post (Gmail and
Yahoo require one-click unsubscribe to be signed), and the MIME headers. From, To, Subject, Date,
Message-ID and the List-Unsubscribe headers are signed once more than they occur ("oversigned"),
so that a copy of one added on the way breaks the signature instead of being shown.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cadence.errors import CadenceError, shown

SIGNED_HEADERS: tuple[str, ...] = (
    "from",
    "to",
    "cc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)
"""The headers signed when present, lower case."""
OVERSIGNED: frozenset[str] = frozenset(
    {"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"}
)
"""Headers signed one extra time, so that none can be added after signing."""
MIN_RSA_BITS = 1024
"""Receivers ignore signatures by shorter RSA keys (RFC 8301)."""


class DkimError(CadenceError):
    """A message could not be DKIM-signed."""


class DkimKeyError(DkimError):
    """The DKIM private key cannot be used."""


@dataclass(frozen=True)
class DkimKey:
    """An RSA private key for DKIM, as PKCS#1 PEM (the form dkimpy reads), and its size."""

    pem: bytes
    bits: int

    def public_record(self) -> str:
        """The TXT record to publish at ``SELECTOR._domainkey.DOMAIN``: ``v=DKIM1; k=rsa; p=...``."""
        from cryptography.hazmat.primitives import serialization

        private = serialization.load_pem_private_key(self.pem, password=None)
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def parse_private_key(data: bytes, *, source: str = "the DKIM key") -> DkimKey:
    """Read an unencrypted RSA private key in PEM (PKCS#1 ``RSA PRIVATE KEY`` or PKCS#8 ``PRIVATE KEY``).

    Raises :class:`DkimKeyError` saying what is wrong: not PEM, encrypted, not RSA, or shorter
    than :data:`MIN_RSA_BITS`. ``source`` names the key in those messages (e.g. the file).
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if b"-----BEGIN" not in data:
        raise DkimKeyError(f"{source} is not a PEM private key (a text file starting with -----BEGIN ...)")
    if b"ENCRYPTED" in data:
        raise DkimKeyError(f"{source} is protected by a passphrase: export it without one")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # a passphrase is needed after all
        raise DkimKeyError(f"{source} is protected by a passphrase: export it without one") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise DkimKeyError(f"{source} is not a readable PEM private key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimKeyError(f"{source} is not an RSA key: DKIM signing here uses RSA (2048 bits recommended)")
    if key.key_size < MIN_RSA_BITS:
        raise DkimKeyError(
            f"{source} is {key.key_size} bits: receivers ignore DKIM keys under {MIN_RSA_BITS} bits; use 2048"
        )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return DkimKey(pem=pem, bits=key.key_size)


def load_private_key(path: Path) -> DkimKey:
    """Read a DKIM private key file (see :func:`parse_private_key`).

    A missing or unreadable file, like a bad key, is a :class:`DkimKeyError` naming the file.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DkimKeyError(f"the DKIM key file {path} does not exist") from None
    except IsADirectoryError:
        raise DkimKeyError(f"the DKIM key file {path} is a directory") from None
    except OSError as exc:
        raise DkimKeyError(f"the DKIM key file {path} cannot be read: {exc.strerror}") from None
    return parse_private_key(data, source=f"the DKIM key file {path}")


def headers_to_sign(present: Sequence[str]) -> list[str]:
    """The ``h=`` list for a message with the header names ``present``: those of :data:`SIGNED_HEADERS` it has,
    in that order, then the :data:`OVERSIGNED` ones once more."""
    names = {name.lower() for name in present}
    signed = [name for name in SIGNED_HEADERS if name in names]
    return signed + [name for name in signed if name in OVERSIGNED]


def sign_message(message: bytes, *, domain: str, selector: str, key: DkimKey) -> bytes:
    """``message`` with a ``DKIM-Signature`` header for ``domain`` and ``selector`` prepended.

    The message's own line endings are kept (``\\n`` as :meth:`EmailMessage.as_bytes` writes, or
    ``\\r\\n``). Raises :class:`DkimError` for a message dkimpy cannot sign (no From, malformed headers).
    """
    import dkim

    linesep = b"\r\n" if b"\r\n" in message else b"\n"
    try:
        signer = dkim.DKIM(message, linesep=linesep, minkey=MIN_RSA_BITS)
        present = [name.decode("ascii", errors="replace") for name, _ in signer.headers]
        include = headers_to_sign(present)
        if "from" not in include:
            raise DkimError("the message has no From header: it cannot be DKIM-signed")
        signature: bytes = signer.sign(
            selector.encode("ascii"),
            domain.encode("ascii"),
            key.pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[name.encode("ascii") for name in include],
        )
    except UnicodeEncodeError:
        raise DkimError(f"the domain {shown(domain)} and selector {shown(selector)} must be ASCII") from None
    except dkim.DKIMException as exc:
        raise DkimError(f"the message could not be DKIM-signed: {exc}") from exc
    return signature + message
