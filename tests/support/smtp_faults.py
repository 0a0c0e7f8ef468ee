"""Network faults between cadence and a real SMTP server: a TCP proxy that cuts connections on purpose.

The SMTP server behind it is the real sink (aiosmtpd); the proxy forwards bytes both ways and, by a
seeded draw per message, cuts a connection at one of the moments that matter:

* ``before_body``: right after the client's DATA, instead of passing the server's ``354`` on: the
  client is told nothing but the end of the connection before it sent any of the message, so it
  knows nothing was delivered.

* ``mid_data``: in the middle of the message body, before its final ``.``: the server sees the
  connection end inside DATA and discards the message. Nothing was delivered.
* ``after_dot``: after the whole message, final ``.`` included, reached the server, and before
  the server's reply reaches the client. The server stored the message; the client cannot know.

It can also be ``down`` (it stops listening: connections are refused) and come back on the same
port. Every cut is logged with the message's ``X-Cadence-Touch`` header, read from the body, so a
test can tell which touches met which fault.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_TOUCH = re.compile(rb"^X-Cadence-Touch: *(\S+)", re.MULTILINE | re.IGNORECASE)


@dataclass
class Cut:
    """One connection cut by the proxy: where, and for which touch (None when the header was not seen)."""

    where: str  # "before_body", "mid_data" or "after_dot"
    touch: str | None  # None before the body (the header is in it)
    recipient: str | None = None  # the address of the conversation's RCPT TO


@dataclass
class ProxyFaults:
    """Shares of messages whose connection is cut mid-DATA, after the dot before the reply, or before the body."""

    mid_data_rate: float = 0.0
    after_dot_rate: float = 0.0
    before_body_rate: float = 0.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def draw(self) -> str | None:
        """The fault for the next message: ``"mid_data"``, ``"after_dot"``, ``"before_body"`` or None."""
        value = self._random.random()
        if value < self.mid_data_rate:
            return "mid_data"
        if value < self.mid_data_rate + self.after_dot_rate:
            return "after_dot"
        if value < self.mid_data_rate + self.after_dot_rate + self.before_body_rate:
            return "before_body"
        return None


class FaultyProxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream_port``, run in a thread of its own."""

    def __init__(self, upstream_port: int, faults: ProxyFaults | None = None) -> None:
        self.upstream_port = upstream_port
        self.faults = faults or ProxyFaults()
        self.port = 0
        self.cuts: list[Cut] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="smtp-fault-proxy", daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)  # type: ignore[arg-type]

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.transport.abort()
            await self._server.wait_closed()
            self._server = None

    def go_down(self) -> None:
        """Stop listening: new connections are refused until :meth:`come_back`; open ones are cut."""
        self._call(self._close())

    def come_back(self) -> None:
        """Listen again, on the same port."""
        self._call(self._listen())

    @contextmanager
    def down(self) -> Iterator[None]:
        """Down for the duration of the block."""
        self.go_down()
        try:
            yield
        finally:
            self.come_back()

    def cut_touches(self, where: str) -> set[str]:
        """The touches (``X-Cadence-Touch``) whose connection was cut at ``where``."""
        with self._lock:
            return {c.touch for c in self.cuts if c.where == where and c.touch is not None}

    def cut_recipients(self, where: str) -> set[str]:
        """The recipients whose connection was cut at ``where`` (the only name of a message cut before its body)."""
        with self._lock:
            return {c.recipient for c in self.cuts if c.where == where and c.recipient is not None}

    def _log(self, where: str, body: bytes, recipient: str | None = None) -> None:
        found = _TOUCH.search(body)
        with self._lock:
            self.cuts.append(Cut(where, found.group(1).decode() if found else None, recipient))

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        self._open.update((client_writer, server_writer))
        state = _Conversation(self.faults)
        upstream = asyncio.ensure_future(self._client_to_server(client_reader, server_writer, state))
        downstream = asyncio.ensure_future(self._server_to_client(server_reader, client_writer, state))
        try:
            await asyncio.wait([upstream, downstream], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (upstream, downstream):
                task.cancel()
            for writer in (client_writer, server_writer):
                writer.transport.abort()
                self._open.discard(writer)

    async def _client_to_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: _Conversation
    ) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            if state.in_data:
                if line == b".\r\n":
                    state.in_data = False
                    writer.write(line)
                    await writer.drain()
                    if state.fault == "after_dot":
                        state.swallow_reply = True
                    continue
                state.body += line
                if state.fault == "mid_data" and line == b"\r\n":  # the headers are through, the body is not
                    writer.write(line)
                    await writer.drain()
                    self._log("mid_data", bytes(state.body))
                    return  # both sides are cut: the server never sees the final dot
                writer.write(line)
                continue
            if line.upper().startswith(b"RCPT TO:"):
                state.recipient = line[8:].strip().strip(b"<>").decode(errors="replace")
            if line.upper().startswith(b"DATA"):
                state.data_requested = True
            writer.write(line)
            await writer.drain()

    async def _server_to_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: _Conversation
    ) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            if state.data_requested and line.startswith(b"354"):
                state.data_requested = False
                state.in_data = True
                state.body = bytearray()
                state.fault = state.faults.draw()
                if state.fault == "before_body":
                    self._log("before_body", b"", state.recipient)
                    return  # both sides are cut: the client never hears 354, the server never gets a line
            elif state.swallow_reply:
                # The server has the whole message and says so; the client never hears it.
                self._log("after_dot", bytes(state.body))
                return
            writer.write(line)
            await writer.drain()


@dataclass
class _Conversation:
    """Where one proxied SMTP conversation stands."""

    faults: ProxyFaults
    data_requested: bool = False
    in_data: bool = False
    swallow_reply: bool = False
    fault: str | None = None
    body: bytearray = field(default_factory=bytearray)
    recipient: str | None = None


@dataclass
class ServerFaults:
    """What the SMTP server itself answers, drawn per command (implements the sink's ``Faults``).

    ``rejected`` get ``550 5.1.1`` at RCPT every time; the others get, at random, ``451`` at RCPT,
    or ``451`` or ``421`` (which also closes the connection) at the end of DATA.
    """

    rejected: set[str] = field(default_factory=set)
    rcpt_451_rate: float = 0.0
    data_451_rate: float = 0.0
    data_421_rate: float = 0.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def on_rcpt(self, address: str) -> str | None:
        """550 for a rejected address; else 451 at the configured rate."""
        if address.lower() in self.rejected:
            return "550 5.1.1 user unknown"
        if self._random.random() < self.rcpt_451_rate:
            return "451 4.2.0 mailbox busy, try again"
        return None

    def on_data(self, mail_from: str, rcpt_tos: object) -> str | None:
        """421 or 451 at the configured rates, else None (the message is stored)."""
        value = self._random.random()
        if value < self.data_421_rate:
            return "421 4.3.2 service shutting down, closing connection"
        if value < self.data_421_rate + self.data_451_rate:
            return "451 4.3.0 try again"
        return None
