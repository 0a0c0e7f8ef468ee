"""``POST /forms/contact``: the contact form of a company's own site; the person becomes an inbound lead.

Form-encoded (a plain HTML form) or JSON (a script). Against bots and abuse:

- **Allowed origins** (``CADENCE_CONTACT_FORM_ORIGINS``): the browser's ``Origin`` (else the
  ``Referer``'s) must be one of them; with none set the form is off (404).
- **A honeypot**: the field :data:`HONEYPOT`, hidden from people with CSS, must stay empty.
- **A minimum fill time** (``CADENCE_CONTACT_FORM_MIN_SECONDS``): the field ``form_started`` holds
  the token ``GET /forms/contact/started`` gave the page's script when the page showed the form (the
  time, signed with the secret key, so that a script cannot write a time of its own); a post sooner
  than that after it, or without a token of ours, is taken for a bot's.
- **A per-address rate limit** (``CADENCE_CONTACT_FORM_PER_ADDRESS_PER_HOUR``): more posts for one
  email address in an hour are refused with 429 and ``Retry-After``.

A bot's post is answered like a person's (the redirect), so that it learns nothing, and nothing
is recorded. A person's post records the person as a ``contact_request`` (inbound) lead with a
``form_filled`` interaction, enrolls them at once and wakes the runners (speed to lead); the
answer is a 303 to ``CADENCE_CONTACT_FORM_THANKS_URL`` (or a short thank-you page), or 201 JSON.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cadence.core.tokens import form_started_at, form_started_token
from cadence.errors import CadenceError, ValidationError
from cadence.services.intake import InteractionKind, record_interaction
from cadence.web.api.errors import error_json
from cadence.web.api.limits import RateLimiter
from cadence.web.api.routes import wake
from cadence.web.deps import get_clock, get_context

logger = logging.getLogger("cadence.web.form")

router = APIRouter(include_in_schema=False)

HONEYPOT = "website"
"""The honeypot field: hidden from people, so only a bot fills it."""
PERSON_FIELDS = ("email", "first_name", "last_name", "company", "title", "phone", "country", "timezone")
MESSAGE_CHARS = 5000
THANKS_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Thank you</title></head>"
    "<body><p>Thank you: we have your message and will be in touch shortly.</p></body></html>"
)


def _origin(request: Request) -> str | None:
    """The origin the post came from: ``Origin``, else the ``Referer``'s scheme and host."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        if not referer:
            return None
        try:
            parts = urlsplit(referer)
        except ValueError:
            return None
        if not parts.scheme or not parts.netloc:
            return None
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.strip().rstrip("/").lower()


def _cors(response: Response, origin: str | None) -> Response:
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


async def _fields(request: Request) -> dict[str, str] | None:
    """The posted fields (form-encoded or a JSON object of strings), or None when they cannot be read."""
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if kind == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        fields: dict[str, str] = {}
        for key, value in data.items():
            if value is None:
                continue
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                return None
            fields[str(key)] = str(value)
        return fields
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=50, strict_parsing=False))
        except ValueError:
            return None
    return None


def _started(value: str | None, secret: str) -> datetime | None:
    """When the page showed the form: the time of the ``form_started`` token, if it is one of ours."""
    at_ms = form_started_at(value, secret) if value else None
    if at_ms is None:
        return None
    try:
        return datetime.fromtimestamp(at_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@router.get("/forms/contact/started")
def contact_started(request: Request) -> Response:
    """The token the page puts in ``form_started`` when it shows the form (for the allowed origins only)."""
    ctx = get_context(request)
    allowed = ctx.settings.contact_origins()
    if not allowed:
        return error_json(404, "form_disabled", "the contact form is off: set CADENCE_CONTACT_FORM_ORIGINS")
    origin = _origin(request)
    if origin is not None and origin not in allowed:
        return error_json(403, "origin_not_allowed", "this form may only be shown on the company's own site")
    at_ms = int(get_clock(request)().timestamp() * 1000)
    token = form_started_token(at_ms, ctx.settings.secret_key.get_secret_value())
    response = PlainTextResponse(token, headers={"Cache-Control": "no-store"})
    return _cors(response, origin)


@router.options("/forms/contact")
def contact_preflight(request: Request) -> Response:
    """The browser's CORS check before a script posts JSON: allowed for the configured origins only."""
    origin = _origin(request)
    if origin is None or origin not in get_context(request).settings.contact_origins():
        return Response(status_code=403)
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(response, origin)


@router.post("/forms/contact")
async def contact(request: Request) -> Response:
    """Take one post of the contact form (see the module documentation for the rules)."""
    ctx = get_context(request)
    settings = ctx.settings
    now = get_clock(request)()
    wants_json = request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
    allowed = settings.contact_origins()
    if not allowed:
        return error_json(404, "form_disabled", "the contact form is off: set CADENCE_CONTACT_FORM_ORIGINS")
    origin = _origin(request)
    if origin is None or origin not in allowed:
        return error_json(403, "origin_not_allowed", "this form may only be posted from the company's own site")
    fields = await _fields(request)
    if fields is None:
        answer = error_json(
            415 if not wants_json and "urlencoded" not in request.headers.get("content-type", "") else 422,
            "invalid_request",
            "post the form form-encoded, or as a JSON object of strings",
        )
        return _cors(answer, origin)

    def done() -> Response:
        if wants_json:
            return _cors(JSONResponse({"status": "received"}, status_code=201), origin)
        if settings.contact_form_thanks_url:
            return _cors(RedirectResponse(settings.contact_form_thanks_url, status_code=303), origin)
        return _cors(HTMLResponse(THANKS_PAGE, status_code=200), origin)

    started = _started(fields.get("form_started"), settings.secret_key.get_secret_value())
    if fields.get(HONEYPOT, "").strip():
        logger.info("contact form: a post with the honeypot filled was ignored")
        return done()
    if started is None or (now - started).total_seconds() < settings.contact_form_min_seconds:
        logger.info(
            "contact form: a post faster than %s s (or without a form_started token of ours) was ignored",
            settings.contact_form_min_seconds,
        )
        return done()
    email = fields.get("email", "").strip().lower()
    if not email:
        return _cors(error_json(422, "invalid_lead", "email is missing"), origin)
    limiter: RateLimiter = request.app.state.form_limiter
    wait = limiter.take(email, settings.contact_form_per_address_per_hour, now)
    if wait is not None:
        return _cors(
            error_json(
                429,
                "rate_limited",
                f"this address sent the form several times: retry in {wait} s",
                {"Retry-After": str(wait)},
            ),
            origin,
        )
    person: dict[str, Any] = {k: fields[k] for k in PERSON_FIELDS if fields.get(k, "").strip() and k != "email"}
    inbound = ctx.rules.inbound_sources
    person["source"] = "contact_request" if "contact_request" in inbound else min(inbound, default="contact_request")
    message = fields.get("message", "").strip()
    if len(message) > MESSAGE_CHARS:
        return _cors(error_json(422, "invalid_lead", f"the message is longer than {MESSAGE_CHARS} characters"), origin)
    person["custom"] = {"message": message} if message else {}

    def record() -> dict[str, Any]:
        with ctx.sessions() as session, session.begin():
            intake = record_interaction(
                ctx,
                session,
                email,
                InteractionKind.FORM_FILLED,
                topic="contact form",
                at=now,
                now=now,
                recorded_by="contact form",
                person=person,
            )
            return intake.as_dict()

    try:
        recorded = await run_in_threadpool(record)
    except ValidationError as exc:
        return _cors(error_json(422, "invalid_lead", str(exc)), origin)
    except CadenceError as exc:
        return _cors(error_json(409, "conflict", str(exc)), origin)
    wake(request, recorded)
    return done()
