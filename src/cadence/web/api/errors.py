"""Errors of the API: a JSON body ``{"error": {"code": ..., "message": ...}}`` with a stable ``code``.

Codes are part of the API (a client may branch on them); messages are for people and may change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from starlette.responses import JSONResponse

from cadence.errors import AlreadyExists, CadenceError, NotFound, ValidationError

API_PREFIX = "/api/"

CODES: dict[str, str] = {
    "unauthorized": "no API key, or one that is unknown or revoked (401)",
    "forbidden_scope": "the key's scope does not allow this (403)",
    "not_found": "no such lead, task or page (404)",
    "method_not_allowed": "the path does not take this method (405)",
    "invalid_request": "the body or a parameter cannot be read: JSON, a missing or unknown field, a wrong type (422)",
    "invalid_lead": "a field of the person is wrong, or their owner is unknown (422)",
    "conflict": "the change conflicts with the lead's state, e.g. enrolled already (409)",
    "idempotency_key_reused": "the Idempotency-Key was used for a different request in the last 24 hours (422)",
    "idempotency_in_progress": "a request with the same Idempotency-Key is being handled: retry (409)",
    "body_too_large": "the request body is over the limit (413)",
    "rate_limited": "too many requests for this key: wait for Retry-After seconds (429)",
    "invalid_booking": "the booking notification is not one of Cal.com's or Calendly's, or misses its start (422)",
    "booking_missing": "a response of type booking without the notification in `booking` (422)",
    "booking_of_another": "the booking's attendees do not include the lead of the path (422)",
    "unavailable": "the database cannot be reached: retry after Retry-After seconds (503)",
    "internal_error": "something failed on our side; it is logged (500)",
}
"""Every code the API answers with, and when."""


class ApiError(Exception):
    """An error answer of the API: ``status``, a stable ``code`` and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        assert code in CODES, code
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def is_api(path: str) -> bool:
    """True for a path of the API (its errors are JSON)."""
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


def error_json(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The JSON answer for an error."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)


def api_error_response(exc: ApiError) -> JSONResponse:
    """The JSON answer for ``exc``."""
    return error_json(exc.status, exc.code, exc.message, exc.headers)


HTTP_CODES: dict[int, str] = {
    401: "unauthorized",
    403: "forbidden_scope",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def code_for_status(status: int) -> str:
    """The code of a plain HTTP error (a route not found, a method not allowed, ...)."""
    return HTTP_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")


@contextmanager
def cadence_errors(*, invalid: str = "invalid_request") -> Iterator[None]:
    """Turn the services' errors into API errors: not found 404, invalid 422 (``invalid``), exists 409."""
    try:
        yield
    except NotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except ValidationError as exc:
        raise ApiError(422, invalid, str(exc)) from None
    except AlreadyExists as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except CadenceError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
