"""The settings of a sending mailbox as a person gives them, checked once for every edge.

``cadence mailboxes add`` and the managers' form in the workspace both pass a :class:`MailboxFields`
to :func:`check`, which returns the settings ready to store, or raises :class:`InvalidMailbox`
naming each field that is wrong and why: the CLI prints the reasons, the form shows each beside
its field. Numbers may come as typed text (the form) or as ints (the CLI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Rep, SendingMailbox
from cadence.core.leads import normalize_email
from cadence.core.pacing import MAX_DAILY, Ramp, parse_ramp
from cadence.errors import CadenceError, ValidationError
from cadence.services.reps import get_rep

TlsMode = Literal["none", "starttls", "tls"]
_T = TypeVar("_T")
TLS_MODES: tuple[TlsMode, ...] = ("none", "starttls", "tls")
IMAP_PORTS: dict[str, int] = {"tls": 993, "starttls": 143, "none": 143}
"""The usual IMAP port of each TLS mode, used when none is given."""


class InvalidMailbox(ValidationError):
    """The mailbox's settings are not valid."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(self.problems.values()))


@dataclass(frozen=True)
class MailboxFields:
    """A sending mailbox's settings as given (names as the form's fields; the CLI's options are the same)."""

    address: str
    rep: str
    smtp_host: str
    daily_cap: int | str | None
    smtp_port: int | str | None = 587
    smtp_tls: str = "starttls"
    smtp_username: str | None = None
    password_block: str | None = None
    per_minute: int | str | None = None
    ramp: str | None = None
    imap_host: str | None = None
    imap_port: int | str | None = None
    imap_tls: str = "tls"
    imap_username: str | None = None
    imap_password_block: str | None = None
    imap_folder: str | None = None


@dataclass(frozen=True)
class ImapFields:
    """A mailbox's own inbox, checked (``username`` None: the mailbox's address)."""

    host: str
    port: int
    tls: TlsMode
    username: str | None
    password_block: str
    folder: str


@dataclass
class CheckedMailbox:
    """A mailbox's settings, checked and normalized, ready to store."""

    address: str
    rep: Rep
    smtp_host: str
    smtp_port: int
    smtp_tls: TlsMode
    smtp_username: str | None
    password_block: str | None
    daily_cap: int
    per_minute: int | None
    ramp: Ramp | None
    imap: ImapFields | None
    existing: SendingMailbox | None = field(default=None, repr=False)
    """The removed mailbox of the same address, which comes back with these settings."""


def host_name(value: str, what: str = "SMTP host") -> str:
    """``value`` as a host name (lower case, no trailing dot); :class:`ValidationError` when it is none."""
    host = value.strip().lower().rstrip(".")
    if not host or len(host) > 253 or any(c.isspace() or c in "/@:\\" for c in host) or not host.isascii():
        raise ValidationError(
            f"{what} {value!r} is not a host name or address (e.g. {what.split()[0].lower()}.yourco.example)"
        )
    return host


def whole_number(value: int | str | None, name: str) -> int | None:
    """``value`` as an int (None when empty); :class:`ValidationError` when it is not a whole number."""
    if value is None or isinstance(value, int):
        return value
    text = value.strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValidationError(f"{name} must be a whole number, not {value[:40]!r}")
    return int(text)


def limit(name: str, value: int | None, *, required: bool = False) -> int | None:
    """A daily or per-minute cap: from 1 to :data:`MAX_DAILY` (``required``: not None)."""
    if value is None:
        if required:
            raise ValidationError(f"{name} is required")
        return None
    if not 1 <= value <= MAX_DAILY:
        raise ValidationError(f"{name} must be from 1 to {MAX_DAILY:,}, not {value}")
    return value


def block_name(value: str | None, what: str = "password block") -> str | None:
    """A Prefect block name (letters, digits, ``-`` and ``_``), or None when empty."""
    block = (value or "").strip()
    if block and (len(block) > 200 or not block.replace("-", "").replace("_", "").isalnum() or not block.isascii()):
        raise ValidationError(f"{what} {value!r} is not a Prefect block name (letters, digits, - and _)")
    return block or None


def _port(value: int | str | None, what: str, default: int) -> int:
    port = whole_number(value, f"the {what} port")
    if port is None:
        return default
    if not 1 <= port <= 65535:
        raise ValidationError(f"{what} port must be from 1 to 65535, not {port}")
    return port


def _tls(value: str, what: str) -> TlsMode:
    mode = (value or "").strip().lower()
    for known in TLS_MODES:
        if mode == known:
            return known
    raise ValidationError(f"{what} TLS must be none, starttls or tls, not {value!r}")


def _folder(value: str | None) -> str:
    folder = (value or "").strip() or "INBOX"
    if len(folder) > 500 or any(ord(c) < 32 or ord(c) == 127 for c in folder):
        raise ValidationError(
            f"IMAP folder {value!r} is not a folder name (at most 500 characters, no control characters)"
        )
    return folder


def _try(problems: dict[str, str], name: str, rule: Callable[[], _T]) -> _T | None:
    """``rule()``, or None with its error kept as the problem of field ``name``."""
    try:
        return rule()
    except CadenceError as exc:  # a rep that does not exist is NotFound: still that field's problem
        problems[name] = str(exc)
        return None


def _user(problems: dict[str, str], name: str, value: str | None, what: str) -> str | None:
    username = (value or "").strip() or None
    if username is not None and (len(username) > 320 or any(ord(c) < 33 for c in username)):
        problems[name] = f"{what} user name {username[:40]!r} has spaces or control characters"
    return username


def _imap(fields: MailboxFields, problems: dict[str, str]) -> ImapFields | None:
    if not (fields.imap_host or "").strip():
        given = (fields.imap_port, fields.imap_username, fields.imap_password_block, fields.imap_folder)
        if any(str(v).strip() for v in given if v is not None):
            problems["imap_host"] = "an IMAP host is needed for the other IMAP settings (or leave them all empty)"
        return None
    host = _try(problems, "imap_host", lambda: host_name(fields.imap_host or "", "IMAP host"))
    tls = _try(problems, "imap_tls", lambda: _tls(fields.imap_tls, "IMAP"))
    port = _try(problems, "imap_port", lambda: _port(fields.imap_port, "IMAP", IMAP_PORTS[tls or "tls"]))
    folder = _try(problems, "imap_folder", lambda: _folder(fields.imap_folder))
    block = _try(problems, "imap_password_block", lambda: block_name(fields.imap_password_block, "IMAP password block"))
    if block is None and "imap_password_block" not in problems:
        problems["imap_password_block"] = (
            "the IMAP password must come from a Prefect Secret block: give its name (as for the SMTP password)"
        )
    username = _user(problems, "imap_username", fields.imap_username, "IMAP")
    if host is None or tls is None or port is None or folder is None or block is None:
        return None
    return ImapFields(host=host, port=port, tls=tls, username=username, password_block=block, folder=folder)


def check(session: Session, fields: MailboxFields) -> CheckedMailbox:
    """``fields`` checked against every rule (and the reps and mailboxes in ``session``), or :class:`InvalidMailbox`
    naming each wrong field (keys as :class:`MailboxFields`'s names)."""
    problems: dict[str, str] = {}
    address = _try(problems, "address", lambda: normalize_email(fields.address))
    rep = _try(problems, "rep", lambda: get_rep(session, fields.rep))
    smtp_host = _try(problems, "smtp_host", lambda: host_name(fields.smtp_host))
    smtp_port = _try(problems, "smtp_port", lambda: _port(fields.smtp_port, "SMTP", 587))
    smtp_tls = _try(problems, "smtp_tls", lambda: _tls(fields.smtp_tls, "SMTP"))
    cap = _try(problems, "daily_cap", lambda: limit("the daily cap", whole_number(fields.daily_cap, "the daily cap"),
                                                   required=True))  # fmt: skip
    minute = "the per-minute cap"
    per_minute = _try(problems, "per_minute", lambda: limit(minute, whole_number(fields.per_minute, minute)))
    text = (fields.ramp or "").strip()
    ramp = _try(problems, "ramp", lambda: parse_ramp(text) if text else None)
    block = _try(problems, "password_block", lambda: block_name(fields.password_block))
    username = _user(problems, "smtp_username", fields.smtp_username, "SMTP")
    imap = _imap(fields, problems)
    existing = None
    if address is not None:
        existing = session.scalar(select(SendingMailbox).where(SendingMailbox.address == address))
        if existing is not None and existing.state != "removed":
            problems["address"] = f"the mailbox {address} exists already (`cadence mailboxes list`)"
    if problems:
        raise InvalidMailbox(problems)
    # no problem: each was checked
    assert address is not None
    assert rep is not None
    assert smtp_host is not None
    assert smtp_port is not None
    assert smtp_tls is not None
    assert cap is not None
    return CheckedMailbox(address=address, rep=rep, smtp_host=smtp_host, smtp_port=smtp_port, smtp_tls=smtp_tls,
                          smtp_username=username, password_block=block, daily_cap=cap, per_minute=per_minute,
                          ramp=ramp, imap=imap, existing=existing)  # fmt: skip
