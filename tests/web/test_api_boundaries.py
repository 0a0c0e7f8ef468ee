"""The API and the workspace keep apart: no session cookie opens the API, no CSRF token is asked of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from cadence.services.api_keys import Scope, create_key
from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.conftest import Cli
from tests.web.workspace import ADA, MAX, Seeded, signed_in

AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_manager_s_session_cookie_does_not_open_the_api(site: str) -> None:
    with signed_in(site, MAX) as browser:
        assert browser.get("/leads").status_code == 200  # the session works in the workspace
        answer = browser.get(f"/api/v1/leads/{ADA}")
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
        decided = browser.post(f"/api/v1/leads/{ADA}/decision", json={"outcome": "bad_fit", "reason": "x"})
        assert decided.status_code == 401


def test_the_api_asks_no_csrf_token_of_a_request_with_a_key(site: str, ctx: Context, seeded: Seeded) -> None:
    with ctx.sessions() as s, s.begin():
        key = create_key(s, "crm", Scope.WRITE, now=AT).key
    with signed_in(site, MAX) as browser:  # a cookie as well: it changes nothing
        answer = browser.post(
            f"/api/v1/leads/{ADA}/responses",
            json={"type": "reply", "note": "Saw it in the CRM"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["channel"] == "email"


def test_api_keys_are_created_shown_once_listed_and_revoked(run_cli: Cli) -> None:
    created = run_cli("api-keys", "create", "website form", "--scope", "intake", "--now", "2026-12-01T09:00")
    key = created.stdout.strip()
    assert key.startswith("cad_")
    assert len(key) > 40
    assert "not shown again" in created.stderr
    listed = run_cli("api-keys", "list", "--json").json()
    assert listed == [
        {
            "name": "website form",
            "prefix": key[:12],
            "scope": "intake",
            "created_at": "2026-12-01T09:00:00+00:00",
            "last_used_at": None,
            "revoked_at": None,
        }
    ]
    assert key not in run_cli("api-keys", "list").stdout
    assert "exists already" in run_cli("api-keys", "create", "website form", "--scope", "read", expect=1).stderr
    assert "--scope must be" in run_cli("api-keys", "create", "other", "--scope", "admin", expect=1).stderr
    assert "revoked API key" in run_cli("api-keys", "revoke", "website form").stdout
    assert "revoked already" in run_cli("api-keys", "revoke", "website form").stdout
    assert run_cli("api-keys", "list", "--json").json()[0]["revoked_at"] is not None
    assert "no API key named" in run_cli("api-keys", "revoke", "nothing", expect=1).stderr


@pytest.mark.one_database
def test_the_access_log_does_not_show_a_lead_s_address_in_an_api_path() -> None:
    from cadence.web.edge import redact

    assert redact("/api/v1/leads/ada@analytical.example/decision") == "/api/v1/leads/…"


@pytest.mark.one_database
def test_a_database_that_cannot_be_reached_is_a_json_503_with_retry_after(
    web_settings: Settings, serve: Callable[[FastAPI], str]
) -> None:
    away = web_settings.model_copy(update={"database_url": "postgresql+psycopg://127.0.0.1:1/cadence"})
    base = serve(create_app(away))
    answer = httpx.get(f"{base}/api/v1/tasks", headers={"Authorization": "Bearer cad_x"}, timeout=30)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable"
    assert answer.headers["retry-after"] == "60"
