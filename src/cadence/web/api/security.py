"""Who is calling the API: ``Authorization: Bearer KEY``, the key's scope, and its rate limit.

Only the header counts: the workspace's session cookie is never read here, so that a page on
another site cannot make a signed-in browser call the API (and the workspace's CSRF tokens,
which protect cookie-authenticated forms, have nothing to protect on the API).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cadence.services.api_keys import Scope, allows, authenticate
from cadence.web.api.errors import ApiError
from cadence.web.api.limits import RateLimiter
from cadence.web.deps import get_clock, get_context

_BEARER = "bearer "
BEARER = HTTPBearer(auto_error=False, description="An API key: `cadence api-keys create NAME --scope ...`")
"""Declares the scheme in the OpenAPI schema; :func:`caller` reads the header itself."""


@dataclass(frozen=True)
class Caller:
    """The key a request came with: its id, name and scope."""

    key_id: int
    name: str
    scope: Scope


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": 'Bearer realm="cadence"'})


def limiter(request: Request) -> RateLimiter:
    """The app's rate limiter (one per app)."""
    return cast(RateLimiter, request.app.state.api_limiter)


def caller(request: Request, needed: Scope) -> Caller:
    """The key of ``request``, checked: known, not revoked, its scope giving ``needed``, under its rate limit."""
    header = request.headers.get("authorization", "")
    if not header[: len(_BEARER)].lower() == _BEARER:
        raise _unauthorized("send your API key as 'Authorization: Bearer KEY' (`cadence api-keys create`)")
    presented = header[len(_BEARER) :].strip()
    ctx = get_context(request)
    now = get_clock(request)()
    with ctx.sessions() as session, session.begin():
        key = authenticate(session, presented)
        if key is None:
            raise _unauthorized("this API key is unknown or revoked")
        found = Caller(key.id, key.name, Scope(key.scope))
        if not allows(key, needed):
            raise ApiError(
                403, "forbidden_scope", f"the key {key.name!r} has the scope {key.scope}; this needs {needed.value}"
            )
        wait = limiter(request).take(str(key.id), ctx.settings.api_requests_per_minute, now)
        if wait is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"more than {ctx.settings.api_requests_per_minute} requests in a minute with this key: "
                f"retry in {wait} s",
                {"Retry-After": str(wait)},
            )
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= 60:
            key.last_used_at = now  # at most one write a minute per key
    return found


def needs(scope: Scope) -> Callable[..., Caller]:
    """A dependency: the request's :class:`Caller`, which must have ``scope`` (``write`` has every scope)."""

    def dependency(
        request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
    ) -> Caller:
        return caller(request, scope)

    dependency.__name__ = f"needs_{scope.value}"
    return dependency
