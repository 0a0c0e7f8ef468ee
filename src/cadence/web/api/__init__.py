"""The API, ``/api/v1``: leads and interactions in, leads and tasks out, responses and decisions.

Served by the same app as the workspace (:func:`cadence.web.app.create_app`). Authenticated by an
API key in ``Authorization: Bearer KEY`` only (never the workspace's session cookie), scoped,
rate-limited per key, with size-limited bodies; every error is JSON with a stable ``code``
(:data:`cadence.web.api.errors.CODES`). The OpenAPI schema is at ``/api/v1/openapi.json`` and a
page that lists the endpoints at ``/api/v1/docs``.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from cadence.web.api.errors import CODES
from cadence.web.api.routes import router as endpoints

TITLE = "cadence API"
VERSION = "1"

docs_router = APIRouter(prefix="/api/v1", include_in_schema=False)


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema of ``/api/v1`` (built once per app)."""
    cached: dict[str, Any] | None = getattr(app.state, "api_schema", None)
    if cached is None:
        cached = get_openapi(
            title=TITLE,
            version=VERSION,
            description='Leads arrive in seconds. Errors: `{"error": {"code", "message"}}`; codes: '
            + "; ".join(f"`{code}`: {text}" for code, text in CODES.items())
            + ". Every POST honours an `Idempotency-Key` header for 24 hours.",
            routes=endpoints.routes,
        )
        app.state.api_schema = cached
    return cached


@docs_router.get("/openapi.json")
def schema(request: Request) -> JSONResponse:
    """The OpenAPI schema (public: it holds no data)."""
    return JSONResponse(openapi_schema(request.app))


@docs_router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """A page listing every endpoint and its body, built from the schema (no scripts: the CSP allows none)."""
    spec = openapi_schema(request.app)
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>cadence API</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "code,pre{background:#f4f4f4}pre{padding:.5rem;overflow:auto}</style></head><body>",
        f"<h1>{html.escape(TITLE)} v{VERSION}</h1>",
        "<p>Send <code>Authorization: Bearer KEY</code> (<code>cadence api-keys create NAME --scope "
        "intake|read|write</code>). The schema: <a href=/api/v1/openapi.json>/api/v1/openapi.json</a>.</p>",
        "<h2>Error codes</h2><ul>",
        *(f"<li><code>{html.escape(c)}</code>: {html.escape(t)}</li>" for c, t in CODES.items()),
        "</ul>",
    ]
    for path, methods in spec.get("paths", {}).items():
        for method, operation in methods.items():
            parts.append(f"<h2><code>{html.escape(method.upper())} {html.escape(path)}</code></h2>")
            parts.append(f"<p><strong>{html.escape(operation.get('summary', ''))}</strong></p>")
            parts.append(f"<p>{html.escape(operation.get('description', ''))}</p>")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body is not None:
                name = body.get("$ref", "").rsplit("/", 1)[-1]
                found = spec.get("components", {}).get("schemas", {}).get(name, body)
                fields = json.dumps(found.get("properties", {}), indent=2)
                parts.append(f"<p>Body ({html.escape(name)}):</p><pre>{html.escape(fields)}</pre>")
    parts.append("</body></html>")
    return HTMLResponse("".join(parts))


routers = (endpoints, docs_router)
"""The API's routers, in the order the app includes them."""
