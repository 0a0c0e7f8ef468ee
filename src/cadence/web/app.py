"""The FastAPI application: one :class:`Context` per app, one router per area, plain error responses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web import unsubscribe
from cadence.web.deps import Clock, wall_clock
from cadence.web.edge import Edge

logger = logging.getLogger("cadence.web")

UNAVAILABLE = "This service is temporarily unavailable. Please try again in a few minutes."


async def _http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and the like: the status phrase in plain text (never FastAPI's JSON)."""
    assert isinstance(exc, StarletteHTTPException)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


async def _bad_request(request: Request, exc: Exception) -> Response:
    """A request the routes cannot read: a plain 400 that does not echo the input back."""
    return PlainTextResponse("Bad Request", status_code=400)


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database cannot be reached or used: a plain 503; the cause goes to the log only."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    logger.error("database unavailable (%s): %s", type(cause).__name__, first_line)
    return PlainTextResponse(UNAVAILABLE, status_code=503, headers={"Retry-After": "60"})


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
    app.add_middleware(Edge)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(SQLAlchemyError, _database_error)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (it does not touch the database)."""
        return {"status": "ok"}

    app.include_router(unsubscribe.router)
    return app
