"""Signed unsubscribe tokens (pure): HMAC-SHA256 over the address, URL-safe."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cadence.errors import ValidationError

_PURPOSE = b"cadence-unsubscribe-v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_unsubscribe(email: str, secret: str) -> str:
    """A token that proves we issued an unsubscribe link for ``email``."""
    address = email.lower().encode("utf-8")
    mac = hmac.new(secret.encode("utf-8"), _PURPOSE + address, hashlib.sha256).digest()
    return f"{_b64(address)}.{_b64(mac)}"


def verify_unsubscribe(token: str, secret: str) -> str:
    """The address a token was issued for; :class:`ValidationError` (saying nothing more) if it is not ours."""
    if not isinstance(token, str) or len(token) > 1000 or token.count(".") != 1:
        raise ValidationError("invalid token")
    encoded, signature = token.split(".")
    try:
        address = _unb64(encoded)
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        raise ValidationError("invalid token") from None
    expected = hmac.new(secret.encode("utf-8"), _PURPOSE + address, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise ValidationError("invalid token")
    try:
        return address.decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - we only sign UTF-8
        raise ValidationError("invalid token") from None
