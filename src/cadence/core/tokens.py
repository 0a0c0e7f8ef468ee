"""Signed tokens (pure): unsubscribe links, VERP bounce addresses and the contact form's start time; HMAC-SHA256."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from cadence.errors import ValidationError

_PURPOSE = b"cadence-unsubscribe-v1:"
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


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
    encoded = token.split(".")[0]
    if not _ALPHABET.fullmatch(token.replace(".", "", 1)):
        raise ValidationError("invalid token")
    try:
        address = _unb64(encoded).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationError("invalid token") from None
    # Only the exact token we issue is valid: lenient base64 would accept altered copies of it.
    if not hmac.compare_digest(token.encode("ascii"), sign_unsubscribe(address, secret).encode("ascii")):
        raise ValidationError("invalid token")
    return address


_BOUNCE_PURPOSE = b"cadence-bounce-v1:"
_BOUNCE_TOKEN = re.compile(r"([0-9]{1,18})-([0-9a-f]{20})")


def bounce_token(touch_id: int, secret: str) -> str:
    """The VERP token of a touch's envelope sender (``bounce+TOKEN@domain``): its id and an HMAC, lower case."""
    mac = hmac.new(secret.encode("utf-8"), _BOUNCE_PURPOSE + str(touch_id).encode("ascii"), hashlib.sha256)
    return f"{touch_id}-{mac.hexdigest()[:20]}"


def touch_of_bounce_token(token: str, secret: str) -> int | None:
    """The touch a VERP token was issued for; None when it is not one of ours (altered, guessed, foreign)."""
    found = _BOUNCE_TOKEN.fullmatch(token.strip().lower()) if isinstance(token, str) else None
    if found is None:
        return None
    touch_id = int(found.group(1))
    return touch_id if hmac.compare_digest(bounce_token(touch_id, secret), found.group(0)) else None


_FORM_PURPOSE = b"cadence-form-started-v1:"
_FORM_TOKEN = re.compile(r"([0-9]{1,15})\.([0-9a-f]{32})")


def form_started_token(at_ms: int, secret: str) -> str:
    """The token the contact form's page gets when it shows the form: the time (Unix ms) and an HMAC of it."""
    mac = hmac.new(secret.encode("utf-8"), _FORM_PURPOSE + str(at_ms).encode("ascii"), hashlib.sha256)
    return f"{at_ms}.{mac.hexdigest()[:32]}"


def form_started_at(token: str, secret: str) -> int | None:
    """The time (Unix ms) a form-start token was issued at; None when it is not one of ours (a number a script
    wrote, altered, guessed)."""
    found = _FORM_TOKEN.fullmatch(token.strip()) if isinstance(token, str) else None
    if found is None:
        return None
    at_ms = int(found.group(1))
    return at_ms if hmac.compare_digest(form_started_token(at_ms, secret), found.group(0)) else None
