"""The edge of the app: security headers on every response, a redacted access log, and a plain 500.

A pure ASGI middleware (not ``BaseHTTPMiddleware``): it wraps every response, including the error
responses of the exception handlers, and turns any exception that escapes them into a plain
``500`` with the same headers, logged here and never shown to the client.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadence.web.errors import error_response

logger = logging.getLogger("cadence.web")
access_logger = logging.getLogger("cadence.web.access")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",  # no scripts, images, fonts, frames or connections: the pages need none
        "style-src 'unsafe-inline'",  # the inline <style> of the layout
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),  # links carry tokens: never pass them on
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
)
DEFAULT_CACHE_CONTROL = "no-store"  # unless a response says otherwise

# Paths whose rest is a secret or personal: the token of an unsubscribe link (it spells the address),
# a lead's address in the workspace's lead pages.
REDACTED_PREFIXES = ("/unsubscribe/", "/leads/", "/api/v1/leads/")


def redact(path: str) -> str:
    """``path`` fit for a log: the token of a link, or a lead's address, is replaced by ``…``."""
    for prefix in REDACTED_PREFIXES:
        if path.startswith(prefix):
            return prefix + "…"
    return path


def _server_error(scope: Scope) -> Response:
    """The 500 answer: our error page for a browser (with the app's settings), else plain text."""
    if str(scope.get("path", "")).startswith("/api/"):
        return JSONResponse({"error": {"code": "internal_error", "message": "Internal Server Error"}}, status_code=500)
    app = scope.get("app")
    context = getattr(getattr(app, "state", None), "context", None)
    settings = getattr(context, "settings", None)
    try:
        return error_response(HTTPConnection(scope), settings, 500, "Internal Server Error")
    except Exception:  # the error page itself failed: the plain answer never does
        logger.exception("the error page could not be rendered")
        return PlainTextResponse("Internal Server Error", status_code=500)


class Edge:
    """Adds the security headers, logs each request (redacted) and answers a plain 500 on an unhandled error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection scope; only HTTP is wrapped."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["Cache-Control"] = DEFAULT_CACHE_CONTROL
            await send(message)

        path = redact(scope.get("path", ""))
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error serving %s %s", scope.get("method"), path)
            if status:  # the response has begun: nothing more can be said to the client
                raise
            await _server_error(scope)(scope, receive, send_with_headers)
        finally:
            client = scope.get("client")
            access_logger.info(
                "%s %s %s %s %.1fms",
                client[0] if client else "-",
                scope.get("method"),
                path,
                status[0] if status else "-",
                (time.perf_counter() - started) * 1000,
            )
