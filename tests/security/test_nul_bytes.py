"""Finding 9 of issue #28: a NUL byte in any form field, query or JSON body is a clear 400, never a 503.

PostgreSQL refuses a NUL in text; before the fix the login form answered 503 "temporarily
unavailable" and logged a database error. Every POST route of the app is found from the app itself,
so that a form added later is covered too. Runs on SQLite and PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

import tests.web.conftest as web_fixtures
from cadence.adapters.models import Decision, Enrollment, Lead, Task
from cadence.core.tokens import sign_unsubscribe
from cadence.services.context import Context
from cadence.web import auth, unsubscribe
from cadence.web.app import WORKSPACE_ROUTERS
from cadence.web.nul_guard import has_nul
from tests.web.conftest import SECRET
from tests.web.workspace import ADA, MAX, PASSWORD, Seeded, csrf_of, signed_in

# The workspace's fixtures (the seeded database, the app served by uvicorn).
serve, cheap_hasher, clock = web_fixtures.serve, web_fixtures.cheap_hasher, web_fixtures.clock
workspace_settings, workspace_snapshot = web_fixtures.workspace_settings, web_fixtures.workspace_snapshot
seeded, workspace_app, site = web_fixtures.seeded, web_fixtures.workspace_app, web_fixtures.site

# Every field name a form of the workspace reads (a superset): each gets a NUL.
FIELDS = ("email", "password", "next", "reason", "outcome", "note", "until", "first_name", "last_name", "title",
          "company", "phone", "answer_committed", "List-Unsubscribe", "rep", "key", "name", "role", "address",
          "cadence", "url", "description", "delivery", "stage", "action_id")  # fmt: skip
REFUSAL = "NUL character"


def post_routes() -> list[str]:
    """Every POST route of the app: the workspace's routers, the login form's and the unsubscribe links'."""
    routers = (*WORKSPACE_ROUTERS, auth.router, unsubscribe.router)
    return sorted(
        {r.path for router in routers for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods}
    )


def filled(path: str, seeded: Seeded, account_id: int) -> str:
    values = {"email": ADA, "task_id": str(seeded.ada_call), "token": sign_unsubscribe(ADA, SECRET),
              "account_id": str(account_id), "subscription_id": "1", "action": "pause",
              "path": "email/introduction.j2"}  # fmt: skip
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: values[m.group(1)], path)


def state_of(ctx: Context) -> tuple[object, ...]:
    with ctx.sessions() as s:
        lead = s.scalars(select(Lead).where(Lead.email == ADA)).one()
        enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id)).one()
        tasks = sorted((t.id, t.status, t.note) for t in s.scalars(select(Task).where(Task.lead_id == lead.id)))
        decisions = s.scalars(select(Decision).where(Decision.lead_id == lead.id)).all()
        return (lead.first_name, lead.phone, lead.owner_id, lead.account_id, enrollment.state, tuple(tasks),
                len(decisions))  # fmt: skip


@pytest.mark.parametrize("where", ["email", "password"])
def test_a_nul_in_the_login_form_is_a_clear_400_not_a_database_error(
    site: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    with httpx.Client(base_url=site, timeout=10) as http, caplog.at_level(logging.ERROR):
        token = csrf_of(http.get("/login").text)
        data = {"email": MAX, "password": PASSWORD, "csrf_token": token, "next": ""}
        data[where] = data[where][:3] + "\x00" + data[where][3:]
        response = http.post("/login", data=data)
    assert response.status_code == 400
    assert REFUSAL in response.text
    assert "database" not in caplog.text


def test_a_nul_in_any_field_of_any_form_of_the_workspace_is_refused_and_changes_nothing(
    site: str, workspace_app: FastAPI, seeded: Seeded, ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    routes = post_routes()
    assert len(routes) >= 8  # login, logout, unsubscribe, a task, and a lead's pause, resume, decision, edit
    before = state_of(ctx)
    account_id = before[3]
    assert isinstance(account_id, int)
    with signed_in(site, MAX) as http, caplog.at_level(logging.ERROR):
        token = csrf_of(http.get("/leads").text)
        for route in routes:
            for field in FIELDS:
                path = filled(route, seeded, account_id)
                response = http.post(path, data={"csrf_token": token, field: f"Ada\x00{field}"})
                assert (response.status_code, route, field) == (400, route, field)
                assert REFUSAL in response.text
    assert state_of(ctx) == before
    assert "database" not in caplog.text


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda h: h.get("/leads", params={"q": "Ada\x00"}), id="query"),
        pytest.param(lambda h: h.get("/tasks?status=%00open"), id="percent-encoded query"),
        pytest.param(lambda h: h.get("/leads/ada%00@acme.example"), id="path"),
        pytest.param(lambda h: h.post("/login", json={"email": "max\u0000@cadence.example"}), id="JSON"),
        pytest.param(lambda h: h.post("/login", content=b"a\x00b", headers={"Content-Type": "text/plain"}), id="raw"),
    ],
)
def test_a_nul_in_a_query_path_or_json_body_is_refused(
    site: str, send: Callable[[httpx.Client], httpx.Response]
) -> None:
    with signed_in(site, MAX) as http:
        response = send(http)
    assert response.status_code == 400
    assert REFUSAL in response.text
    assert response.headers["X-Frame-Options"] == "DENY"  # answered inside the edge


@pytest.mark.parametrize(
    ("data", "json", "found"),
    [
        (b"a=b%00c", False, True),
        (b"a=b%2500c", False, False),  # an encoded "%00" is text, not a NUL
        (b'{"a": "\\u0000"}', True, True),
        (b'{"a": "\\\\u0000"}', True, False),  # an escaped backslash, then "u0000"
        (b'{"a": "\\\\\\u0000"}', True, True),
        (b"plain text", False, False),
    ],
)
def test_nul_detection_reads_each_encoding(data: bytes, json: bool, found: bool) -> None:
    assert has_nul(data, json=json) is found
