"""Building MIME messages and sending them over SMTP (aiosmtplib), with our own errors.

SMTP replies are mapped to three outcomes, most specific first (as httpx maps httpcore's errors):

* :class:`PermanentFailure`: a 5xx reply to MAIL, RCPT or DATA: the recipient is refused; never retried;
* :class:`TransientFailure`: a 4xx reply, a refused or lost connection before the end of DATA, a
  timeout before it: nothing was delivered (a server discards a message whose final ``.`` it never
  received), the step is retried later;
* :class:`UnknownOutcome`: the connection dropped or timed out after the final ``.`` of DATA was
  written and before the server's reply: the server may have accepted the message. It must not be
  sent again automatically.

The moment a message is handed over is the write of that final ``.``. :meth:`SmtpSender.send` takes
a :class:`HandOff`, called right before that write and right after the reply, so that the caller
can record both (the exactly-once protocol of :mod:`cadence.services.advance`). The connections of
a sender write their messages' bodies at the same time, but hand them over one at a time: at any
moment at most one message of a sender has been handed over and not yet recorded.
"""

from __future__ import annotations

import asyncio
import email.policy
import re
import secrets
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal, Protocol

import aiosmtplib
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from cadence.errors import CadenceError

_LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x1f\x7f]+")


class _URIListHeader(UnstructuredHeader, BaseHeader):
    """An RFC 2369 header (``List-Unsubscribe``: ``<https://...>, <mailto:...>``), folded between its URIs.

    The standard folding turns a word longer than a line (any real unsubscribe link) into RFC 2047
    encoded words, which mail providers do not decode in this header: their unsubscribe button would
    not find the link. RFC 2369 wants the URIs as they are, folded only between them if at all.
    """

    def fold(self, *, policy: email.policy.Policy) -> str:
        """``Name: <uri1>,`` then each further URI on a continuation line; other text as usual."""
        text = str(self)
        if not text.isascii() or _LINE_BREAKS.search(text) or len(text) > 900:
            return str(super().fold(policy=policy))
        uris = _URI_SEPARATOR.split(text.strip())
        return f"{self.name}: " + f",{policy.linesep} ".join(uris) + policy.linesep


_URI_SEPARATOR = re.compile(r"(?<=>)\s*,\s*(?=<)")


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, making each header class once instead of on every header set.

    ``HeaderRegistry.__getitem__`` builds a new class per call; the email package calls it for every
    header of every part, which made it a fifth of the cost of building a message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self.map_to_type("list-unsubscribe", _URIListHeader)
        self.map_to_type("list-unsubscribe-post", _URIListHeader)

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._classes.clear()

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found


class _Policy(email.policy.EmailPolicy):
    """``email.policy.default``, remembering the headers it parsed and folded.

    Most headers of a message repeat from message to message (the parts' ``Content-Type`` and
    ``Content-Transfer-Encoding``, ``MIME-Version``, ``Date`` within a run, the rep's own headers);
    parsing a header value and folding it again for the wire made up a third of the cost of
    building and serializing a message. Both are pure functions of the header's name and text (and
    of the policy), and header objects are immutable, so each is done once per distinct header.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        """As the default policy does, once per distinct ``(name, text)`` or ``(name, address)``."""
        if type(value) is Address:
            key: tuple[Any, ...] = (self.header_factory, name, value.display_name, value.username, value.domain)
        elif type(value) is str:
            key = (self.header_factory, name, value)
        else:
            return super().header_store_parse(name, value)
        found = _STORED.get(key)
        if found is None:
            found = super().header_store_parse(name, value)
            _remember(_STORED, key, found)
        return found

    def fold_binary(self, name: str, value: Any) -> bytes:
        """As the default policy does, once per distinct header and policy (line length, separator, ...)."""
        if not isinstance(value, BaseHeader):
            return super().fold_binary(name, value)
        key = (self.max_line_length, self.linesep, self.utf8, self.cte_type, name, type(value), str(value))
        found = _FOLDED.get(key)
        if found is None:
            found = super().fold_binary(name, value)
            _remember(_FOLDED, key, found)
        return found


_MEMO_SIZE = 4096
_STORED: dict[tuple[Any, ...], tuple[str, Any]] = {}
_FOLDED: dict[tuple[Any, ...], bytes] = {}


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_SIZE:  # unique headers (Message-ID, To, ...) fill it up: start again
        memo.clear()
    memo[key] = value


_POLICY = _Policy(header_factory=_HeaderClasses())
"""``email.policy.default`` (what messages are built, serialized and checked with), with cached header
classes and memoized header parsing and folding."""


class DeliveryError(CadenceError):
    """An email could not be handed to the SMTP server."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientFailure(DeliveryError):
    """Nothing was delivered; trying again later may work."""


class PermanentFailure(DeliveryError):
    """The server refused the recipient or the message for good."""


class UnknownOutcome(DeliveryError):
    """The connection was lost after the end of DATA was written: the message may or may not have been accepted."""


class Withdrawn(DeliveryError):
    """The message was not handed over: :meth:`HandOff.before` said no (the step stopped meanwhile).

    The connection is dropped in the middle of DATA, so the server discards what it received.
    """


class HandOff(Protocol):
    """What :meth:`SmtpSender.send` calls around the moment a message is handed to the server.

    Both run while the sender's hand-off lock is held: no other message of the same sender is
    handed over between the two.
    """

    async def before(self) -> bool:
        """Called right before the final ``.`` of DATA is written. False withdraws the message."""
        ...

    async def after(self, outcome: str | DeliveryError) -> None:
        """Called with the server's reply (``"250 ..."``) or the error, before the next hand-off."""
        ...


def one_line(value: str | None, *, limit: int = 250) -> str:
    """``value`` as a single header-safe line: control characters (CR/LF included) become spaces."""
    text = _LINE_BREAKS.sub(" ", value or "").strip()
    return text[:limit]


def make_message_id(touch_id: int, domain: str) -> str:
    """A unique Message-ID on our domain for one touch: ``<c.TOUCH.RANDOM@domain>``."""
    return f"<c.{touch_id}.{secrets.token_hex(6)}@{domain}>"


def build_message(
    *,
    from_name: str,
    from_address: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    text: str,
    html: str | None,
    message_id: str,
    date: datetime,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A MIME message: plain text, plus an HTML alternative when given.

    Names and the subject are reduced to one line, and addresses are built with
    :class:`email.headerregistry.Address`, so that no field can inject a header.
    """
    message = EmailMessage(policy=_POLICY)
    from_user, _, from_domain = from_address.partition("@")
    message["From"] = Address(display_name=one_line(from_name, limit=100), username=from_user, domain=from_domain)
    to_user, _, to_domain = to_address.partition("@")
    message["To"] = Address(display_name=one_line(to_name, limit=100), username=to_user, domain=to_domain)
    if reply_to:
        user, _, domain = reply_to.partition("@")
        message["Reply-To"] = Address(username=user, domain=domain)
    message["Subject"] = one_line(subject, limit=250)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        message[name] = one_line(value, limit=900)
    message.set_content(text if text.endswith("\n") else text + "\n")
    if html is not None:
        # Our own boundary, found in neither part: the generator would otherwise draw one and compile
        # a regular expression to look for it, for every message.
        boundary = _boundary(text, html)
        message.make_alternative(boundary=boundary)
        message.add_alternative(html, subtype="html")
    return message


def _boundary(*parts: str) -> str:
    """A MIME boundary that occurs in none of ``parts`` (``=_`` cannot occur in quoted-printable either)."""
    while True:
        boundary = f"=_c{secrets.token_hex(16)}"
        if not any(boundary in part for part in parts):
            return boundary


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the SMTP server."""

    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = None
    tls: Literal["none", "starttls", "tls"] = "none"
    timeout: float = 30.0
    connections: int = 4


def _map(exc: Exception, stage: str) -> DeliveryError:
    """Our error for an aiosmtplib error at ``stage`` (connect, mail, rcpt, data: before the final dot, dot: after)."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        code = codes[0] if codes else None
        reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        if code is not None and 400 <= code < 500:
            return TransientFailure(f"recipient deferred: {reason}", code)
        return PermanentFailure(f"recipient refused: {reason}", code)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{exc.code} {exc.message}"
        if 500 <= exc.code < 600:
            return PermanentFailure(f"refused at {stage}: {text}", exc.code)
        if stage == "dot" and exc.code < 400:  # pragma: no cover - a server answering the end of DATA oddly
            return UnknownOutcome(f"unexpected reply at the end of data: {text}", exc.code)
        return TransientFailure(f"deferred at {stage}: {text}", exc.code)
    if stage == "dot":  # the server may have the whole message, and we do not know what it said
        return UnknownOutcome(f"no reply after the end of data (the message may have been accepted): {exc}")
    if stage == "data":
        return TransientFailure(f"connection lost before the end of data (nothing delivered): {exc}")
    return TransientFailure(f"SMTP {stage} failed: {exc}")


class _AfterDot(Exception):
    """An error once the final dot of DATA may have reached the server (carries the original)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class SmtpSender:
    """Sends messages over a small pool of SMTP connections, kept open between messages."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._idle: asyncio.Queue[aiosmtplib.SMTP] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._handing: asyncio.Lock | None = None
        self._open: list[aiosmtplib.SMTP] = []

    async def __aenter__(self) -> SmtpSender:
        self._idle = asyncio.Queue()
        self._slots = asyncio.Semaphore(max(1, self.config.connections))
        self._handing = asyncio.Lock()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        cfg = self.config
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            use_tls=cfg.tls == "tls",
            start_tls=cfg.tls == "starttls",
            tls_context=ssl.create_default_context() if cfg.tls != "none" else None,
        )
        try:
            await client.connect()
            if cfg.username:
                await client.login(cfg.username, cfg.password or "")
        except Exception as exc:
            raise _map(exc, "connect") from exc
        self._open.append(client)
        return client

    async def _checkout(self) -> aiosmtplib.SMTP:
        assert self._idle is not None, "use SmtpSender as an async context manager"
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client.is_connected:
                return client
        return await self._connect()

    def _discard(self, client: aiosmtplib.SMTP) -> None:
        client.close()
        if client in self._open:
            self._open.remove(client)

    async def send(
        self, message: EmailMessage | bytes, *, sender: str, recipient: str, hand_off: HandOff | None = None
    ) -> str:
        """Send one message (or its bytes); return the server's reply to DATA. Raises a :class:`DeliveryError`.

        With ``hand_off``, its :meth:`~HandOff.before` is awaited right before the final ``.`` of DATA
        (False withdraws the message: :class:`Withdrawn`) and its :meth:`~HandOff.after` right after
        the outcome is known, with the reply or the error (for every outcome from that point on).
        """
        assert self._slots is not None, "use SmtpSender as an async context manager"
        assert self._idle is not None, "use SmtpSender as an async context manager"
        async with self._slots:
            client = await self._checkout()
            stage = "mail"
            try:
                try:
                    await client.mail(sender)
                except aiosmtplib.SMTPServerDisconnected:
                    # An idle connection the server closed: one fresh try before anything was sent.
                    self._discard(client)
                    client = await self._connect()
                    await client.mail(sender)
                stage = "rcpt"
                await client.rcpt(recipient)
                stage = "data"
                data = message if isinstance(message, bytes) else message.as_bytes()
                response = await self._data(client, data, hand_off)
            except Exception as exc:
                if isinstance(exc, _AfterDot):
                    stage, exc = "dot", exc.cause
                error = _map(exc, stage)
                if (
                    stage in ("mail", "rcpt")
                    and isinstance(exc, aiosmtplib.SMTPResponseException)
                    and client.is_connected
                ):
                    try:
                        await client.rset()
                        self._idle.put_nowait(client)
                    except Exception:
                        self._discard(client)
                else:
                    self._discard(client)
                raise error from exc
            self._idle.put_nowait(client)
            return f"{response.code} {response.message}"

    async def _data(self, client: aiosmtplib.SMTP, data: bytes, hand_off: HandOff | None) -> aiosmtplib.SMTPResponse:
        """DATA, the message, then (one message of this sender at a time) the final dot and the reply.

        An error raised once the final dot may have been written is wrapped in :class:`_AfterDot`.
        """
        assert self._handing is not None, "use SmtpSender as an async context manager"
        start = await client.execute_command(b"DATA")
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost")
        protocol.write(PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data)))
        async with self._handing:
            if hand_off is not None and not await hand_off.before():
                raise Withdrawn("withdrawn before the end of data: the step stopped meanwhile")
            try:
                if client.protocol is not protocol:  # dropped while the body was being written
                    raise aiosmtplib.SMTPServerDisconnected("connection lost before the end of data")
                protocol.write(b".\r\n")
            except Exception as exc:  # the dot was not written: nothing was delivered
                error = _map(exc, "data")
                if hand_off is not None:
                    await hand_off.after(error)
                raise error from exc
            outcome: aiosmtplib.SMTPResponse | Exception
            try:
                outcome = await protocol.read_response(timeout=client.timeout)
                if outcome.code != 250:
                    raise aiosmtplib.SMTPDataError(outcome.code, outcome.message)
            except Exception as exc:
                outcome = exc
            try:
                if hand_off is not None:
                    await hand_off.after(
                        _map(outcome, "dot") if isinstance(outcome, Exception) else f"{outcome.code} {outcome.message}"
                    )
            except Exception as exc:  # not recorded: what happened to the message must be taken as unknown
                raise _AfterDot(exc) from exc
            if isinstance(outcome, Exception):
                raise _AfterDot(outcome) from outcome
            return outcome

    async def close(self) -> None:
        """Say QUIT on every open connection."""
        for client in list(self._open):
            try:
                if client.is_connected:
                    await client.quit()
            except Exception:
                client.close()
        self._open.clear()
