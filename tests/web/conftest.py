"""Fixtures for the web tests: the app served by uvicorn on a free local port, and HTTP clients for it."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import SecretStr

from cadence.services import users
from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.conftest import TEMPLATES

# The end-to-end test runs the advance flow: it needs the flow tests' environment.
from tests.flows.conftest import flow_env  # noqa: F401
from tests.web.workspace import CHEAP, Clock, Seeded, Snapshot, restore_snapshot, seed_workspace, take_snapshot

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # when the test leads are enrolled (09:00 in New York)
NOW = MONDAY + timedelta(days=2)  # the fixed clock of the app under test
SECRET = "web-test-secret"


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free port of 127.0.0.1; yield its base URL; stop it cleanly."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the web app did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the web app did not stop"


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], str]]:
    """Start apps (``serve(app)`` returns the base URL); each is stopped at the end of the test."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(running(app))


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    """The test database's settings with a secret of the web tests' own."""
    return settings.model_copy(update={"secret_key": SecretStr(SECRET), "base_url": "https://cadence.example"})


@pytest.fixture
def app(web_settings: Settings) -> FastAPI:
    """The web app on the test database, with its clock stopped at ``NOW``."""
    return create_app(web_settings, clock=lambda: NOW)


@pytest.fixture
def http(app: FastAPI, serve: Callable[[FastAPI], str]) -> Iterator[httpx.Client]:
    """An HTTP client for the running app (relative URLs)."""
    with httpx.Client(base_url=serve(app), timeout=10, follow_redirects=False) as client:
        yield client


def one_click(http: httpx.Client, url: str) -> httpx.Response:
    """The POST a mail provider sends for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058)."""
    return http.post(
        url, content=b"List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


@dataclass(frozen=True)
class RawResponse:
    """A response read by :func:`send_raw`."""

    status: int
    headers: dict[str, str]
    body: str


def send_raw(base_url: str, method: str, target: str, body: bytes | None = None) -> RawResponse:
    """Send ``target`` exactly as given (httpx would resolve ``../`` before sending), as a hostile client can."""
    parts = urlsplit(base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    connection = HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8")
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
    finally:
        connection.close()


# -- The workspace (reps, marketers, managers): its data, its app on a clock the test moves ------------


@pytest.fixture
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """Passwords hashed with a cheap argon2id in this test (the real parameters take about a second)."""
    monkeypatch.setattr(users, "HASHER", CHEAP)
    return CHEAP


@pytest.fixture
def clock() -> Clock:
    """The workspace app's clock, at ``tests.web.workspace.NOW`` until the test moves it."""
    return Clock()


@pytest.fixture
def workspace_settings(settings: Settings) -> Settings:
    """The test database's settings, served over plain http (so cookies are not ``Secure``)."""
    return settings.model_copy(update={"secret_key": SecretStr(SECRET), "base_url": "http://127.0.0.1"})


@pytest.fixture(scope="session")
def workspace_snapshot(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The workspace's data, seeded once per session (on SQLite), as rows to restore into each test's database."""
    path = tmp_path_factory.mktemp("workspace-seed") / "cadence.db"
    shutil.copy(sqlite_template, path)
    context = Context(Settings(database_url=f"sqlite:///{path}", templates_dir=TEMPLATES, default_timezone="UTC"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(users, "HASHER", CHEAP)
            seeded = seed_workspace(context)
        return take_snapshot(context.engine, seeded)
    finally:
        context.close()


@pytest.fixture
def seeded(ctx: Context, workspace_snapshot: Snapshot, cheap_hasher: PasswordHasher) -> Seeded:
    """The workspace's data (see ``tests.web.workspace``) in the test's database, with cheap password hashes."""
    return restore_snapshot(ctx.engine, workspace_snapshot)


@pytest.fixture
def workspace_app(workspace_settings: Settings, clock: Clock, seeded: Seeded) -> FastAPI:
    """The web app on the seeded database, on the test's clock."""
    return create_app(workspace_settings, clock=clock)


@pytest.fixture
def site(workspace_app: FastAPI, serve: Callable[[FastAPI], str]) -> str:
    """The base URL of the running workspace app."""
    return serve(workspace_app)
