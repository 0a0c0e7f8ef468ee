"""No NUL character gets past the edge: a request carrying one is answered 400, once, for the whole app.

PostgreSQL cannot store a NUL (``\\x00``) in text: a form field, a query parameter or a JSON string
holding one reached the database as an error, and the workspace answered 503 "temporarily
unavailable" (issue #28, finding 9). No field of cadence has a use for it, so a request with a NUL
anywhere a handler may read text (the path, the query string, the body: raw, percent-encoded or as a
JSON ``\\u0000``) is refused here with a message saying so, before any route runs. The one exception is
a NUL in the token of an unsubscribe link: that is a forged link, and it gets the same plain answer as
every other forged link (:func:`cadence.web.unsubscribe.invalid_link`), which says nothing about what
is wrong with it.

A pure ASGI middleware: the body is read once (up to :data:`MAX_CHECKED_BYTES`; a larger body is
passed on unread, for the route's own size limit to refuse) and replayed to the app unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadence.web.errors import error_response
from cadence.web.unsubscribe import invalid_link

MAX_CHECKED_BYTES = 1024 * 1024
"""Bodies up to this size are checked (every form of the workspace is far smaller)."""
REFUSED = (
    "The request contains a NUL character (\\0), which no field accepts. Remove it (it often comes from "
    "text pasted from another program) and try again."
)
UNSUBSCRIBE_PREFIX = "/unsubscribe/"
"""The unsubscribe links' paths: a NUL in their token is a forged link, answered as every other one."""
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def has_nul(data: bytes, *, json: bool = False) -> bool:
    """True when ``data`` holds a NUL: raw, percent-encoded (``%00``), or (``json``) as a ``\\u0000`` escape."""
    if b"\x00" in data or (b"%" in data and b"\x00" in unquote_to_bytes(data)):
        return True
    return json and _JSON_NUL.search(data) is not None


class RefuseNul:
    """Answers 400 to a request whose path, query string or body holds a NUL; passes the others on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; only HTTP requests are checked."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if "\x00" in path and path.startswith(UNSUBSCRIBE_PREFIX):
            await invalid_link()(scope, receive, send)
            return
        if "\x00" in path or has_nul(scope.get("query_string", b"")):
            await self._refuse(scope, receive, send)
            return
        messages: list[Message] = []
        body = bytearray()
        more = True
        while more and len(body) <= MAX_CHECKED_BYTES:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        content_type = HTTPConnection(scope).headers.get("content-type", "").lower()
        if has_nul(bytes(body), json="json" in content_type):
            await self._refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        app = scope.get("app")
        context = getattr(getattr(app, "state", None), "context", None)
        response = error_response(HTTPConnection(scope), getattr(context, "settings", None), 400, REFUSED)
        await response(scope, receive, send)
