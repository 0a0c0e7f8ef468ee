"""The FastAPI application: one :class:`Context` per app, one router per area, plain error responses.

Areas: the unsubscribe links (token-authenticated, no session); login and logout; the workspace
pages of reps (tasks, leads), marketers (cadences, templates, previews) and managers (dashboard).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadence.services.context import Context
from cadence.services.workspace.access import AccessDenied, Forbidden
from cadence.settings import Settings
from cadence.web import (
    accounts,
    api,
    auth,
    contact_form,
    dashboard,
    editor,
    leads,
    mailboxes,
    managers,
    marketing,
    tasks,
    unsubscribe,
    webhooks,
)
from cadence.web.api.errors import ApiError, api_error_response, code_for_status, error_json, is_api
from cadence.web.api.limits import BodyLimit, RateLimiter
from cadence.web.deps import Clock, wall_clock
from cadence.web.edge import Edge
from cadence.web.errors import error_response
from cadence.web.nul_guard import RefuseNul

logger = logging.getLogger("cadence.web")

UNAVAILABLE = "This service is temporarily unavailable. Please try again in a few minutes."


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.context.settings
    return settings


async def _http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and the like: our error page for a browser, else the status phrase in plain text (never JSON)."""
    assert isinstance(exc, StarletteHTTPException)
    if is_api(request.url.path):
        return error_json(exc.status_code, code_for_status(exc.status_code), str(exc.detail), exc.headers)
    return error_response(request, _settings(request), exc.status_code, str(exc.detail), exc.headers)


async def _bad_request(request: Request, exc: Exception) -> Response:
    """A request the routes cannot read: a 400 that does not echo the input back (the API: 422 naming the fields)."""
    if is_api(request.url.path) and isinstance(exc, RequestValidationError):
        problems = [_problem(error) for error in exc.errors()[:20]]
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return error_json(422, "invalid_request", f"the request cannot be used: {listed}", problems=problems)
    return error_response(request, _settings(request), 400, "Bad Request")


def _problem(error: Mapping[str, Any]) -> dict[str, str]:
    """One field FastAPI could not read, in words: a body that is not JSON, or not an object, says so."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    if kind == "json_invalid" and loc[:1] == ("body",):
        where = f"at character {loc[1]}: " if len(loc) > 1 else ""
        reason = str((error.get("ctx") or {}).get("error", "")) or "cannot be parsed"
        return {"field": "body", "problem": f"the body is not valid JSON ({where}{reason})"}
    if loc == ("body",) and kind in {"model_attributes_type", "dict_type", "model_type"}:
        return {"field": "body", "problem": "the body must be a JSON object (Content-Type: application/json)"}
    return {"field": ".".join(str(part) for part in loc), "problem": str(error.get("msg", ""))}


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database cannot be reached or used: a plain 503; the cause goes to the log only."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    logger.error("database unavailable (%s): %s", type(cause).__name__, first_line)
    if is_api(request.url.path):
        return error_json(503, "unavailable", UNAVAILABLE, {"Retry-After": "60"})
    return error_response(request, _settings(request), 503, UNAVAILABLE, {"Retry-After": "60"})


WORKSPACE_ROUTERS = (
    auth.session_router,
    tasks.router,
    accounts.router,
    leads.router,
    marketing.router,
    dashboard.router,
    webhooks.router,
    mailboxes.router,
    managers.router,
    editor.router,
)
"""The workspace's routers: made by :func:`auth.guarded_router`, they check the session's CSRF token on every POST.

The other two are the unsubscribe links (token in the link, no session) and the login form (its own token).
"""


async def _api_error(request: Request, exc: Exception) -> Response:
    """An error of the API: JSON with a stable code."""
    assert isinstance(exc, ApiError)
    return api_error_response(exc)


async def _login_required(request: Request, exc: Exception) -> Response:
    """A workspace page without a live session: to the login page, and back to the page afterwards."""
    assert isinstance(exc, auth.LoginRequired)
    response = RedirectResponse(auth.login_url(exc.next_path), status_code=303)
    if auth.session_token(request, request.app.state.context.settings) is not None:  # expired or ended
        auth.clear_cookie(response, request, request.app.state.context.settings, auth.SESSION_COOKIE)
    return response


async def _access_denied(request: Request, exc: Exception) -> Response:
    """A lead or task the viewer may not have: 403 for a role without it, else 404, as if it did not exist."""
    return error_response(request, _settings(request), 403 if isinstance(exc, Forbidden) else 404, str(exc))


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    """A workspace POST without the session's CSRF token: refused, nothing changed."""
    return error_response(request, _settings(request), 403, auth.EXPIRED_FORM)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The web app for ``settings`` (default: read from the environment).

    The :class:`Context` (database engine and sessions) is built here, once, kept on
    ``app.state.context`` and disposed when the server shuts down. ``clock`` gives "now" to the
    handlers that record a time (default: the wall clock, UTC); tests pass a fixed one.
    """
    context = Context(settings if settings is not None else Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context.close()

    app = FastAPI(
        title="cadence",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.context = context
    app.state.clock = clock or wall_clock
    app.state.api_limiter = RateLimiter()
    app.state.form_limiter = RateLimiter(timedelta(hours=1))
    app.state.intake_wakers = []  # called with (email, first step's ISO time) once an enrollment is committed
    app.add_middleware(BodyLimit, limit=context.settings.api_max_body_bytes)
    app.add_middleware(RefuseNul)  # inside the edge: its answer gets the security headers and the log line
    app.add_middleware(Edge)  # outermost: its headers go on every answer, the body limit's too
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(auth.LoginRequired, _login_required)
    app.add_exception_handler(auth.CsrfFailed, _csrf_failed)
    app.add_exception_handler(AccessDenied, _access_denied)
    app.add_exception_handler(ApiError, _api_error)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (it does not touch the database)."""
        return {"status": "ok"}

    app.include_router(unsubscribe.router)
    for router in api.routers:
        app.include_router(router)
    app.include_router(contact_form.router)
    app.include_router(auth.router)
    for router in WORKSPACE_ROUTERS:
        app.include_router(router)
    return app
