"""Limits of the API and the contact form: request bodies by size, requests per key per minute.

The rate limit counts in this process (one ``cadence web`` process serves the API); several
processes behind a load balancer each allow the limit.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadence.web.api.errors import error_json, is_api

FORM_PREFIX = "/forms/"


class BodyLimit:
    """Refuses an API or form request whose body is over ``limit()`` bytes with 413, before or while it is read.

    A ``Content-Length`` over the limit is refused before a byte is read; a body sent in chunks is
    counted as it arrives and refused as soon as it goes over; the routes get it only when it is whole.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one scope; only HTTP requests to the API and the form are limited."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not (is_api(path) or path.startswith(FORM_PREFIX)):
            await self.app(scope, receive, send)
            return
        message = f"the request body is over the limit of {self.limit:,} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await error_json(413, "body_too_large", message)(scope, receive, send)
                    return
        # Read the whole body first (it is small: at most the limit), so that nothing reaches the routes
        # of a body over the limit; then hand it on as one message.
        chunks: list[bytes] = []
        received = 0
        while True:
            incoming = await receive()
            if incoming["type"] != "http.request":  # the client went away
                return
            chunk = incoming.get("body", b"")
            received += len(chunk)
            if received > self.limit:
                await error_json(413, "body_too_large", message)(scope, receive, send)
                return
            chunks.append(chunk)
            if not incoming.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@dataclass
class _Window:
    start: datetime
    count: int


class RateLimiter:
    """At most ``allowed`` requests per key in each window (a minute by default) from the key's first request."""

    def __init__(self, window: timedelta = timedelta(minutes=1)) -> None:
        self.window = window
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def take(self, key: str, allowed: int, now: datetime) -> int | None:
        """Count one request of ``key`` at ``now``: None when allowed, else the seconds to wait (Retry-After)."""
        with self._lock:
            window = self._windows.get(key)
            if window is None or now >= window.start + self.window or now < window.start:
                self._windows[key] = _Window(now, 1)
                if len(self._windows) > 10_000:  # forget windows long over, so that the map stays small
                    self._windows = {k: w for k, w in self._windows.items() if now < w.start + self.window}
                return None
            if window.count >= allowed:
                return max(1, math.ceil((window.start + self.window - now).total_seconds()))
            window.count += 1
            return None
