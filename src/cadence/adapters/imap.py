"""Reading the replies mailbox over IMAP (aioimaplib), with our own errors.

Only what ``sync-replies`` needs: connect (TLS, STARTTLS or plain), log in, select a folder and
read its UIDVALIDITY, list the UIDs after the last one read, fetch messages by UID in small
batches (``BODY.PEEK[]``: reading does not mark them seen; only the first 512 KiB of each), log out.

aioimaplib ships no type hints; this module is the typed wrapper the rest of cadence uses.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Self

import aioimaplib  # type: ignore[import-untyped]

from cadence.errors import CadenceError

FETCH_BATCH = 20
"""Messages fetched per ``UID FETCH`` command."""
FETCH_BYTES = 512 * 1024
"""At most this much of each message is fetched: its headers and text come first; attachments need not be read."""

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.I)
_FETCH_START = re.compile(rb"^\d+ FETCH \(", re.I)
_UID = re.compile(rb"\bUID (\d+)", re.I)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ImapError(CadenceError):
    """The replies mailbox could not be read."""


class ImapUnreachable(ImapError):
    """The IMAP server could not be reached (host, port, TLS)."""


class ImapLoginFailed(ImapError):
    """The IMAP server refused the user name or password."""


class ImapFolderMissing(ImapError):
    """The folder to read does not exist on the IMAP server."""


@dataclass(frozen=True)
class ImapConfig:
    """How to reach the replies mailbox."""

    host: str
    username: str
    password: str
    port: int = 993
    tls: Literal["none", "starttls", "tls"] = "tls"
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None
    origin: Literal["settings", "mailbox"] = "settings"
    """Where these settings come from, for the hints of error messages: ``CADENCE_IMAP_*``, or a sending
    mailbox's ``--imap-*`` options."""

    def where(self) -> str:
        """``user@host:port`` for error messages (never the password)."""
        return f"{self.username} on {self.host}:{self.port}"

    def name(self, setting: str) -> str:
        """How a person sets ``setting`` (``USERNAME``, ``PASSWORD``, ``TLS``, ``PORT``, ``FOLDER``) here."""
        if self.origin == "settings":
            return f"CADENCE_IMAP_{setting}"
        option = {"USERNAME": "user", "PASSWORD": "password-block"}.get(setting, setting.lower())
        return f"the mailbox's --imap-{option}"


def encode_mailbox(name: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii").rstrip("=")
            out.append("&" + data.replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)  # control characters too: they can never break the command line
    flush()
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TIMING = re.compile(r"\s*\(\d+\.\d+(?: \+ \d+\.\d+)* secs?\)")


def _text(lines: Sequence[Any]) -> str:
    """A response's text lines as one line, without Dovecot's timings and the final full stop."""
    text = " ".join(bytes(line).decode("utf-8", "replace") for line in lines if isinstance(line, bytes | bytearray))
    return _TIMING.sub("", text).strip().rstrip(".")


def parse_fetch(lines: Sequence[Any]) -> list[tuple[int, bytes]]:
    """(UID, message bytes) pairs from the lines of a ``UID FETCH ... (UID BODY.PEEK[]<0.n>)`` response.

    aioimaplib gives the untagged ``N FETCH (UID u BODY[]<0> {size}`` line, then the literal as a
    ``bytearray``, then the closing ``)`` (which may carry the UID when the server puts it last).
    """
    found: list[tuple[int, bytes]] = []
    uid: int | None = None
    body: bytes | None = None

    def close() -> None:
        if uid is not None and body is not None:
            found.append((uid, body))

    for line in lines:
        if isinstance(line, bytearray):
            body = bytes(line)
            continue
        if not isinstance(line, bytes):
            continue
        if _FETCH_START.match(line):
            close()
            uid, body = None, None
        match = _UID.search(line)
        if match and uid is None:
            uid = int(match.group(1))
    close()
    return found


class ImapMailbox:
    """One IMAP session on the replies mailbox; use it as an async context manager."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self._client: Any = None
        self.folder: str | None = None
        self.uidvalidity: int | None = None

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.logout()

    # -- session --------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect (TLS, STARTTLS or plain, as configured) and log in."""
        cfg = self.config
        context = cfg.ssl_context or ssl.create_default_context()
        try:
            if cfg.tls == "tls":
                client = aioimaplib.IMAP4_SSL(host=cfg.host, port=cfg.port, timeout=cfg.timeout, ssl_context=context)
            else:
                client = aioimaplib.IMAP4(host=cfg.host, port=cfg.port, timeout=cfg.timeout)
        except (OSError, ValueError) as exc:  # pragma: no cover - the connection is made later, in a task
            raise ImapUnreachable(f"cannot connect to the IMAP server {cfg.host}:{cfg.port}: {exc}") from exc
        self._client = client
        try:
            await client.wait_hello_from_server()
        except ssl.SSLError as exc:
            self._abort()
            raise ImapUnreachable(
                f"TLS with the IMAP server {cfg.host}:{cfg.port} failed ({exc.reason or exc}); "
                f"check {cfg.name('TLS')} and {cfg.name('PORT')}"
            ) from exc
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            self._abort()
            why = "no answer within the timeout" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise ImapUnreachable(f"cannot reach the IMAP server {cfg.host}:{cfg.port}: {why}") from exc
        if cfg.tls == "starttls":
            await self._starttls(context)
        await self._login()

    async def _starttls(self, context: ssl.SSLContext) -> None:
        cfg = self.config
        protocol = self._client.protocol
        if "STARTTLS" not in protocol.capabilities:
            self._abort()
            raise ImapUnreachable(
                f"the IMAP server {cfg.host}:{cfg.port} does not offer STARTTLS; "
                f"set {cfg.name('TLS')} to tls (usually port 993) or fix the server"
            )
        try:
            command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
            response = await asyncio.wait_for(protocol.execute(command), cfg.timeout)
            if response.result != "OK":
                raise ImapUnreachable(
                    f"the IMAP server {cfg.host}:{cfg.port} refused STARTTLS: {_text(response.lines)}"
                )
            loop = asyncio.get_running_loop()
            transport = await asyncio.wait_for(
                loop.start_tls(protocol.transport, protocol, context, server_hostname=cfg.host), cfg.timeout
            )
            protocol.transport = transport
            await asyncio.wait_for(protocol.capability(), cfg.timeout)  # capabilities change after TLS
        except ImapError:
            self._abort()
            raise
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            self._abort()
            raise ImapUnreachable(f"STARTTLS with the IMAP server {cfg.host}:{cfg.port} failed: {exc}") from exc

    async def _login(self) -> None:
        cfg = self.config
        if "LOGINDISABLED" in self._client.protocol.capabilities:
            self._abort()
            raise ImapLoginFailed(
                f"the IMAP server {cfg.host}:{cfg.port} does not allow a login without TLS: "
                f"set {cfg.name('TLS')} to tls or starttls"
            )
        response = await self._call("LOGIN", self._require().login(cfg.username, cfg.password))
        if response.result != "OK":
            self._abort()
            raise ImapLoginFailed(
                f"the IMAP server refused the login of {cfg.where()}: {_text(response.lines) or response.result}; "
                f"check {cfg.name('USERNAME')} and {cfg.name('PASSWORD')}"
            )

    async def select(self, folder: str) -> int:
        """Select ``folder``; return its UIDVALIDITY."""
        response = await self._call("SELECT", self._require().select(encode_mailbox(folder)))
        if response.result != "OK":
            raise ImapFolderMissing(
                f"cannot open the folder {folder!r} of {self.config.where()}: {_text(response.lines)}; "
                f"check {self.config.name('FOLDER')}"
            )
        for line in response.lines:
            if isinstance(line, bytes | bytearray) and (match := _UIDVALIDITY.search(bytes(line))):
                self.folder = folder
                self.uidvalidity = int(match.group(1))
                return self.uidvalidity
        raise ImapError(f"the IMAP server gave no UIDVALIDITY for the folder {folder!r} of {self.config.where()}")

    async def uids_after(self, last_uid: int, *, since: date | None = None) -> list[int]:
        """The UIDs greater than ``last_uid`` in the selected folder, ascending; ``since``: only of messages the
        server received on or after that day (``SINCE``, the message's internal date).

        ``UID SEARCH UID n:*`` also returns the highest UID when ``n`` is beyond it (``*`` is the
        highest UID, and ``n:*`` is the same as ``*:n``), so UIDs up to ``last_uid`` are dropped here.
        """
        criteria = ["UID", f"{last_uid + 1}:*"]
        if since is not None:  # an IMAP date (RFC 3501 date-text): 7-Dec-2026, English month names
            criteria += ["SINCE", f"{since.day}-{_MONTHS[since.month - 1]}-{since.year}"]
        response = await self._call("UID SEARCH", self._require().uid_search(*criteria, charset=None))
        if response.result != "OK":
            raise ImapError(f"UID SEARCH failed on {self.config.where()}: {_text(response.lines)}")
        uids: set[int] = set()
        for line in response.lines[:-1]:  # the last line is the tagged completion text
            if not isinstance(line, bytes | bytearray):
                continue
            words = bytes(line).split()
            if words[:1] == [b"SEARCH"]:
                words = words[1:]
            uids.update(int(word) for word in words if word.isdigit())
        return sorted(uid for uid in uids if uid > last_uid)

    async def fetch(self, uids: Sequence[int], max_bytes: int = FETCH_BYTES) -> list[tuple[int, bytes]]:
        """The raw messages with these UIDs, as (UID, bytes), ascending; a UID expunged meanwhile is missing.

        Only the first ``max_bytes`` of a message are fetched (``BODY.PEEK[]<0.max_bytes>``).
        """
        found: list[tuple[int, bytes]] = []
        ordered = sorted(set(uids))
        for start in range(0, len(ordered), FETCH_BATCH):
            batch = ordered[start : start + FETCH_BATCH]
            message_set = ",".join(map(str, batch))
            fetching = self._require().uid("fetch", message_set, f"(UID BODY.PEEK[]<0.{max_bytes}>)")
            response = await self._call("UID FETCH", fetching)
            if response.result != "OK":
                raise ImapError(f"UID FETCH failed on {self.config.where()}: {_text(response.lines)}")
            wanted = set(batch)
            found += [(uid, body) for uid, body in parse_fetch(response.lines) if uid in wanted]
        return sorted(found)

    async def logout(self) -> None:
        """Log out and close the connection (never raises)."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.protocol.state in ("AUTH", "SELECTED", "NONAUTH"):
                await asyncio.wait_for(client.logout(), self.config.timeout)
        except Exception:  # the session is over either way
            pass
        finally:
            transport = client.protocol.transport
            if transport is not None and not transport.is_closing():
                transport.close()

    # -- internals ------------------------------------------------------------------------------

    async def _call(self, what: str, pending: Any) -> Any:
        """Await one aioimaplib command, mapping its failures to :class:`ImapError`."""
        try:
            return await asyncio.wait_for(pending, self.config.timeout + 5)
        except TimeoutError as exc:
            self._abort()
            raise ImapError(f"IMAP {what} timed out on {self.config.where()}") from exc
        except aioimaplib.CommandTimeout as exc:
            self._abort()
            raise ImapError(f"IMAP {what} timed out on {self.config.where()}") from exc
        except (OSError, aioimaplib.AioImapException) as exc:
            self._abort()
            raise ImapError(f"IMAP {what} failed on {self.config.where()}: {exc}") from exc

    def _require(self) -> Any:
        if self._client is None:
            raise ImapError("not connected to the IMAP server (the session ended after an error)")
        return self._client

    def _abort(self) -> None:
        """Drop the connection without a goodbye (after an error)."""
        client, self._client = self._client, None
        if client is None:
            return
        task = getattr(client, "_client_task", None)
        if task is not None and not task.done():
            task.cancel()
        transport = getattr(client.protocol, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.close()
