"""A local SMTP server that keeps every message it receives: the mail sink of ``cadence demo`` and of the tests.

It is a real SMTP server (aiosmtpd) on a real TCP port, so what reaches it went through the same
protocol path as mail sent to a real relay. Messages are stored byte-for-byte as received (after the
SMTP dot-unstuffing, nothing else), in a Maildir when one is given, else in memory; the SMTP
envelope, which is not part of the message, is kept in memory beside them.

Faults can be injected (:class:`SinkFaults`) so that reliability tests see real 5xx, 4xx and 421
replies from a real server.

Run it on its own with ``python -m cadence.adapters.smtp_sink --maildir var/mail --port 2525``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import mailbox
import random
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol, Self, cast

from aiosmtpd.controller import Controller

__all__ = [
    "Faults",
    "MaildirSink",
    "ReceivedEnvelope",
    "SinkFaults",
    "SmtpSink",
    "main",
]

REJECTED_RECIPIENT_REPLY = "550 5.1.1 user unknown"
TEMPORARY_FAILURE_REPLY = "451 4.3.0 try again"
SHUTDOWN_REPLY = "421 4.3.2 service shutting down, closing connection"

DEFAULT_SERVER_HOSTNAME = "cadence-smtp-sink"


@dataclass(frozen=True)
class ReceivedEnvelope:
    """The SMTP envelope of one stored message, which the message itself does not carry.

    ``key`` is the message's key in the Maildir (its file name), or its index in memory.
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    key: str


class Faults(Protocol):
    """What a sink consults before accepting a recipient or a message.

    Each hook returns ``None`` to go on normally, or the SMTP reply to send instead (for example
    ``"550 5.1.1 user unknown"``). A reply starting with ``421`` also closes the connection.
    """

    def on_rcpt(self, address: str) -> str | None:
        """The reply to ``RCPT TO:<address>``, or ``None`` to accept the recipient."""
        ...

    def on_data(self, mail_from: str, rcpt_tos: Sequence[str]) -> str | None:
        """The reply at the end of ``DATA``, or ``None`` to store the message."""
        ...


@dataclass
class SinkFaults:
    """Small, reproducible fault injection for :class:`MaildirSink`.

    - ``reject_recipients``: these addresses (compared case-insensitively) get
      ``550 5.1.1 user unknown`` at ``RCPT``.
    - ``temp_fail_rate``: the share of messages answered ``451 4.3.0 try again`` at the end of ``DATA``
      (not stored); 1.0 fails every message.
    - ``disconnect_rate``: the share of messages answered ``421`` at the end of ``DATA``, after which the
      server closes the connection (not stored).

    The draws come from ``random.Random(seed)``, so a run is reproducible. The disconnect draw is
    made first; a message that escapes it then draws for the temporary failure.
    """

    reject_recipients: set[str] = field(default_factory=set)
    temp_fail_rate: float = 0.0
    disconnect_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("temp_fail_rate", "disconnect_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0.0 and 1.0, not {rate!r}")
        self._random = random.Random(self.seed)

    def on_rcpt(self, address: str) -> str | None:
        """``550 5.1.1 user unknown`` for a rejected recipient, else ``None``."""
        if address.lower() in {rejected.lower() for rejected in self.reject_recipients}:
            return REJECTED_RECIPIENT_REPLY
        return None

    def on_data(self, mail_from: str, rcpt_tos: Sequence[str]) -> str | None:
        """``421`` or ``451`` at the configured rates, else ``None``."""
        if self.disconnect_rate and self._random.random() < self.disconnect_rate:
            return SHUTDOWN_REPLY
        if self.temp_fail_rate and self._random.random() < self.temp_fail_rate:
            return TEMPORARY_FAILURE_REPLY
        return None


class MaildirSink:
    """An aiosmtpd handler that stores every accepted message byte-for-byte.

    With ``maildir`` it adds each message to that Maildir (created when missing); without it, it keeps
    the bytes in memory. The envelopes of the stored messages are in :attr:`envelopes`, in order.
    The hooks run in the SMTP server's thread; the accessors may be called from any thread.
    """

    def __init__(
        self,
        maildir: Path | None = None,
        faults: Faults | None = None,
        on_message: Callable[[ReceivedEnvelope, bytes], None] | None = None,
    ) -> None:
        self.maildir = maildir
        self.faults = faults
        self._on_message = on_message
        self._mailbox = _open_maildir(maildir) if maildir is not None else None
        self._in_memory: list[bytes] = []
        self._envelopes: list[ReceivedEnvelope] = []
        self._changed = threading.Condition()

    @property
    def envelopes(self) -> list[ReceivedEnvelope]:
        """The envelopes of the messages stored so far, oldest first (a copy)."""
        with self._changed:
            return list(self._envelopes)

    def count(self) -> int:
        """How many messages this sink has stored."""
        with self._changed:
            return len(self._envelopes)

    def raw_messages(self) -> list[bytes]:
        """The stored messages exactly as received, oldest first."""
        with self._changed:
            if self._mailbox is None:
                return list(self._in_memory)
            return [self._mailbox.get_bytes(envelope.key) for envelope in self._envelopes]

    def messages(self) -> list[EmailMessage]:
        """The stored messages parsed with ``email.policy.default``, oldest first."""
        return [_parse(raw) for raw in self.raw_messages()]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages are stored, and return them all.

        Raises :class:`TimeoutError` when they have not arrived within ``timeout`` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._envelopes) >= count, timeout):
                raise TimeoutError(
                    f"the SMTP sink received {len(self._envelopes)} message(s) in {timeout}s, expected {count}"
                )
        return self.messages()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        """Accept the recipient unless the faults say otherwise."""
        reply = self.faults.on_rcpt(address) if self.faults is not None else None
        if reply is not None:
            _close_after_421(server, reply)
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message as received, unless the faults say otherwise."""
        mail_from = cast(str, envelope.mail_from)
        rcpt_tos = tuple(cast(list[str], envelope.rcpt_tos))
        reply = self.faults.on_data(mail_from, rcpt_tos) if self.faults is not None else None
        if reply is not None:
            _close_after_421(server, reply)
            return reply
        raw = bytes(envelope.original_content)
        key = self._store(mail_from, rcpt_tos, raw)
        return f"250 2.0.0 OK: queued as {key}"

    def _store(self, mail_from: str, rcpt_tos: tuple[str, ...], raw: bytes) -> str:
        with self._changed:
            if self._mailbox is None:
                key = str(len(self._in_memory))
                self._in_memory.append(raw)
            else:
                # mailbox writes bytes unchanged (it only maps b"\n" to os.linesep, which is b"\n" here).
                key = self._mailbox.add(raw)
            received = ReceivedEnvelope(mail_from=mail_from, rcpt_tos=rcpt_tos, key=key)
            self._envelopes.append(received)
            self._changed.notify_all()
        if self._on_message is not None:
            self._on_message(received, raw)
        return key


def _open_maildir(path: Path) -> mailbox.Maildir:
    """Open the Maildir at ``path``, making it (and its parents) when missing, or completing an empty directory."""
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    return mailbox.Maildir(path, factory=None, create=False)


def _close_after_421(server: Any, reply: str) -> None:
    """Close the connection once a 421 reply has been written, as RFC 5321 (3.8) has the server do."""
    if reply.startswith("421"):
        # The reply is written synchronously right after the hook returns; close() sends buffered data first.
        server.loop.call_soon(server.transport.close)


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


class _Controller(Controller):
    """aiosmtpd's threaded controller, which also works with ``port=0`` and fails fast on a taken port.

    The stock controller connects to ``(hostname, port)`` to check that the server is up, which
    fails for port 0; here the port the OS chose is read from the listening socket first, so there is
    no window between finding a free port and binding it. And when binding fails, the stock
    controller waits its whole ``ready_timeout`` (5 s) before raising; here the error is raised at once.
    """

    def _run(self, ready_event: threading.Event) -> None:
        try:
            super()._run(ready_event)
        finally:
            # On a failed bind, _run returns without setting the event; set it so that start() goes on at once.
            ready_event.set()

    def _trigger_server(self) -> None:
        if self._thread_exception is not None:
            raise self._thread_exception
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd leaves it unannotated


class SmtpSink:
    """A running SMTP sink on ``host:port``, in a background thread.

    Use it as a context manager, sync (``with SmtpSink() as sink:``) or async (``async with``), or call
    :meth:`start` and :meth:`stop`. With ``port=0`` (the default) the OS picks a free port, readable
    as :attr:`port` once started. Messages go to ``maildir`` when given, else stay in memory.
    """

    def __init__(
        self,
        maildir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: Faults | None = None,
        on_message: Callable[[ReceivedEnvelope, bytes], None] | None = None,
        server_hostname: str = DEFAULT_SERVER_HOSTNAME,
        smtputf8: bool = False,
    ) -> None:
        self.host = host
        self._smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531): internationalised addresses
        self._requested_port = port
        self.handler = MaildirSink(maildir, faults=faults, on_message=on_message)
        # An explicit server_hostname keeps aiosmtpd from calling socket.getfqdn(), which can stall on DNS.
        self._server_hostname = server_hostname
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        """The TCP port the sink listens on (the requested one until started)."""
        if self._controller is None:
            return self._requested_port
        return self._controller.port

    @property
    def maildir(self) -> Path | None:
        """Where messages are stored, or ``None`` when they are kept in memory."""
        return self.handler.maildir

    @property
    def faults(self) -> Faults | None:
        """The fault injection in force; assign to change it while running."""
        return self.handler.faults

    @faults.setter
    def faults(self, faults: Faults | None) -> None:
        self.handler.faults = faults

    @property
    def envelopes(self) -> list[ReceivedEnvelope]:
        """The envelopes of the messages stored so far, oldest first."""
        return self.handler.envelopes

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._controller is not None

    def start(self) -> Self:
        """Start listening; returns once the server answers connections."""
        if self._controller is not None:
            raise RuntimeError("the SMTP sink is already running")
        controller = _Controller(
            self.handler,
            hostname=self.host,
            port=self._requested_port,
            server_hostname=self._server_hostname,
            enable_SMTPUTF8=self._smtputf8,
        )
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            if not controller.loop.is_closed():  # the thread closes it, unless it never got to serve
                controller.loop.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening and close open connections; does nothing when not running."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def count(self) -> int:
        """How many messages the sink has stored."""
        return self.handler.count()

    def messages(self) -> list[EmailMessage]:
        """The stored messages parsed with ``email.policy.default``, oldest first."""
        return self.handler.messages()

    def raw_messages(self) -> list[bytes]:
        """The stored messages exactly as received, oldest first."""
        return self.handler.raw_messages()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages are stored, and return them all.

        Raises :class:`TimeoutError` when they have not arrived within ``timeout`` seconds. It blocks:
        from a coroutine, use :meth:`wait_for_async`.
        """
        return self.handler.wait_for(count, timeout)

    async def wait_for_async(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """:meth:`wait_for` without blocking the running event loop."""
        return await asyncio.to_thread(self.handler.wait_for, count, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cadence.adapters.smtp_sink",
        description="Run a local SMTP server that stores every message it receives (a mail sink).",
    )
    parser.add_argument("--maildir", type=Path, help="Maildir to store messages in (default: keep them in memory)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=2525, help="port to listen on, 0 for any (default: %(default)s)")
    parser.add_argument(
        "--reject",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="answer 550 5.1.1 to this recipient (repeatable)",
    )
    parser.add_argument(
        "--temp-fail-rate", type=float, default=0.0, help="share of messages answered 451 4.3.0 (default: 0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws (default: 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sink until Ctrl-C (or SIGTERM), printing where mail goes and one line per message."""
    args = _parse_args(argv)
    maildir = args.maildir.resolve() if args.maildir is not None else None
    faults = (
        SinkFaults(reject_recipients=set(args.reject), temp_fail_rate=args.temp_fail_rate, seed=args.seed)
        if args.reject or args.temp_fail_rate
        else None
    )

    def report(envelope: ReceivedEnvelope, raw: bytes) -> None:
        subject = _parse(raw)["Subject"] or ""
        print(f"received {envelope.key}: {envelope.mail_from} -> {', '.join(envelope.rcpt_tos)}: {subject}", flush=True)

    stopping = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    sink = SmtpSink(maildir, host=args.host, port=args.port, faults=faults, on_message=report)
    try:
        sink.start()
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    try:
        where = f"in the Maildir {maildir}" if maildir is not None else "in memory (use --maildir to keep it)"
        print(f"SMTP sink listening on {sink.host}:{sink.port}; storing mail {where}. Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stopping.wait(0.5):
                pass
    finally:
        sink.stop()
    print(f"SMTP sink stopped; it stored {sink.count()} message(s).", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
