"""The API (/api/v1) against the real app served by uvicorn, on SQLite and PostgreSQL: keys, scopes, limits, errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cadence.adapters.models import ApiKey, Enrollment, Interaction, Lead, Task
from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.web.api_support import MONDAY_10_NY, Keys, seed_api
from tests.web.workspace import Clock

PRIYA = {
    "email": "Priya.Nair@northwind.example",
    "first_name": "Priya",
    "last_name": "Nair",
    "title": "VP Sales",
    "company": "Northwind",
    "industry": "software",
    "company_size": 120,
    "source": "contact_request",
    "timezone": "America/New_York",
    "country": "US",
}


@pytest.fixture
def api_clock() -> Clock:
    """The app's clock: Monday 10:00 in New York until the test moves it."""
    return Clock(MONDAY_10_NY)


@pytest.fixture
def keys(ctx: Context) -> Keys:
    """Two reps and a key of each scope in the test's database."""
    return seed_api(ctx)


@pytest.fixture
def api_settings(web_settings: Settings) -> Settings:
    """Settings with a small rate limit and body limit, so that the tests reach them."""
    return web_settings.model_copy(update={"api_requests_per_minute": 20, "api_max_body_bytes": 4096})


@pytest.fixture
def api(
    api_settings: Settings, api_clock: Clock, keys: Keys, serve: Callable[[FastAPI], str]
) -> Iterator[httpx.Client]:
    """A client of the running app (no key: each request sends its own)."""
    app = create_app(api_settings, clock=api_clock)
    with httpx.Client(base_url=serve(app), timeout=10, follow_redirects=False) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


def test_an_inbound_lead_is_created_enrolled_and_the_answer_says_what_happens_next(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    response = api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "priya.nair@northwind.example"
    assert body["created"] is True
    assert body["kind"] == "lead"
    assert body["reasons"] == ["inbound request"]
    assert body["class"] == "inbound"
    assert body["cadence"] == "inbound"
    assert body["owner"] in ("rita@yourco.example", "sam@yourco.example")
    assert body["enrolled"] is True
    assert body["first_step_at"] == MONDAY_10_NY.isoformat()  # inside the window: due at once
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_the_same_email_again_updates_the_person_and_never_enrolls_twice(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    again = api.post("/api/v1/leads", json={**PRIYA, "title": "CRO"}, headers=keys.header("write"))
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False
    with ctx.sessions() as s:
        assert s.scalar(select(Lead.title)) == "CRO"
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_a_name_and_an_unfit_person_are_answered_with_their_reasons(
    api_settings: Settings, api_clock: Clock, keys: Keys, serve: Callable[[FastAPI], str], tmp_path: Path
) -> None:
    folder = tmp_path / "templates"  # the shipped rules take every persona: these name one
    shutil.copytree(api_settings.templates_dir, folder)
    rules = folder / "qualification.yaml"
    text = rules.read_text(encoding="utf-8")
    example = [line[2:] for line in text.splitlines() if line.startswith("#   ") or line == "# persona:"]
    rules.write_text(text.replace("persona: {}\n", "\n".join(example) + "\n"), encoding="utf-8")
    app = create_app(api_settings.model_copy(update={"templates_dir": folder}), clock=api_clock)
    with httpx.Client(base_url=serve(app), timeout=10, follow_redirects=False) as api:
        name = api.post(
            "/api/v1/leads", json={"email": "nia@acme.example", "interactions": 1}, headers=keys.header("intake")
        )
        assert name.status_code == 201
        assert name.json()["kind"] == "name"
        assert name.json()["reasons"][0] == "one interaction: a name (2 make a lead)"
        assert name.json()["enrolled"] is False
        student = {"email": "stu@uni.example", "interactions": 3, "title": "Student", "industry": "education"}
        unfit = api.post("/api/v1/leads", json=student, headers=keys.header("intake"))
    assert unfit.json()["kind"] == "unfit"
    assert unfit.json()["reasons"]
    assert all("persona" in r for r in unfit.json()["reasons"]), unfit.json()["reasons"]


def test_an_optional_field_that_cannot_be_used_is_left_empty_with_a_warning_and_the_lead_kept(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    response = api.post(
        "/api/v1/leads", json={**PRIYA, "country": "USA", "phone": "call me"}, headers=keys.header("intake")
    )
    assert response.status_code == 201, response.text
    assert response.json()["enrolled"] is True
    warnings = response.json()["warnings"]
    assert len(warnings) == 2
    assert "country 'USA' read as US" in warnings  # normalized, as the import does
    assert any("is not a phone number" in w for w in warnings), warnings
    with ctx.sessions() as s:
        assert s.execute(select(Lead.country, Lead.phone, Lead.company)).one() == ("US", None, "Northwind")
    spelled = api.post(
        "/api/v1/leads",
        json={**PRIYA, "email": "ana@northwind.example", "country": "Atlantis"},
        headers=keys.header("intake"),
    )
    assert spelled.status_code == 201, spelled.text
    assert any("two-letter ISO code" in w for w in spelled.json()["warnings"]), spelled.json()


def test_a_person_without_a_usable_address_is_refused_and_one_with_an_unknown_owner_kept_with_a_warning(
    api: httpx.Client, keys: Keys
) -> None:
    bad_address = api.post(
        "/api/v1/leads", json={**PRIYA, "email": "priya@", "country": "USA"}, headers=keys.header("intake")
    )
    assert "email" in _error(bad_address, 422, "invalid_lead")
    unknown_owner = api.post(
        "/api/v1/leads", json={**PRIYA, "owner": "nobody@yourco.example"}, headers=keys.header("intake")
    )
    assert unknown_owner.status_code == 201, unknown_owner.text
    assert unknown_owner.json()["owner"] == "rita@yourco.example"
    assert any(w.startswith("unknown owner nobody@yourco.example") for w in unknown_owner.json()["warnings"])


def test_an_unknown_field_or_a_wrong_type_is_a_422_that_names_it(api: httpx.Client, keys: Keys) -> None:
    response = api.post("/api/v1/leads", json={**PRIYA, "job_title": "VP"}, headers=keys.header("intake"))
    assert "job_title" in _error(response, 422, "invalid_request")
    not_json = api.post(
        "/api/v1/leads", content=b"{not json", headers={**keys.header("intake"), "Content-Type": "application/json"}
    )
    assert "the body is not valid JSON (at character 1: Expecting property name" in _error(
        not_json, 422, "invalid_request"
    )
    form = api.post("/api/v1/leads", data={"email": "ann@acme.example"}, headers=keys.header("intake"))
    assert "the body must be a JSON object (Content-Type: application/json)" in _error(form, 422, "invalid_request")


def test_without_a_key_with_an_unknown_or_revoked_key_the_api_answers_401(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    _error(api.get("/api/v1/tasks"), 401, "unauthorized")
    assert api.get("/api/v1/tasks").headers["www-authenticate"].startswith("Bearer")
    _error(api.get("/api/v1/tasks", headers={"Authorization": "Bearer cad_not-a-key"}), 401, "unauthorized")
    _error(api.get("/api/v1/tasks", headers={"Authorization": f"Basic {keys.read}"}), 401, "unauthorized")
    assert api.get("/api/v1/tasks", headers=keys.header("read")).status_code == 200
    with ctx.sessions() as s, s.begin():
        s.scalars(select(ApiKey).where(ApiKey.name == "read tool")).one().revoked_at = MONDAY_10_NY
    _error(api.get("/api/v1/tasks", headers=keys.header("read")), 401, "unauthorized")


def test_each_scope_allows_only_its_endpoints(api: httpx.Client, keys: Keys) -> None:
    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    email = "priya.nair@northwind.example"
    _error(api.get(f"/api/v1/leads/{email}", headers=keys.header("intake")), 403, "forbidden_scope")
    _error(api.post("/api/v1/leads", json=PRIYA, headers=keys.header("read")), 403, "forbidden_scope")
    decision = {"outcome": "not_interested", "reason": "said so"}
    _error(
        api.post(f"/api/v1/leads/{email}/decision", json=decision, headers=keys.header("read")), 403, "forbidden_scope"
    )
    _error(
        api.post(f"/api/v1/leads/{email}/decision", json=decision, headers=keys.header("intake")),
        403,
        "forbidden_scope",
    )
    assert api.get(f"/api/v1/leads/{email}", headers=keys.header("read")).status_code == 200
    assert api.get(f"/api/v1/leads/{email}", headers=keys.header("write")).status_code == 200


def test_a_key_over_its_rate_limit_gets_429_with_retry_after_and_other_keys_do_not(
    api: httpx.Client, keys: Keys, api_clock: Clock
) -> None:
    for _ in range(20):  # the limit of api_settings
        assert api.get("/api/v1/tasks", headers=keys.header("read")).status_code == 200
    limited = api.get("/api/v1/tasks", headers=keys.header("read"))
    _error(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == "60"
    assert api.get("/api/v1/tasks", headers=keys.header("write")).status_code == 200
    api_clock.now += timedelta(seconds=45)
    assert api.get("/api/v1/tasks", headers=keys.header("read")).headers["retry-after"] == "15"
    api_clock.now += timedelta(seconds=15)
    assert api.get("/api/v1/tasks", headers=keys.header("read")).status_code == 200


def test_a_body_over_the_limit_is_refused_with_413_whether_declared_or_streamed(api: httpx.Client, keys: Keys) -> None:
    big = {**PRIYA, "custom": {"notes": "x" * 5000}}
    _error(api.post("/api/v1/leads", json=big, headers=keys.header("intake")), 413, "body_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"email": "a@b.example", "custom": {"notes": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}}'

    streamed = api.post(
        "/api/v1/leads", content=chunks(), headers={**keys.header("intake"), "Content-Type": "application/json"}
    )
    _error(streamed, 413, "body_too_large")


def test_an_idempotency_key_replays_the_first_answer_for_24_hours_and_does_the_work_once(
    api: httpx.Client, keys: Keys, ctx: Context, api_clock: Clock
) -> None:
    headers = {**keys.header("intake"), "Idempotency-Key": "form-42"}
    interaction = {"email": "nia@acme.example", "kind": "webinar_attended", "topic": "Pipelines 101"}
    first = api.post("/api/v1/interactions", json=interaction, headers=headers)
    assert first.status_code == 201
    api_clock.now += timedelta(hours=23)
    again = api.post("/api/v1/interactions", json=interaction, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 1
        assert s.scalar(select(Lead.interactions)) == 1
    other = api.post("/api/v1/interactions", json={**interaction, "topic": "Another"}, headers=headers)
    _error(other, 422, "idempotency_key_reused")
    api_clock.now += timedelta(hours=2)  # 25 hours after the first: the key is free again
    later = api.post("/api/v1/interactions", json=interaction, headers=headers)
    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 2


def test_a_name_whose_interactions_cross_the_threshold_becomes_a_lead_and_is_enrolled_at_once(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    person = {"first_name": "Nia", "title": "Head of Sales", "industry": "software", "company_size": "300"}
    first = api.post(
        "/api/v1/interactions",
        json={"email": "nia@acme.example", "kind": "webinar_attended", "topic": "Pipelines 101", "person": person},
        headers=keys.header("intake"),
    )
    assert first.json()["kind"] == "name"
    assert first.json()["enrolled"] is False
    second = api.post(
        "/api/v1/interactions",
        json={
            "email": "nia@acme.example",
            "kind": "ebook_downloaded",
            "topic": "Follow-up playbook",
            "at": "2026-11-29T12:00:00Z",
        },
        headers=keys.header("intake"),
    )
    assert second.status_code == 201
    assert second.json()["kind"] == "lead"
    assert second.json()["enrolled"] is True
    assert second.json()["interactions"] == 2
    lead = api.get("/api/v1/leads/nia@acme.example", headers=keys.header("read")).json()
    assert [(i["kind"], i["topic"]) for i in lead["interaction_history"]] == [
        ("ebook_downloaded", "Follow-up playbook"),
        ("webinar_attended", "Pipelines 101"),
    ]
    assert lead["enrollment"]["state"] == "active"
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 1


def test_an_interaction_in_the_future_or_of_an_unknown_kind_is_refused(api: httpx.Client, keys: Keys) -> None:
    future = {"email": "nia@acme.example", "kind": "page_visited", "at": "2030-01-01T00:00:00Z"}
    _error(api.post("/api/v1/interactions", json=future, headers=keys.header("intake")), 422, "invalid_request")
    odd = {"email": "nia@acme.example", "kind": "tweeted"}
    _error(api.post("/api/v1/interactions", json=odd, headers=keys.header("intake")), 422, "invalid_request")


def test_get_lead_gives_the_timeline_and_404_for_an_unknown_lead(api: httpx.Client, keys: Keys) -> None:
    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    lead = api.get("/api/v1/leads/PRIYA.NAIR@northwind.example", headers=keys.header("read"))
    assert lead.status_code == 200
    body = lead.json()
    assert body["email"] == "priya.nair@northwind.example"
    assert body["qualification"] == {"kind": "lead", "reasons": ["inbound request"]}
    assert "timeline" in body
    _error(api.get("/api/v1/leads/nobody@acme.example", headers=keys.header("read")), 404, "not_found")
    _error(api.get("/api/v1/nothing-here", headers=keys.header("read")), 404, "not_found")
    _error(api.delete("/api/v1/tasks", headers=keys.header("write")), 405, "method_not_allowed")


def test_a_response_stops_the_cadence_and_gives_the_owner_a_task(api: httpx.Client, keys: Keys, ctx: Context) -> None:
    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    email = "priya.nair@northwind.example"
    response = api.post(
        f"/api/v1/leads/{email}/responses",
        json={"type": "contact", "channel": "call", "note": "Called us back"},
        headers=keys.header("write"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["enrollment"] == "responded"
    tasks = api.get("/api/v1/tasks", params={"status": "open"}, headers=keys.header("read")).json()["tasks"]
    assert any(t["lead_email"] == email and t["channel"] == "reply" for t in tasks), tasks
    with ctx.sessions() as s:
        assert s.scalar(select(Enrollment.state)) == "responded"


def _calendly(email: str, start: str = "2026-12-02T15:00:00Z") -> dict[str, object]:
    return {"event": "invitee.created", "payload": {"email": email, "scheduled_event": {"start_time": start}}}


def test_a_booking_notification_records_the_meeting_with_its_start_and_the_task_to_qualify(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    email = "priya.nair@northwind.example"
    booking = {"type": "booking", "booking": _calendly(email)}
    response = api.post(f"/api/v1/leads/{email}/responses", json=booking, headers=keys.header("write"))
    assert response.status_code == 201, response.text
    booked = response.json()["booking"]
    assert (booked["recorded"], booked["lead"], booked["start"]) == (True, email, "2026-12-02T15:00:00+00:00")
    with ctx.sessions() as s:
        assert s.scalar(select(Enrollment.state)) == "decided"
        task = s.get(Task, booked["task_id"])
        assert task is not None
        assert task.title.startswith("Qualify")


def test_a_booking_posted_as_the_tool_sends_it_books_its_attendee_and_one_of_another_lead_is_refused(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    email = "priya.nair@northwind.example"
    other = {"type": "booking", "booking": _calendly("someone@elsewhere.example")}
    refused = api.post(f"/api/v1/leads/{email}/responses", json=other, headers=keys.header("write"))
    _error(refused, 422, "booking_of_another")
    _error(api.post("/api/v1/bookings", json={"event": "x"}, headers=keys.header("write")), 422, "invalid_booking")
    direct = api.post("/api/v1/bookings", json=_calendly(email), headers=keys.header("write"))
    assert direct.status_code == 201, direct.text
    assert direct.json()["recorded"] is True
    with ctx.sessions() as s:
        assert s.scalar(select(Enrollment.state)) == "decided"


def test_a_decision_goes_through_the_rule_and_a_meeting_needs_the_qualifying_answers(
    api: httpx.Client, keys: Keys, ctx: Context
) -> None:
    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    path = "/api/v1/leads/priya.nair@northwind.example/decision"
    meeting = {"outcome": "meeting_booked", "reason": "demo on Thursday"}
    assert "qualifying" in _error(api.post(path, json=meeting, headers=keys.header("write")), 422, "invalid_request")
    done = api.post(path, json={**meeting, "skip_qualification": True}, headers=keys.header("write"))
    assert done.status_code == 201, done.text
    assert done.json()["qualification_skipped"] is True
    with ctx.sessions() as s:
        assert s.scalar(select(Enrollment.state)) == "decided"
        assert s.scalar(select(func.count()).select_from(Task).where(Task.status == "open")) == 0


def test_a_meeting_by_the_api_counts_the_answers_the_lead_gave_earlier(
    api: httpx.Client, keys: Keys, ctx: Context, api_clock: Clock
) -> None:
    from cadence.services.answers import record_answers
    from cadence.services.enrollments import get_lead

    api.post("/api/v1/leads", json=PRIYA, headers=keys.header("intake"))
    earlier = {"committed": "yes", "requirement": "one CRM", "desired_solution": "hosted", "decides": "Priya"}
    with ctx.sessions() as s, s.begin():
        record_answers(s, get_lead(s, "priya.nair@northwind.example"), earlier, at=api_clock.now, by="a call")
    path = "/api/v1/leads/priya.nair@northwind.example/decision"
    rest = {"approves": "the CFO", "expectations": "live in March", "fit": "yes"}
    meeting = {"outcome": "meeting_booked", "reason": "demo on Thursday", "answers": rest}
    done = api.post(path, json=meeting, headers=keys.header("write"))
    assert done.status_code == 201, done.text
    assert done.json()["qualification_skipped"] is False
    none_yet = api.post(
        "/api/v1/leads",
        json={**PRIYA, "email": "omar@northwind.example", "first_name": "Omar"},
        headers=keys.header("intake"),
    )
    assert none_yet.status_code == 201, none_yet.text
    refused = api.post(
        "/api/v1/leads/omar@northwind.example/decision",
        json={"outcome": "meeting_booked", "reason": "demo"},
        headers=keys.header("write"),
    )
    message = _error(refused, 422, "invalid_request")
    assert "skip_qualification" in message
    assert "tick" not in message


def test_the_schema_and_the_docs_page_are_served(api: httpx.Client) -> None:
    schema = api.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert set(paths) == {
        "/api/v1/leads",
        "/api/v1/interactions",
        "/api/v1/leads/{email}",
        "/api/v1/tasks",
        "/api/v1/bookings",
        "/api/v1/leads/{email}/responses",
        "/api/v1/leads/{email}/decision",
    }
    assert "HTTPBearer" in schema.json()["components"]["securitySchemes"]
    page = api.get("/api/v1/docs")
    assert page.status_code == 200
    assert "POST /api/v1/leads" in page.text


def test_requests_racing_with_one_idempotency_key_do_the_work_once(api: httpx.Client, keys: Keys, ctx: Context) -> None:
    from concurrent.futures import ThreadPoolExecutor

    interaction = {"email": "nia@acme.example", "kind": "page_visited", "topic": "Pricing"}
    api.post("/api/v1/interactions", json={**interaction, "topic": "Home"}, headers=keys.header("intake"))
    headers = {**keys.header("intake"), "Idempotency-Key": "race-1"}

    def post(_: int) -> httpx.Response:
        return api.post("/api/v1/interactions", json=interaction, headers=headers)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(post, range(4)))
    outcomes = sorted("done" if a.status_code == 201 else a.json()["error"]["code"] for a in answers)
    assert set(outcomes) <= {"done", "idempotency_in_progress"}, outcomes
    assert "done" in outcomes
    with ctx.sessions() as s:
        topics = s.scalars(select(Interaction.topic).order_by(Interaction.id)).all()
        assert topics == ["Home", "Pricing"]
        assert s.scalar(select(Lead.interactions)) == 2
