"""A real HTTP endpoint for the webhook tests: it records what it gets and answers as a test tells it.

A ``ThreadingHTTPServer`` on 127.0.0.1 in a thread of its own. Each request takes the next
behaviour from ``script`` (then ``default``): ``"ok"`` (204), a status code such as ``500``,
``"slow"`` (waits ``slow_seconds`` before answering: the client times out) or ``"drop"`` (closes
the connection without an answer). Every request is recorded, answered or not.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = str | int


@dataclass
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: Behaviour

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """The endpoint's state: what it got and how it answers next."""

    url: str = ""
    default: Behaviour = "ok"
    script: deque[Behaviour] = field(default_factory=deque)
    script_for: dict[str, deque[Behaviour]] = field(default_factory=dict)
    """Behaviours for the requests whose body contains the key, taken before ``script``."""
    slow_seconds: float = 3.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def next_behaviour(self, body: bytes) -> Behaviour:
        """The scripted behaviour of the next request (with this body), else the default."""
        with self.lock:
            for key, queue in self.script_for.items():
                if queue and key.encode() in body:
                    return queue.popleft()
            return self.script.popleft() if self.script else self.default

    def events(self) -> list[dict[str, Any]]:
        """The bodies of the requests answered 2xx, parsed."""
        return [r.json() for r in self.received if r.answered == "ok"]


def _handler(state: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            behaviour = state.next_behaviour(body)
            with state.lock:
                state.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, behaviour)
                )
            if behaviour == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if behaviour == "slow":
                state.release.wait(state.slow_seconds)
                behaviour = 200
            status = 204 if behaviour == "ok" else int(behaviour)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """Start a receiver on a free port of 127.0.0.1; stop it at the end."""
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
