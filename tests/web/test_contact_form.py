"""The public contact form against people and bots: origins, honeypot, fill time, rate limit, redirect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cadence.adapters.models import Enrollment, Interaction, Lead
from cadence.core.tokens import form_started_token
from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.web.api_support import MONDAY_10_NY, seed_api
from tests.web.conftest import SECRET
from tests.web.workspace import Clock

SITE = "https://www.yourco.example"
THANKS = "https://www.yourco.example/thanks"


@pytest.fixture
def form_clock() -> Clock:
    """Monday 10:00 in New York."""
    return Clock(MONDAY_10_NY)


@pytest.fixture
def form(
    web_settings: Settings, form_clock: Clock, ctx: Context, serve: Callable[[FastAPI], str]
) -> Iterator[httpx.Client]:
    """A client of the app with the form on for :data:`SITE`, redirecting to :data:`THANKS`."""
    seed_api(ctx)
    settings = web_settings.model_copy(
        update={
            "contact_form_origins": f"{SITE}/, https://yourco.example",
            "contact_form_thanks_url": THANKS,
            "contact_form_min_seconds": 3,
            "contact_form_per_address_per_hour": 2,
        }
    )
    app = create_app(settings, clock=form_clock)
    with httpx.Client(base_url=serve(app), timeout=10, follow_redirects=False) as client:
        yield client


def _token(at: datetime, secret: str = SECRET) -> str:
    """The ``form_started`` token the page would have got at ``at``."""
    return form_started_token(int(at.timestamp() * 1000), secret)


def _fields(clock: Clock, **extra: str) -> dict[str, str]:
    shown_at = clock.now - timedelta(seconds=40)
    return {
        "email": "lee@prospect.example",
        "first_name": "Lee",
        "last_name": "Park",
        "company": "Prospect",
        "message": "Please call me about pricing.",
        "website": "",
        "form_started": _token(shown_at),
        **extra,
    }


def _leads(ctx: Context) -> int:
    with ctx.sessions() as s:
        return s.scalar(select(func.count()).select_from(Lead)) or 0


def test_a_person_s_post_makes_an_inbound_lead_enrolled_at_once_and_redirects(
    form: httpx.Client, form_clock: Clock, ctx: Context
) -> None:
    answer = form.post("/forms/contact", data=_fields(form_clock), headers={"Origin": SITE})
    assert answer.status_code == 303
    assert answer.headers["location"] == THANKS
    with ctx.sessions() as s:
        lead = s.scalars(select(Lead)).one()
        assert (lead.email, lead.source, lead.inbound, lead.cadence) == (
            "lee@prospect.example",
            "contact_request",
            True,
            "inbound",
        )
        assert lead.custom == {"message": "Please call me about pricing."}
        enrollment = s.scalars(select(Enrollment)).one()
        assert enrollment.next_due_at == MONDAY_10_NY
        assert s.scalars(select(Interaction.kind)).all() == ["form_filled"]


def test_a_json_post_from_a_script_gets_201_and_cors_for_its_origin(
    form: httpx.Client, form_clock: Clock, ctx: Context
) -> None:
    preflight = form.options("/forms/contact", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    answer = form.post("/forms/contact", json=_fields(form_clock), headers={"Origin": SITE})
    assert answer.status_code == 201
    assert answer.json() == {"status": "received"}
    assert answer.headers["access-control-allow-origin"] == SITE
    assert _leads(ctx) == 1


def test_a_post_from_another_origin_or_none_is_refused(form: httpx.Client, form_clock: Clock, ctx: Context) -> None:
    other = form.post("/forms/contact", data=_fields(form_clock), headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "origin_not_allowed"
    assert form.post("/forms/contact", data=_fields(form_clock)).status_code == 403
    by_referer = form.post("/forms/contact", data=_fields(form_clock), headers={"Referer": f"{SITE}/contact?x=1"})
    assert by_referer.status_code == 303
    assert _leads(ctx) == 1


@pytest.mark.parametrize(
    "bot",
    [
        {"website": "http://spam.example"},  # the honeypot
        {"form_started": ""},  # no fill time at all
        {"form_started": "soon"},
    ],
)
def test_a_bot_is_answered_like_a_person_and_nothing_is_recorded(
    form: httpx.Client, form_clock: Clock, ctx: Context, bot: dict[str, str]
) -> None:
    answer = form.post("/forms/contact", data=_fields(form_clock, **bot), headers={"Origin": SITE})
    assert answer.status_code == 303
    assert answer.headers["location"] == THANKS
    assert _leads(ctx) == 0


def test_a_form_filled_faster_than_a_person_can_is_a_bot_s(form: httpx.Client, form_clock: Clock, ctx: Context) -> None:
    fast = _token(form_clock.now - timedelta(seconds=1))
    assert (
        form.post("/forms/contact", data=_fields(form_clock, form_started=fast), headers={"Origin": SITE}).status_code
        == 303
    )
    assert _leads(ctx) == 0
    slow = _token(form_clock.now - timedelta(seconds=3))
    assert (
        form.post("/forms/contact", data=_fields(form_clock, form_started=slow), headers={"Origin": SITE}).status_code
        == 303
    )
    assert _leads(ctx) == 1


def test_the_fill_time_is_the_one_the_page_got_from_us_not_one_a_script_wrote(
    form: httpx.Client, form_clock: Clock, ctx: Context
) -> None:
    shown_at = form_clock.now - timedelta(seconds=40)
    written = [
        str(int(shown_at.timestamp() * 1000)),  # what a page's own Date.now() gives: unsigned
        str(int(shown_at.timestamp())),
        _token(shown_at, "another-key-of-at-least-thirty-two-characters"),  # not our key
        _token(shown_at)[:-1] + "0",  # altered
        _token(shown_at).replace(".", "0."),  # another time under the same mac
    ]
    for value in written:
        answer = form.post("/forms/contact", data=_fields(form_clock, form_started=value), headers={"Origin": SITE})
        assert answer.status_code == 303, value  # answered like a person
    assert _leads(ctx) == 0


def test_the_page_gets_its_token_from_the_form_s_own_endpoint(
    form: httpx.Client, form_clock: Clock, ctx: Context
) -> None:
    shown = form.get("/forms/contact/started", headers={"Origin": SITE})
    assert shown.status_code == 200
    assert shown.headers["access-control-allow-origin"] == SITE
    assert shown.headers["cache-control"] == "no-store"
    assert form.get("/forms/contact/started", headers={"Origin": "https://evil.example"}).status_code == 403
    token = shown.text
    form_clock.now += timedelta(seconds=1)
    too_soon = form.post("/forms/contact", data=_fields(form_clock, form_started=token), headers={"Origin": SITE})
    assert (too_soon.status_code, _leads(ctx)) == (303, 0)
    form_clock.now += timedelta(seconds=5)
    person = form.post("/forms/contact", data=_fields(form_clock, form_started=token), headers={"Origin": SITE})
    assert (person.status_code, _leads(ctx)) == (303, 1)


def test_one_address_posting_again_and_again_is_rate_limited(
    form: httpx.Client, form_clock: Clock, ctx: Context
) -> None:
    for _ in range(2):
        assert form.post("/forms/contact", data=_fields(form_clock), headers={"Origin": SITE}).status_code == 303
    limited = form.post("/forms/contact", data=_fields(form_clock), headers={"Origin": SITE})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3600"
    other = form.post(
        "/forms/contact", data=_fields(form_clock, email="kim@prospect.example"), headers={"Origin": SITE}
    )
    assert other.status_code == 303
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Interaction)) == 3


def test_a_bad_address_is_a_422_that_says_so(form: httpx.Client, form_clock: Clock, ctx: Context) -> None:
    answer = form.post("/forms/contact", data=_fields(form_clock, email="not-an-address"), headers={"Origin": SITE})
    assert answer.status_code == 422
    assert "email" in answer.json()["error"]["message"]
    assert _leads(ctx) == 0


@pytest.mark.one_database
def test_the_form_is_off_until_origins_are_set(http: httpx.Client) -> None:
    answer = http.post("/forms/contact", data={"email": "lee@prospect.example"}, headers={"Origin": SITE})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "form_disabled"


def test_a_phone_number_that_cannot_be_used_does_not_lose_the_person(
    form: httpx.Client, form_clock: Clock, ctx: Context
) -> None:
    answer = form.post("/forms/contact", data=_fields(form_clock, phone="call me!"), headers={"Origin": SITE})
    assert answer.status_code == 303
    with ctx.sessions() as s:
        assert s.execute(select(Lead.email, Lead.phone)).one() == ("lee@prospect.example", None)
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 1
