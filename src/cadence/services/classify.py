"""Reading message files and saying what each reply says (``cadence inbound classify``), without a database.

:func:`classify_files` reads each ``.eml`` file, parses it and reads its intent with
:func:`cadence.core.intent.read_message`; ops use it to check the rules on their own mail. A file
that cannot be read (missing, a directory, too large, binary, not a message) gives a one-line error
in its result instead of stopping the others.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

from cadence.core.intent import Reading, read_message

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
"""The largest message file read (bytes): larger than any mail server accepts."""

_MESSAGE_HEADERS = ("from", "date", "subject", "message-id", "received", "return-path", "to", "mime-version")


class NotAMessage(ValueError):
    """The file is not an email message."""


def parse_message(data: bytes) -> Message:
    """``data`` parsed as an RFC 5322 message; raises :class:`NotAMessage` when it is not one.

    A message has at least one of the usual header fields (From, Date, Subject, Message-ID, Received,
    Return-Path, To, MIME-Version) and no NUL byte in its headers.
    """
    head = data[:65_536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if b"\x00" in head:
        raise NotAMessage("not a message (binary data)")
    message = email.message_from_bytes(data, policy=email.policy.default)
    try:
        names = {str(name).lower() for name in message}
    except Exception:  # the parser kept headers it cannot name
        names = set()
    if not names.intersection(_MESSAGE_HEADERS):
        raise NotAMessage("not a message (no From, Date or Subject header)")
    return message


def reading_as_dict(file: str, reading: Reading) -> dict[str, Any]:
    """A reading as the JSON object of ``cadence inbound classify``.

    ``{"file", "intent", "confidence", "date", "referral": {"name", "email", "phone"} | null, "evidence"}``
    """
    return {
        "file": file,
        "intent": reading.intent,
        "confidence": reading.confidence,
        "date": reading.date.isoformat() if reading.date else None,
        "referral": reading.referral.as_dict() if reading.referral else None,
        "evidence": list(reading.evidence),
    }


def read_file(path: Path) -> bytes:
    """The bytes of a message file; raises :class:`OSError` or :class:`NotAMessage` with a one-line reason."""
    if not path.exists():
        raise NotAMessage("no such file")
    if not path.is_file():
        raise NotAMessage("not a file")
    if path.stat().st_size > MAX_MESSAGE_BYTES:
        raise NotAMessage(f"too large (over {MAX_MESSAGE_BYTES // (1024 * 1024)} MB)")
    data = path.read_bytes()
    if not data.strip():
        raise NotAMessage("empty file")
    return data


def classify_files(paths: Iterable[str | Path], *, at: datetime | None = None) -> list[dict[str, Any]]:
    """What each message file says, in order: :func:`reading_as_dict`, or ``{"file", "error"}`` for a bad file.

    ``at`` resolves relative dates in a message that has no ``Date`` header (by default they stay
    unknown). Never raises for a bad file: its error is one line, such as ``no such file`` or
    ``not a message (binary data)``.
    """
    results: list[dict[str, Any]] = []
    for item in paths:
        name = str(item).encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # a name the OS gave as bytes
        try:
            message = parse_message(read_file(Path(item)))
        except NotAMessage as exc:
            results.append({"file": name, "error": str(exc)})
            continue
        except OSError as exc:
            results.append({"file": name, "error": exc.strerror or type(exc).__name__})
            continue
        results.append(reading_as_dict(name, read_message(message, at=at)))
    return results
