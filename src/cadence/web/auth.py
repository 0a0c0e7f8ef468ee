"""Signing in to the workspace: the session cookie, who is asking, role checks, CSRF tokens, login and logout.

The session cookie carries a random token (the database keeps its SHA-256: see
:mod:`cadence.services.users`). It is ``HttpOnly`` and ``SameSite=Lax``; over https (the request's
scheme, or a ``CADENCE_BASE_URL`` starting with ``https://``) it is also ``Secure`` and named with
the ``__Host-`` prefix, so that no other host or plain-http page can set it.

CSRF: every POST of the workspace carries the session's token in a hidden ``csrf_token`` field,
checked by :func:`csrf_guard` (a dependency of the whole workspace router). The login form, which
has no session yet, uses a signed double-submit token instead: a random value in a short-lived
cookie and, in the form, its HMAC under ``CADENCE_SECRET_KEY``. The unsubscribe endpoints have
neither: their token is in the link, and mail providers POST to them without cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse

from cadence.services.users import SESSION_LIFETIME, Role, Throttled, Viewer, log_in
from cadence.services.workspace.sessions import end_session, viewer_of
from cadence.settings import Settings
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.pages import page

SESSION_COOKIE = "cadence_session"
LOGIN_COOKIE = "cadence_login"
SECURE_PREFIX = "__Host-"
LOGIN_COOKIE_SECONDS = 3600
CSRF_FIELD = "csrf_token"
WRONG_LOGIN = "Wrong email address or password."
EXPIRED_FORM = "This form has expired or did not come from this site. Go back, reload the page and try again."

LANDING: dict[Role, str] = {Role.REP: "/tasks", Role.MARKETER: "/cadences", Role.MANAGER: "/dashboard"}
"""Where each role lands after logging in."""

MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 100
_MAX_TOKEN = 128
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s\\]*$")


class LoginRequired(Exception):
    """The page needs a signed-in user: the app answers with a redirect to the login page."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__("login required")
        self.next_path = next_path


class CsrfFailed(Exception):
    """A POST without the session's CSRF token: the app answers 403 and changes nothing."""


def is_https(request: Request, settings: Settings) -> bool:
    """True when the workspace is served over https (as the browser sees it)."""
    return request.url.scheme == "https" or settings.base_url.lower().startswith("https://")


def cookie_name(base: str, request: Request, settings: Settings) -> str:
    """``base``, with the ``__Host-`` prefix over https (a cookie only this host, over https, can set)."""
    return SECURE_PREFIX + base if is_https(request, settings) else base


def set_cookie(response: Response, request: Request, settings: Settings, base: str, value: str, max_age: int) -> None:
    """Set one of our cookies: HttpOnly, SameSite=Lax, whole site, Secure over https."""
    response.set_cookie(
        cookie_name(base, request, settings),
        value,
        max_age=max_age,
        path="/",
        secure=is_https(request, settings),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, settings: Settings, base: str) -> None:
    """Delete one of our cookies (with the attributes it was set with)."""
    secure = is_https(request, settings)
    response.delete_cookie(cookie_name(base, request, settings), path="/", secure=secure, httponly=True, samesite="lax")


def _cookie(request: Request, settings: Settings, base: str) -> str | None:
    value = request.cookies.get(cookie_name(base, request, settings))
    return value if value and len(value) <= _MAX_TOKEN else None


def session_token(request: Request, settings: Settings) -> str | None:
    """The session token the browser sent, if any."""
    return _cookie(request, settings, SESSION_COOKIE)


def viewer_or_none(request: Request, ctx: ContextDep, clock: ClockDep) -> Viewer | None:
    """Who is asking: the user of a live session, or None."""
    token = session_token(request, ctx.settings)
    if token is None:
        return None
    return viewer_of(ctx, token, now=clock())


OptionalViewer = Annotated[Viewer | None, Depends(viewer_or_none)]


def _here(request: Request) -> str | None:
    if request.method != "GET":
        return None
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def require_viewer(request: Request, viewer: OptionalViewer) -> Viewer:
    """The signed-in user; without one the request is redirected to the login page."""
    if viewer is None:
        raise LoginRequired(_here(request))
    return viewer


ViewerDep = Annotated[Viewer, Depends(require_viewer)]


def role_in(*roles: Role) -> Callable[[Viewer], Viewer]:
    """A dependency: the signed-in user, who must have one of ``roles`` (else 403)."""

    def check(viewer: ViewerDep) -> Viewer:
        if viewer.role not in roles:
            raise HTTPException(status_code=403, detail="Forbidden")
        return viewer

    return check


ManagerDep = Annotated[Viewer, Depends(role_in(Role.MANAGER))]
MarketingDep = Annotated[Viewer, Depends(role_in(Role.MARKETER, Role.MANAGER))]
TasksDep = Annotated[Viewer, Depends(role_in(Role.REP, Role.MANAGER))]


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a POSTed urlencoded form (the first value of each name); {} for other methods and bodies.

    The body is read up to :data:`MAX_FORM_BYTES` (413 beyond: the login form is open to anyone) and
    :data:`MAX_FORM_FIELDS` fields (400 beyond). The workspace's forms are all urlencoded; another
    body reads as no fields, so that its CSRF check fails.
    """
    if request.method != "POST":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="Content Too Large")
    if not request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise HTTPException(status_code=400, detail="Bad Request") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


FormDep = Annotated[dict[str, str], Depends(form_fields)]


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


async def csrf_guard(request: Request, viewer: OptionalViewer, form: FormDep) -> None:
    """Refuse a workspace POST whose ``csrf_token`` is not the session's (without a session the route redirects)."""
    if request.method == "POST" and viewer is not None and not _same(form.get(CSRF_FIELD), viewer.csrf_token):
        raise CsrfFailed


def safe_next(value: str | None, default: str) -> str:
    """``value`` if it is a path on this site (``/tasks?x=1``), else ``default``: never an open redirect."""
    if value and len(value) <= 2000 and _LOCAL_PATH.match(value) and value.isprintable():
        return value
    return default


def redirect(to: str) -> RedirectResponse:
    """A 303 See Other to ``to`` (after a POST the browser GETs it)."""
    return RedirectResponse(to, status_code=303)


def login_url(next_path: str | None) -> str:
    """The login page, coming back to ``next_path`` afterwards."""
    return "/login" + (f"?next={quote(next_path, safe='')}" if next_path and next_path != "/" else "")


# -- Login and logout -------------------------------------------------------------------------------

router = APIRouter(tags=["auth"])


def _login_csrf(settings: Settings, nonce: str) -> str:
    key = settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(key, b"cadence-login-form:" + nonce.encode("utf-8"), hashlib.sha256).hexdigest()


def _login_page(
    request: Request,
    settings: Settings,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    email: str = "",
    next_path: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    nonce = _cookie(request, settings, LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = page(
        "login.html",
        settings,
        status_code=status_code,
        csrf_token=_login_csrf(settings, nonce),
        error=error,
        notice=notice,
        email=email,
        next_path=safe_next(next_path, ""),
    )
    set_cookie(response, request, settings, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@router.get("/")
def home(viewer: OptionalViewer) -> Response:
    """The workspace's front door: the page of the user's role, or the login page."""
    return redirect(LANDING[viewer.role] if viewer is not None else "/login")


@router.get("/login")
def login_form(
    request: Request,
    ctx: ContextDep,
    viewer: OptionalViewer,
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "",
) -> Response:
    """The login form (a signed-in user goes straight on)."""
    if viewer is not None:
        return redirect(safe_next(next_path, LANDING[viewer.role]))
    notice = "You are logged out." if request.query_params.get("out") == "1" else None
    return _login_page(request, ctx.settings, notice=notice, next_path=next_path)


@router.post("/login")
def login(request: Request, ctx: ContextDep, clock: ClockDep, form: FormDep) -> Response:
    """Check the email and password; on success start a new session and go on to the page asked for."""
    settings = ctx.settings
    email = form.get("email", "")[:320]
    next_path = form.get("next", "")
    nonce = _cookie(request, settings, LOGIN_COOKIE)
    if nonce is None or not _same(form.get(CSRF_FIELD), _login_csrf(settings, nonce)):
        return _login_page(request, settings, status_code=403, error=EXPIRED_FORM, email=email, next_path=next_path)
    client = request.client.host if request.client else "-"
    try:
        grant = log_in(
            ctx.sessions,
            email,
            form.get("password", ""),
            client=client,
            now=clock(),
            previous_token=session_token(request, settings),
        )
    except Throttled as exc:
        return _login_page(
            request,
            settings,
            status_code=429,
            error=str(exc),
            email=email,
            next_path=next_path,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if grant is None:
        return _login_page(request, settings, status_code=401, error=WRONG_LOGIN, email=email, next_path=next_path)
    response = redirect(safe_next(next_path, LANDING[grant.role]))
    set_cookie(response, request, settings, SESSION_COOKIE, grant.token, int(SESSION_LIFETIME.total_seconds()))
    clear_cookie(response, request, settings, LOGIN_COOKIE)
    return response


def guarded_router() -> APIRouter:
    """A router for workspace pages: every POST on it must carry the session's CSRF token."""
    return APIRouter(dependencies=[Depends(csrf_guard)])


session_router = guarded_router()


@session_router.post("/logout")
def logout(request: Request, ctx: ContextDep, viewer: ViewerDep) -> Response:
    """End the session, on the server and in the browser."""
    token = session_token(request, ctx.settings)
    if token is not None:
        end_session(ctx, token)
    response = redirect("/login?out=1")
    clear_cookie(response, request, ctx.settings, SESSION_COOKIE)
    return response
