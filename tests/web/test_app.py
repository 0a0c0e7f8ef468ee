"""The app around the routes: security headers, plain errors, health, the database going away, serving."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cadence.core.tokens import sign_unsubscribe
from cadence.errors import ConfigurationError
from cadence.services.context import Context, SchemaNotReady
from cadence.settings import Settings
from cadence.web import server
from cadence.web.app import create_app
from tests.conftest import TEMPLATES, Cli
from tests.flows.conftest import lead_row, seed
from tests.support.ports import free_port
from tests.web.conftest import MONDAY, SECRET, one_click, running

CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def assert_secure(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    directives = [d.strip() for d in headers["content-security-policy"].split(";")]
    assert directives[:3] == ["default-src 'none'", "style-src 'unsafe-inline'", "form-action 'self'"]
    assert headers["content-security-policy"] == CSP
    assert "server" not in headers


@pytest.mark.one_database
def test_every_response_carries_the_security_headers(http: httpx.Client, ctx: Context) -> None:
    seed(ctx, [lead_row(0)], now=MONDAY)
    url = f"/unsubscribe/{sign_unsubscribe('lead0@acme.example', SECRET)}"
    responses = [
        http.get(url),
        one_click(http, url),
        http.get(url),  # already unsubscribed
        http.get("/unsubscribe/forged.token"),
        http.post("/unsubscribe/forged.token"),
        http.get("/no/such/page"),
        http.delete(url),
        http.get("/healthz"),
        http.get("/login"),
        http.get("/tasks"),  # to the login page
        http.post("/login", data={"email": "x@acme.example", "password": "y"}),  # no form token
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 400, 400, 404, 405, 200, 200, 303, 403]
    for response in responses:
        assert_secure(response)


@pytest.mark.one_database
def test_unknown_routes_get_a_plain_404_and_no_api_docs(http: httpx.Client) -> None:
    for path in ("/no/such/page", "/unsubscribe", "/docs", "/redoc", "/openapi.json", "/static/x.css", "/tasks/x/y"):
        response = http.get(path)
        assert (response.status_code, response.text) == (404, "Not Found"), path
        assert response.headers["content-type"] == "text/plain; charset=utf-8"


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_browser_gets_the_workspaces_own_404_page(http: httpx.Client) -> None:
    response = http.get("/no/such/page", headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>There is nothing here</h1>" in response.text
    assert '<a href="/">Back to the workspace</a>' in response.text
    assert "Error 404" in response.text
    assert "{" not in response.text.split("<body>")[1]  # no JSON, nothing left unrendered
    assert_secure(response)


@pytest.mark.one_database
def test_the_front_door_leads_to_the_login_page(http: httpx.Client) -> None:
    response = http.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/login")


@pytest.mark.one_database
def test_a_wrong_method_gets_a_plain_405(http: httpx.Client) -> None:
    response = http.put("/unsubscribe/anything")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")


@pytest.mark.one_database
def test_healthz_says_ok(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _unmigrated_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}"


def _unreachable_postgresql(tmp_path: Path) -> str:
    return f"postgresql+psycopg://cadence@127.0.0.1:{free_port()}/cadence?connect_timeout=2"


@pytest.mark.parametrize("database", [_unmigrated_sqlite, _unreachable_postgresql], ids=["no schema", "no server"])
def test_a_database_failure_gets_a_plain_503_and_no_traceback(
    database: Callable[[Path], str],
    tmp_path: Path,
    serve: Callable[[FastAPI], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = database(tmp_path)
    settings = Settings(database_url=url, templates_dir=TEMPLATES, secret_key=SECRET)
    token = sign_unsubscribe("lead0@acme.example", SECRET)
    with httpx.Client(base_url=serve(create_app(settings)), timeout=10) as http, caplog.at_level(logging.ERROR):
        page = http.get(f"/unsubscribe/{token}")
        post = one_click(http, f"/unsubscribe/{token}")
        forged = http.get("/unsubscribe/forged.token")  # checked before the database is needed
        health = http.get("/healthz")
    for response in (page, post):
        assert response.status_code == 503
        assert response.text == "This service is temporarily unavailable. Please try again in a few minutes."
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["retry-after"] == "60"
        assert_secure(response)
    assert (forged.status_code, health.status_code) == (400, 200)
    assert any(r.name == "cadence.web" and "database unavailable" in r.getMessage() for r in caplog.records)


@pytest.mark.one_database
def test_an_unexpected_error_gets_a_plain_500_with_the_headers(
    app: FastAPI, serve: Callable[[FastAPI], str], caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with httpx.Client(base_url=serve(app), timeout=10) as http, caplog.at_level(logging.ERROR):
        response = http.get("/boom")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert "secret internals" not in response.text
    assert_secure(response)
    assert any("unhandled error serving GET /boom" in r.getMessage() for r in caplog.records)


def test_a_browser_gets_the_workspaces_own_500_page_without_the_internals(
    app: FastAPI, serve: Callable[[FastAPI], str]
) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with httpx.Client(base_url=serve(app), timeout=10) as http:
        response = http.get("/boom", headers=BROWSER)
    assert response.status_code == 500
    assert "<h1>Something went wrong on our side</h1>" in response.text
    assert "secret internals" not in response.text
    assert_secure(response)


@pytest.mark.one_database
def test_the_access_log_never_shows_an_unsubscribe_token(http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    token = sign_unsubscribe("lead0@acme.example", SECRET)
    with caplog.at_level(logging.INFO, logger="cadence.web.access"):
        http.get(f"/unsubscribe/{token}")
        http.get("/healthz")
    lines = [r.getMessage() for r in caplog.records if r.name == "cadence.web.access"]
    assert len(lines) == 2
    assert "GET /unsubscribe/… 200" in lines[0]
    assert "GET /healthz 200" in lines[1]
    assert all(token.split(".")[0] not in line for line in lines)


def test_the_app_disposes_of_its_database_connections_when_the_server_stops(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings)
    context = app.state.context
    closed: list[bool] = []
    close = context.close
    monkeypatch.setattr(context, "close", lambda: (closed.append(True), close()))
    with running(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/unsubscribe/x").status_code == 400
        assert closed == []
    assert closed == [True]


def test_serve_checks_the_schema_then_runs_uvicorn(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADENCE_DATABASE_URL", database_url)
    monkeypatch.setenv("CADENCE_SECRET_KEY", SECRET)  # listening on every address: the demo key would be refused
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    server.serve(host="0.0.0.0", port=8123)
    [call] = calls
    assert isinstance(call["app"], FastAPI)
    assert (call["host"], call["port"], call["access_log"], call["server_header"]) == ("0.0.0.0", 8123, False, False)
    assert "cadence.web" in call["log_config"]["loggers"]
    call["app"].state.context.close()


@pytest.mark.one_database
def test_cadence_web_now_starts_the_apps_clock_there_and_it_runs_on(
    run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[FastAPI] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: calls.append(app))
    before = time.monotonic()
    run_cli("web", "--port", "8124", "--now", "2026-12-28T08:00:00-05:00")
    [app] = calls
    first = app.state.clock()
    elapsed = timedelta(seconds=time.monotonic() - before)  # at most this much has run on since --now
    time.sleep(0.05)
    later = app.state.clock()
    app.state.context.close()
    start = datetime(2026, 12, 28, 13, 0, tzinfo=UTC)
    assert start <= first <= start + elapsed
    assert first.utcoffset() == timedelta(0)
    assert later - first >= timedelta(seconds=0.05)
    assert "not an ISO-8601 time" in run_cli("web", "--now", "soon", expect=1).stderr
    assert len(calls) == 1


@pytest.mark.one_database
def test_cadence_web_runs_on_the_wall_clock_by_default(run_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[FastAPI] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda app, **options: calls.append(app))
    run_cli("web")
    [app] = calls
    app.state.context.close()
    before = datetime.now(UTC)
    assert before <= app.state.clock() <= datetime.now(UTC)


def test_serve_reports_a_bad_setting_as_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADENCE_SMTP_PORT", "not-a-port")
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    with pytest.raises(ConfigurationError, match="bad setting"):
        server.serve()


NOT_WEB_ADDRESSES = ["cadence.example", "ftp://cadence.example", "http://[::1", "https://", "http://a b"]


@pytest.mark.parametrize("base_url", NOT_WEB_ADDRESSES)
def test_serve_reports_a_base_url_that_is_no_web_address_as_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADENCE_BASE_URL", base_url)
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    with pytest.raises(ConfigurationError, match=r"(?s)bad setting.*base_url.*(http:// or https://|not a web address)"):
        server.serve()


def test_serve_refuses_to_start_on_a_database_without_the_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADENCE_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    with pytest.raises(SchemaNotReady, match="cadence init"):
        server.serve()
