"""Building MIME messages and sending them over SMTP, with our own errors.

SMTP replies are mapped to three outcomes, most specific first (as httpx maps httpcore's errors):

* :class:`PermanentFailure`: a 5xx reply to MAIL, RCPT or DATA: the recipient is refused; never retried;
* :class:`TransientFailure`: a 4xx reply, a refused or lost connection before the end of DATA, a
  timeout before it: nothing was delivered (a server discards a message whose final ``.`` it never
  received), the step is retried later;
* :class:`UnknownOutcome`: the connection dropped or timed out after the final ``.`` of DATA was
  written and before the server's reply: the server may have accepted the message. It must not be
  sent again automatically.

The moment a message is handed over is the write of that final ``.``. :meth:`SmtpConnection.send`
takes a :class:`HandOff`, called right before that write and right after the reply, so that the
caller can record both (the exactly-once protocol of :mod:`cadence.services.advance.ledger`).

Why the standard library's :mod:`smtplib`, one thread per connection: the protocol needs a pause
between the body of DATA and its final dot, and a way to drop the connection there (withdrawing
the message). aiosmtplib has no public API for that (``SMTP.data`` writes body and dot in one go;
pausing needs its ``protocol`` and ``PERIOD_REGEX``, which are internals). ``smtplib.SMTP``'s public
methods do it step by step: ``mail``, ``rcpt``, ``docmd("DATA")``, ``send`` (the dot-stuffed body),
the hand-off check, ``send(b".\r\n")``, ``getreply``, ``close``. They block, so each connection is
driven from a worker thread (:class:`SmtpSender` runs them in a thread pool, one thread per
connection): a connection hands over one message at a time, several connections in parallel.
"""

from __future__ import annotations

import asyncio
import email.policy
import functools
import re
import secrets
import select
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal, Protocol, TypeVar

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


def _header_registry() -> HeaderRegistry:
    """The standard header registry, with the RFC 2369 headers folded between their URIs."""
    registry = HeaderRegistry()
    registry.map_to_type("list-unsubscribe", _URIListHeader)
    registry.map_to_type("list-unsubscribe-post", _URIListHeader)
    return registry


_POLICY = email.policy.default.clone(header_factory=_header_registry())
"""``email.policy.default`` (what messages are built, serialized and checked with), with the RFC 2369 headers."""
_UTF8_POLICY = _POLICY.clone(utf8=True)
"""For a message to an internationalised address (sent with SMTPUTF8)."""
_WIRE_POLICY = _POLICY.clone(linesep="\r\n")
"""The same, with the line endings of the wire."""


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


class Unsendable(DeliveryError):
    """The message cannot go out as it is (a header that would not stay one line, an address the server
    cannot take): it is never tried again, the step fails and its owner is told."""


class HandOff(Protocol):
    """What :meth:`SmtpConnection.send` calls around the moment a message is handed to the server.

    Both are called in the connection's thread, one message at a time: no other message of the same
    connection is handed over between the two.
    """

    def before(self) -> bool:
        """Called right before the final ``.`` of DATA is written. False withdraws the message."""
        ...

    def after(self, outcome: str | DeliveryError) -> None:
        """Called with the server's reply (``"250 ..."``) or the error, before the next hand-off."""
        ...


def one_line(value: str | None, *, limit: int = 250) -> str:
    """``value`` as a single header-safe line: control characters (CR/LF included) become spaces."""
    text = _LINE_BREAKS.sub(" ", value or "").strip()
    return text[:limit]


_HEADER_NAME = re.compile(rb"[!-9;-~]+")


def message_bytes(message: EmailMessage) -> bytes:
    """The message's bytes, once its header section is verified as serialized. Raises :class:`Unsendable`.

    Interpreters without the CVE-2024-6923 fix (3.11.7, 3.12.1) decode an RFC 2047 word of a value
    when they fold it, and write a CR LF it holds as a real line break: a lead's name could add a
    header or start the body. So whatever the standard library does, the serialized header section
    must be exactly the headers that were set, in order, each a ``Name:`` line and its folded
    continuations, with no CR, NUL or empty line inside: otherwise nothing is sent.
    """
    policy = _WIRE_POLICY if message.policy is _POLICY else message.policy.clone(linesep="\r\n")
    try:
        data = message.as_bytes(policy=policy)
    except MessageError as exc:  # an interpreter with the CVE-2024-6923 fix refuses such a header itself
        raise Unsendable(f"the message cannot be sent: {exc}") from exc
    head, blank, _body = data.partition(b"\r\n\r\n")
    if not blank:
        raise Unsendable("the message cannot be sent: its header section does not end")
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if b"\r" in line or b"\n" in line or b"\x00" in line:
            raise Unsendable("the message cannot be sent: a header holds a line break or a NUL")
        if line[:1] in (b" ", b"\t"):
            if not names or not line.strip():
                raise Unsendable("the message cannot be sent: a header continuation line is empty or first")
            continue
        name, colon, _value = line.partition(b":")
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise Unsendable(f"the message cannot be sent: a header line is not a header: {one_line(repr(line[:60]))}")
        names.append(name.decode("ascii").lower())
    expected = [name.lower() for name, _value in message.items()]
    if names != expected:
        broken = next((name for name, value in message.items() if _breaks(name, value, message.policy)), "a header")
        raise Unsendable(
            f"the message cannot be sent: a value from the lead's data would break the {broken} header into "
            "several headers or lines; check the lead's fields (names, company) for encoded line breaks (=?...?=)"
        )
    return data


def _breaks(name: str, value: Any, policy: email.policy.Policy) -> bool:
    """True when header ``name`` folds into more than one header (a line that is not a continuation)."""
    folded = policy.clone(linesep="\r\n").fold_binary(name, value)
    lines = folded.removesuffix(b"\r\n").split(b"\r\n")
    return any(not line[:1].isspace() or not line.strip() for line in lines[1:]) or b"\r" in folded[:-2].replace(
        b"\r\n", b""
    )


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
    # An internationalised address is written as UTF-8 in the headers (RFC 6532): only a server that
    # offers SMTPUTF8 takes it, which :meth:`SmtpConnection.send` checks.
    message = EmailMessage(policy=_POLICY if (to_address + from_address).isascii() else _UTF8_POLICY)
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


_T = TypeVar("_T")


def _no_delay(smtp: smtplib.SMTP) -> None:
    """Write each piece of an email at once (TCP_NODELAY), not held back for the server's ACK."""
    if smtp.sock is not None:
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _map(exc: BaseException, stage: str) -> DeliveryError:
    """Our error for an SMTP error at ``stage`` (connect, mail, rcpt, data: before the final dot, dot: after).

    Only a refusal of the recipient (5xx to RCPT) or of the message (5xx to the final dot) is permanent:
    a bounce, which suppresses the address and decides the lead.
    """
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        text = f"{code} {message}"
        if stage == "rcpt":
            if 400 <= code < 500:
                return TransientFailure(f"recipient deferred: {text}", code)
            return PermanentFailure(f"recipient refused: {text}", code)
        if 500 <= code < 600 and stage == "dot":  # the recipient's server refused this message
            return PermanentFailure(f"refused at {stage}: {text}", code)
        if 500 <= code < 600:
            # Refused before the recipient's part (the greeting, a login, our sender, DATA): about our
            # account or relay, not the lead's address. No bounce: the step waits and goes again.
            return TransientFailure(f"refused at {stage} (check the SMTP settings): {text}", code)
        if stage == "dot" and code < 400:  # pragma: no cover - a server answering the end of DATA oddly
            return UnknownOutcome(f"unexpected reply at the end of data: {text}", code)
        return TransientFailure(f"deferred at {stage}: {text}", code)
    if stage == "dot":  # the server may have the whole message, and we do not know what it said
        return UnknownOutcome(f"no reply after the end of data (the message may have been accepted): {exc}")
    if stage == "data":
        return TransientFailure(f"connection lost before the end of data (nothing delivered): {exc}")
    return TransientFailure(f"SMTP {stage} failed: {exc}")


_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def wire_body(data: bytes) -> bytes:
    """A message as DATA carries it, without the final dot: CRLF line endings, leading dots doubled (RFC 5321)."""
    body = _LEADING_DOT.sub(b"..", _LINE_ENDINGS.sub(b"\r\n", data))
    return body if body.endswith(b"\r\n") else body + b"\r\n"


def _expect(reply: tuple[int, bytes], *codes: int) -> None:
    code, message = reply
    if code not in codes:
        raise smtplib.SMTPResponseException(code, message)


def _mail_options(smtp: smtplib.SMTP, sender: str, recipient: str) -> list[str]:
    """MAIL FROM's options: SMTPUTF8 for an internationalised address, when the server offers it (RFC 6531).

    Raises :class:`Unsendable` when it does not: such a message cannot be delivered through this server.
    """
    if sender.isascii() and recipient.isascii():
        return []
    if not smtp.has_extn("smtputf8"):
        raise Unsendable(
            f"the address {recipient if not recipient.isascii() else sender} is not ASCII and the SMTP server "
            "does not offer SMTPUTF8: it cannot take it. Use an ASCII address for this lead, or a server that "
            "offers SMTPUTF8."
        )
    return ["SMTPUTF8"]


def _interrupted(smtp: smtplib.SMTP) -> bool:
    """True when the server spoke or hung up in the middle of DATA: it is no longer waiting for our final dot.

    A server says nothing between 354 and the end of data; anything readable now (its end of the
    connection, most often) means the message cannot be handed over, so the dot is not written and
    nothing was delivered (rather than an outcome unknown had the dot gone into a dead connection).
    """
    if smtp.sock is None:
        return True
    try:
        readable, _, _ = select.select([smtp.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class SmtpConnection:
    """One SMTP connection (the standard library's :class:`smtplib.SMTP`), opened on first use and kept open.

    Its methods block: call them from one thread at a time (:class:`SmtpSender` gives each
    connection a thread of its own).
    """

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        cfg = self.config
        context = ssl.create_default_context() if cfg.tls != "none" else None
        smtp: smtplib.SMTP
        if cfg.tls == "tls":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            # Each email is written in pieces (commands, the body, then the final dot after the
            # hand-off): with Nagle's algorithm the dot waited for the server's delayed ACK, about
            # 40 ms an email on a local server (22.7 emails/s on one connection, 1,533 with this).
            _no_delay(smtp)
            smtp.ehlo_or_helo_if_needed()
            if cfg.tls == "starttls":
                smtp.starttls(context=context)
                _no_delay(smtp)
                smtp.ehlo()
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def drop(self) -> None:
        """Close the connection at once, without QUIT (in the middle of DATA: the server discards the message)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def send(
        self, message: EmailMessage | bytes, *, sender: str, recipient: str, hand_off: HandOff | None = None
    ) -> str:
        """Send one message (or its bytes); return the server's reply to DATA. Raises a :class:`DeliveryError`.

        With ``hand_off``, its :meth:`~HandOff.before` is called right before the final ``.`` of DATA
        (False withdraws the message: :class:`Withdrawn`) and its :meth:`~HandOff.after` right after
        the outcome is known, with the reply or the error (for every outcome from that point on).
        """
        data = message if isinstance(message, bytes) else message_bytes(message)
        stage = "connect"
        try:
            smtp = self._open()
            stage = "mail"
            try:
                _expect(smtp.mail(sender, _mail_options(smtp, sender, recipient)), 250)
            except smtplib.SMTPServerDisconnected:
                # An idle connection the server closed: one fresh try before anything was sent.
                self.drop()
                smtp = self._open()
                _expect(smtp.mail(sender, _mail_options(smtp, sender, recipient)), 250)
            stage = "rcpt"
            _expect(smtp.rcpt(recipient), 250, 251)
            stage = "data"
            _expect(smtp.docmd("DATA"), 354)
            smtp.send(wire_body(data))
            if hand_off is not None and not hand_off.before():
                self.drop()
                raise Withdrawn("withdrawn before the end of data: the step stopped meanwhile")
        except Exception as exc:
            error = _map(exc, stage)
            if stage in ("mail", "rcpt") and isinstance(exc, smtplib.SMTPResponseException) and self._smtp is not None:
                try:
                    self._smtp.rset()
                except Exception:
                    self.drop()
            else:
                self.drop()
            raise error from exc
        return self._finish(smtp, hand_off)

    def _finish(self, smtp: smtplib.SMTP, hand_off: HandOff | None) -> str:
        """The final dot, the reply, and the hand-off's :meth:`~HandOff.after` with the outcome."""
        outcome: str | DeliveryError
        try:
            if _interrupted(smtp):
                raise smtplib.SMTPServerDisconnected("the server ended the connection in the middle of data")
            smtp.send(b".\r\n")
        except Exception as exc:  # not all of the dot was written: nothing was delivered
            self.drop()
            outcome = _map(exc, "data")
        else:
            try:
                code, message = smtp.getreply()
                if code == 421:
                    self.drop()  # the server closes the connection
                if code != 250:
                    raise smtplib.SMTPDataError(code, message)
                outcome = f"{code} {message.decode(errors='replace')}"
            except Exception as exc:
                if not isinstance(exc, smtplib.SMTPResponseException):
                    self.drop()
                outcome = _map(exc, "dot")
        if hand_off is not None:
            try:
                hand_off.after(outcome)
            except Exception as exc:  # not recorded: what happened to the message must be taken as unknown
                raise _map(exc, "dot") from exc
        if isinstance(outcome, DeliveryError):
            raise outcome
        return outcome

    def close(self) -> None:
        """Say QUIT and close the connection (if open)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except Exception:
            smtp.close()


class SmtpSender:
    """A few SMTP connections (``config.connections``), each driven from a thread of its own.

    :meth:`send` sends one message over whichever connection is free; :attr:`connections` and
    :meth:`call` let a dispatcher drive each connection itself (one consumer per connection).
    """

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.connections = [SmtpConnection(config) for _ in range(max(1, config.connections))]
        self._threads: ThreadPoolExecutor | None = None
        self._idle: asyncio.Queue[SmtpConnection] | None = None

    async def __aenter__(self) -> SmtpSender:
        self._threads = ThreadPoolExecutor(max_workers=len(self.connections), thread_name_prefix="smtp")
        self._idle = asyncio.Queue()
        for connection in self.connections:
            self._idle.put_nowait(connection)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def call(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` (what one connection does) in one of the sender's threads."""
        assert self._threads is not None, "use SmtpSender as an async context manager"
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    async def send(
        self, message: EmailMessage | bytes, *, sender: str, recipient: str, hand_off: HandOff | None = None
    ) -> str:
        """Send one message over a free connection (see :meth:`SmtpConnection.send`)."""
        assert self._idle is not None, "use SmtpSender as an async context manager"
        connection = await self._idle.get()
        try:
            return await self.call(
                functools.partial(connection.send, message, sender=sender, recipient=recipient, hand_off=hand_off)
            )
        finally:
            self._idle.put_nowait(connection)

    async def close(self) -> None:
        """Say QUIT on every open connection, and let the threads go."""
        threads, self._threads = self._threads, None
        if threads is None:
            return
        loop = asyncio.get_running_loop()
        for connection in self.connections:
            await loop.run_in_executor(threads, connection.close)
        threads.shutdown(wait=False)
