"""Accounts in the browser: logging in and out, the session cookie, expiry, the rate limit, CSRF on every form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from argon2 import PasswordHasher, Type
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from cadence.adapters.models import Decision, Enrollment, LoginFailure, Task, User, WebSession
from cadence.services import users
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.users import HASHER as PRODUCTION_HASHER  # imported before any test swaps it
from cadence.services.users import count_sessions, disable_user
from cadence.settings import Settings
from cadence.web import auth, unsubscribe
from cadence.web.app import WORKSPACE_ROUTERS, create_app
from cadence.web.auth import csrf_guard
from tests.web.workspace import (
    ADA,
    CHEAP,
    MAX,
    MIA,
    NOW,
    PASSWORD,
    RITA,
    SAM,
    Clock,
    Seeded,
    csrf_of,
    log_in,
    post_form,
    signed_in,
)

WRONG = "Wrong email address or password."


def client(site: str, **cookies: str) -> httpx.Client:
    http = httpx.Client(base_url=site, timeout=10, follow_redirects=False)
    for name, value in cookies.items():
        http.cookies.set(name, value, domain="127.0.0.1")
    return http


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """The Set-Cookie headers of a response, by cookie name (the whole header, lower-cased)."""
    return {h.split("=", 1)[0]: h.lower() for h in response.headers.get_list("set-cookie")}


@pytest.mark.one_database
def test_the_login_page_has_a_form_with_a_csrf_token_and_opens_no_session(site: str) -> None:
    with client(site) as http:
        page = http.get("/login")
    assert page.status_code == 200
    assert '<form method="post" action="/login">' in page.text
    assert len(csrf_of(page.text)) == 64
    assert 'type="password"' in page.text
    cookies = set_cookies(page)
    assert list(cookies) == ["cadence_login"]
    assert "httponly" in cookies["cadence_login"]
    assert "samesite=lax" in cookies["cadence_login"]


@pytest.mark.one_database
def test_each_role_lands_on_its_own_page_and_the_front_door_leads_there(site: str) -> None:
    for email, landing in ((RITA, "/tasks"), (MIA, "/cadences"), (MAX, "/dashboard")):
        with client(site) as http:
            response = log_in(http, email)
            assert (response.status_code, response.headers["location"]) == (303, landing), email
            assert http.get(landing).status_code == 200
            assert http.get("/").headers["location"] == landing
            assert http.get("/login").headers["location"] == landing  # signed in: no second login
    with client(site) as http:
        assert http.get("/").headers["location"] == "/login"


@pytest.mark.one_database
def test_the_session_cookie_is_httponly_and_samesite_and_not_secure_over_plain_http(site: str) -> None:
    with client(site) as http:
        response = log_in(http, RITA)
    cookies = set_cookies(response)
    session = cookies["cadence_session"]
    assert "httponly" in session
    assert "samesite=lax" in session
    assert "path=/" in session
    assert "secure" not in session
    assert "domain=" not in session
    assert 'cadence_login=""' in cookies["cadence_login"]  # the login form's cookie is cleared
    assert "max-age=0" in cookies["cadence_login"]


@pytest.mark.one_database
def test_over_https_the_cookies_are_secure_and_host_prefixed(
    workspace_settings: Settings, clock: Clock, seeded: Seeded, serve: Callable[[FastAPI], str]
) -> None:
    # CADENCE_BASE_URL says https (TLS ends at a proxy in front): the browser talks https, so cookies are Secure.
    app = create_app(workspace_settings.model_copy(update={"base_url": "https://cadence.example"}), clock=clock)
    with client(serve(app)) as http:
        form = http.get("/login")
        login_cookie = set_cookies(form)["__Host-cadence_login"]
        assert "secure" in login_cookie
        nonce = form.headers["set-cookie"].split("=", 1)[1].split(";", 1)[0]
        # httpx, like a browser, never sends a Secure cookie over plain http: send it by hand.
        data = {"email": RITA, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": ""}
        response = http.post("/login", data=data, headers={"Cookie": f"__Host-cadence_login={nonce}"})
        assert response.status_code == 303
        session = set_cookies(response)["__Host-cadence_session"]
        assert all(part in session for part in ("secure", "httponly", "samesite=lax", "path=/"))
        assert "domain=" not in session
        token = response.headers["set-cookie"].split("__Host-cadence_session=", 1)[1].split(";", 1)[0]
        assert http.get("/tasks", headers={"Cookie": f"__Host-cadence_session={token}"}).status_code == 200
        # The same token under the plain name (which anyone could set over http) is not a session.
        assert http.get("/tasks", headers={"Cookie": f"cadence_session={token}"}).status_code == 303


@pytest.mark.one_database
def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(site: str, ctx: Context) -> None:
    with client(site) as http:
        wrong = log_in(http, RITA, "not the password at all")
        unknown = log_in(http, "nobody@cadence.example", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert WRONG in wrong.text
    assert wrong.text.replace(RITA, "X") == unknown.text.replace("nobody@cadence.example", "X")
    assert "cadence_session" not in set_cookies(wrong) | set_cookies(unknown)
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0


class CountingHasher(PasswordHasher):
    """The cheap hasher, counting its verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=CHEAP.time_cost, memory_cost=CHEAP.memory_cost, parallelism=CHEAP.parallelism)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


@pytest.mark.one_database
def test_an_unknown_address_costs_a_password_verification_like_a_known_one(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingHasher()
    monkeypatch.setattr(users, "HASHER", counting)
    with client(site) as http:
        log_in(http, "nobody@cadence.example", PASSWORD)
        assert counting.verified == 1
        log_in(http, RITA, "not the password at all")
        assert counting.verified == 2


@pytest.mark.one_database
def test_a_login_without_the_forms_token_or_cookie_is_refused(site: str, ctx: Context) -> None:
    with client(site) as http:
        form = http.get("/login")
        without_token = http.post("/login", data={"email": RITA, "password": PASSWORD})
        with client(site) as other:  # a token from another browser's form (another cookie)
            other_token = csrf_of(other.get("/login").text)
        foreign = http.post("/login", data={"email": RITA, "password": PASSWORD, "csrf_token": other_token})
        assert csrf_of(form.text) != other_token
    with client(site) as http:  # the form's token without its cookie
        cookieless = http.post("/login", data={"email": RITA, "password": PASSWORD, "csrf_token": csrf_of(form.text)})
    for response in (without_token, foreign, cookieless):
        assert response.status_code == 403
        assert "This form has expired" in response.text
        assert "cadence_session" not in set_cookies(response)
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0


def test_after_five_failures_an_address_is_refused_even_the_right_password_for_15_minutes(
    site: str, clock: Clock, ctx: Context
) -> None:
    with client(site) as http:
        for _ in range(5):
            assert log_in(http, RITA, "a wrong password guess").status_code == 401
        refused = log_in(http, RITA)
        assert refused.status_code == 429
        assert "Too many failed logins. Try again in 15 minutes." in refused.text
        assert refused.headers["retry-after"] == "900"
        assert "cadence_session" not in set_cookies(refused)
        assert log_in(http, "RITA@Cadence.example").status_code == 429  # the same address, written otherwise
    with client(site) as http:
        assert log_in(http, SAM).status_code == 303  # another address from the same client is not blocked
    clock.now += timedelta(minutes=15)
    with client(site) as http:
        assert log_in(http, RITA).status_code == 303
    with ctx.sessions() as s:  # a success clears the address's failures; they are stored, for every worker
        assert s.scalars(select(LoginFailure.email)).all() == []


def test_failures_from_one_client_are_limited_across_addresses_whichever_worker_saw_them(
    site: str, ctx: Context
) -> None:
    with ctx.sessions() as s, s.begin():  # 19 failures in the last 15 minutes, as other workers recorded them
        s.add_all(
            LoginFailure(
                email=f"guess{i}@cadence.example", client="127.0.0.1", failed_at=NOW - timedelta(minutes=i % 10)
            )
            for i in range(19)
        )
    with client(site) as http:
        assert log_in(http, "guess19@cadence.example", "a wrong password guess").status_code == 401
        assert log_in(http, MAX).status_code == 429


@pytest.mark.one_database
def test_an_oversized_or_overlong_form_is_refused_before_it_is_read_whole(site: str) -> None:
    with client(site) as http:
        token = csrf_of(http.get("/login").text)
        huge = http.post("/login", data={"email": RITA, "password": "x" * 70_000, "csrf_token": token})
        many = http.post("/login", data={f"field{i}": "x" for i in range(150)} | {"csrf_token": token})
        multipart = http.post("/login", files={"email": (None, RITA), "password": (None, PASSWORD)})
    assert (huge.status_code, huge.text) == (413, "Content Too Large")
    assert (many.status_code, many.text) == (400, "Bad Request")
    assert multipart.status_code == 403  # not a form of ours: no token


def test_logging_in_replaces_the_session_the_browser_had(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as first:
        planted = first.cookies["cadence_session"]
    # The same browser (or one a session was planted in) logs in: it gets a new session, the old one ends.
    with client(site) as http:
        form = http.get("/login")
        http.cookies.set("cadence_session", planted, domain="127.0.0.1")
        response = http.post(
            "/login", data={"email": SAM, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": ""}
        )
        assert response.status_code == 303
        fresh = http.cookies["cadence_session"]
    assert fresh != planted
    with client(site, cadence_session=planted) as http:
        assert http.get("/tasks").status_code == 303
    with ctx.sessions() as s:
        assert (count_sessions(s, RITA), count_sessions(s, SAM)) == (0, 1)
        assert planted not in s.scalars(select(WebSession.token_hash)).all()  # only hashes are stored


def test_logging_out_ends_the_session_on_the_server(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        token = http.cookies["cadence_session"]
        response = post_form(http, "/logout", {})
        assert (response.status_code, response.headers["location"]) == (303, "/login?out=1")
        assert "max-age=0" in set_cookies(response)["cadence_session"]
        assert "You are logged out." in http.get("/login?out=1").text
    with client(site, cadence_session=token) as http:  # the old cookie, replayed
        assert http.get("/tasks").headers["location"] == "/login?next=%2Ftasks"
    with ctx.sessions() as s:
        assert count_sessions(s, RITA) == 0


def test_a_session_ends_after_two_hours_without_a_request(site: str, clock: Clock) -> None:
    with signed_in(site, RITA) as http:
        for _ in range(3):  # activity keeps it alive
            clock.now += timedelta(hours=1, minutes=59)
            assert http.get("/tasks").status_code == 200
        clock.now += timedelta(hours=2)
        expired = http.get("/tasks")
        assert (expired.status_code, expired.headers["location"]) == (303, "/login?next=%2Ftasks")
        assert "max-age=0" in set_cookies(expired)["cadence_session"]


def test_a_session_ends_after_twelve_hours_however_active(site: str, clock: Clock) -> None:
    with signed_in(site, RITA) as http:
        for _ in range(11):
            clock.now += timedelta(hours=1)
            assert http.get("/tasks").status_code == 200
        clock.now += timedelta(hours=1)
        assert http.get("/tasks").status_code == 303


def test_a_disabled_account_is_logged_out_and_cannot_log_in(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        with ctx.sessions() as s, s.begin():
            disable_user(s, RITA)
        assert http.get("/tasks").status_code == 303
        again = log_in(http, RITA)
        assert (again.status_code, WRONG in again.text) == (401, True)


@pytest.mark.one_database
def test_a_page_asked_for_before_logging_in_is_shown_after_it(site: str) -> None:
    wanted = f"/leads/{ADA}?x=1"
    with client(site) as http:
        first = http.get(wanted)
        assert first.status_code == 303
        assert first.headers["location"] == f"/login?next={quote(wanted, safe='')}"
        login_page = http.get(first.headers["location"])
        assert f'name="next" value="/leads/{ADA}?x=1"' in login_page.text
        response = log_in(http, RITA, next_path=wanted)
        assert response.headers["location"] == wanted
        assert http.get(wanted).status_code == 200


@pytest.mark.one_database
def test_after_login_the_user_never_leaves_the_site(site: str) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", " /tasks"):
        with client(site) as http:
            assert log_in(http, RITA, next_path=target).headers["location"] == "/tasks", target


def _concrete(route: APIRoute, seeded: Seeded) -> str:
    return route.path.replace("{task_id}", str(seeded.ada_call)).replace("{email:path}", ADA)


def _posts(router: APIRouter) -> list[APIRoute]:
    return [r for r in router.routes if isinstance(r, APIRoute) and "POST" in r.methods]


def test_every_router_with_a_post_checks_csrf_but_the_login_and_unsubscribe_ones() -> None:
    for router in WORKSPACE_ROUTERS:
        assert any(d.dependency is csrf_guard for d in router.dependencies)
    assert [r.path for r in _posts(auth.router)] == ["/login"]  # its own token: the login form has no session yet
    assert [r.path for r in _posts(unsubscribe.router)] == ["/unsubscribe/{token:path}"]  # the link is the token


@pytest.mark.one_database
def test_every_workspace_form_is_refused_without_the_sessions_csrf_token(
    site: str, seeded: Seeded, ctx: Context
) -> None:
    posts = [route for router in WORKSPACE_ROUTERS for route in _posts(router)]
    assert {r.path for r in posts} >= {
        "/logout",
        "/tasks/{task_id}",
        "/leads/{email:path}/pause",
        "/leads/{email:path}/resume",
        "/leads/{email:path}/decision",
    }
    data: dict[str, Any] = {"outcome": "connected", "decision": "not_interested", "reason": "forged"}
    with signed_in(site, MAX) as http:
        with client(site) as other_browser:  # a token of another session
            log_in(other_browser, SAM)
            other_token = csrf_of(other_browser.get("/leads").text)
        for route in posts:
            for token in (None, "", other_token, csrf_of(http.get("/leads").text)[:-1] + "x"):
                form = data if token is None else {**data, "csrf_token": token}
                response = http.post(_concrete(route, seeded), data=form)
                assert response.status_code == 403, (route.path, token)
                assert response.text.startswith("This form has expired")
        assert http.get("/dashboard").status_code == 200  # still signed in: the forged logout did nothing
    with ctx.sessions() as s:
        assert s.scalars(select(Task.status).where(Task.id == seeded.ada_call)).one() == "open"
        lead = get_lead(s, ADA)
        assert s.scalars(select(Enrollment.state).where(Enrollment.lead_id == lead.id)).one() == "active"
        assert s.scalar(select(func.count()).select_from(Decision)) == 1  # Eve's, from the seed


def test_the_production_hasher_is_argon2id_with_at_least_owasps_parameters() -> None:
    assert PRODUCTION_HASHER.type is Type.ID
    assert PRODUCTION_HASHER.time_cost >= 2
    assert PRODUCTION_HASHER.memory_cost >= 19 * 1024  # KiB


@pytest.mark.one_database
def test_passwords_are_stored_as_argon2id_hashes_and_upgraded_when_the_parameters_change(
    site: str, ctx: Context
) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    with ctx.sessions() as s, s.begin():
        user = s.scalars(select(User).where(User.email == RITA)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        user.password_hash = weaker.hash(PASSWORD)
    with client(site) as http:
        assert log_in(http, RITA).status_code == 303
    with ctx.sessions() as s:
        upgraded, last_login = s.execute(select(User.password_hash, User.last_login_at).where(User.email == RITA)).one()
    assert upgraded.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert CHEAP.verify(upgraded, PASSWORD)
    assert last_login == NOW
