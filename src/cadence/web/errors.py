"""Error answers: the workspace's own page for a browser, the short plain text for everything else.

A browser says it wants HTML (``Accept: text/html``); scripts, health checks and tests that send
no such header keep getting the plain status phrase, exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from cadence.settings import Settings
from cadence.web.pages import render

EXPLANATIONS: dict[int, tuple[str, str]] = {
    400: ("This request could not be read", "Go back, check what you entered and try again."),
    403: ("You cannot open this page", "Your role does not give access to it, or the form had expired."),
    404: ("There is nothing here", "The page does not exist, or what it showed is no longer yours to see."),
    405: ("This page cannot be used that way", "Open it from the workspace's own links."),
    500: ("Something went wrong on our side", "Nothing you did caused this; it has been logged. Try again shortly."),
    503: ("The workspace is unavailable for a moment", "Please try again in a few minutes."),
}


def wants_html(connection: HTTPConnection) -> bool:
    """True when the client is a browser asking for a page (its ``Accept`` header names ``text/html``)."""
    return "text/html" in connection.headers.get("accept", "")


def error_response(
    connection: HTTPConnection,
    settings: Settings | None,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer for an error ``status``: our error page for a browser, else ``detail`` as plain text."""
    if not wants_html(connection) or settings is None:
        return PlainTextResponse(detail, status_code=status, headers=headers)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    heading, explanation = EXPLANATIONS.get(status, (phrase, "Go back to the workspace and try again."))
    body = render("error.html", settings, heading=heading, explanation=explanation, status=status, detail=detail)
    return HTMLResponse(body, status_code=status, headers=headers)
