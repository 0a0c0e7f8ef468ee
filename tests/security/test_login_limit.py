"""Finding 4 of issue #28: the login limit is atomic, per account and source with backoff, proxies only if set.

Against a real uvicorn server and both databases: 30 concurrent wrong guesses (threads) get at most 5
passwords checked; before the fix all 30 were.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

import tests.web.conftest as web_fixtures
from cadence.services.context import Context
from cadence.services.users import MAX_FAILURES_PER_ADDRESS, Throttled, log_in
from cadence.settings import Settings
from cadence.web.app import create_app
from cadence.web.server import proxy_options
from tests.web.conftest import SECRET
from tests.web.workspace import NOW, PASSWORD, RITA, Clock, csrf_of
from tests.web.workspace import log_in as web_log_in

serve, cheap_hasher, clock = web_fixtures.serve, web_fixtures.cheap_hasher, web_fixtures.clock
workspace_settings, workspace_snapshot = web_fixtures.workspace_settings, web_fixtures.workspace_snapshot
seeded, workspace_app, site = web_fixtures.seeded, web_fixtures.workspace_app, web_fixtures.site

GUESSES = 30


def test_thirty_concurrent_wrong_guesses_get_at_most_five_passwords_checked(site: str) -> None:
    clients = [httpx.Client(base_url=site, timeout=30) for _ in range(GUESSES)]
    try:
        forms = [csrf_of(c.get("/login").text) for c in clients]
        barrier = threading.Barrier(GUESSES)
        statuses: list[int] = []

        def guess(index: int) -> None:
            data = {"email": RITA, "password": f"wrong guess {index}", "csrf_token": forms[index], "next": ""}
            barrier.wait()
            statuses.append(clients[index].post("/login", data=data).status_code)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(GUESSES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for c in clients:
            c.close()
    counted = Counter(statuses)
    assert sum(counted.values()) == GUESSES
    assert set(counted) <= {401, 429}
    assert counted[401] <= MAX_FAILURES_PER_ADDRESS  # the passwords actually checked
    assert counted[429] >= GUESSES - MAX_FAILURES_PER_ADDRESS


def test_a_lock_out_is_per_account_and_source_and_doubles_with_each_further_failure(
    ctx: Context, seeded: object, cheap_hasher: object
) -> None:
    def attempt(client: str, password: str, minutes: float) -> str:
        try:
            grant = log_in(ctx.sessions, RITA, password, client=client, now=NOW + timedelta(minutes=minutes))
        except Throttled as exc:
            return f"locked {exc.retry_after}"
        return "in" if grant is not None else "wrong"

    assert [attempt("10.0.0.1", "wrong guess", 0) for _ in range(5)] == ["wrong"] * 5
    assert attempt("10.0.0.1", PASSWORD, 1) == "locked 840"  # 15 minutes after the latest failure
    assert attempt("10.0.0.2", "wrong guess", 1) == "wrong"  # the same account from elsewhere is not locked
    assert attempt("10.0.0.1", "wrong guess", 15) == "wrong"  # the lock-out is over: one more guess...
    assert attempt("10.0.0.1", "wrong guess", 16) == "locked 1740"  # ...locks it out twice as long: 30 minutes
    assert attempt("10.0.0.1", "wrong guess", 45) == "wrong"
    assert attempt("10.0.0.1", PASSWORD, 50) == "locked 3300"  # then an hour
    assert attempt("10.0.0.1", PASSWORD, 105) == "in"


@contextmanager
def running_with(app: FastAPI, settings: Settings) -> Iterator[str]:
    """``app`` served by uvicorn with the proxy options ``cadence web`` gives it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", log_config=None, access_log=False, **proxy_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the web app did not start"
            threading.Event().wait(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.parametrize(("proxies", "other_source_locked"), [(None, True), ("127.0.0.1", False)])
def test_x_forwarded_for_is_believed_only_from_the_configured_proxies(
    settings: Settings, seeded: object, cheap_hasher: object, proxies: str | None, other_source_locked: bool
) -> None:
    configured = settings.model_copy(update={"secret_key": SecretStr(SECRET), "base_url": "http://127.0.0.1",
                                             "trusted_proxies": proxies})  # fmt: skip
    app = create_app(configured, clock=Clock())
    with running_with(app, configured) as base:
        with httpx.Client(base_url=base, timeout=10, headers={"X-Forwarded-For": "203.0.113.1"}) as http:
            for _ in range(5):
                assert web_log_in(http, RITA, "a wrong password guess").status_code == 401
            assert web_log_in(http, RITA, "a wrong password guess").status_code == 429
        with httpx.Client(base_url=base, timeout=10, headers={"X-Forwarded-For": "203.0.113.2"}) as http:
            status = web_log_in(http, RITA, "a wrong password guess").status_code
    assert status == (429 if other_source_locked else 401)
