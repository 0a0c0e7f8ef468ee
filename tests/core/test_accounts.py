"""Accounts in the core: matching a lead to its company, and what a colleague's answer means (tables)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cadence.core.accounts import MatchedBy, account_match, coverage, normalize_company, parse_role
from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.decisions import Outcome
from cadence.core.enrollment import State
from cadence.core.events import (
    AccountNews,
    ColleagueAnswered,
    ColleagueDecided,
    Decided,
    Facts,
    Position,
    Responded,
    consequences,
)
from cadence.core.schedule import LeadCalendar
from cadence.errors import ConfigurationError, ValidationError

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
ENROLLED = AT - timedelta(days=3)


@pytest.mark.parametrize(
    ("email", "company", "explicit", "key", "by"),
    [
        ("ann@globex.example", "Globex", None, "domain:globex.example", MatchedBy.DOMAIN),
        ("ann@mail.globex.example", None, None, "domain:mail.globex.example", MatchedBy.DOMAIN),
        ("cy@gmail.com", "GLOBEX, Inc.", None, "company:globex", MatchedBy.COMPANY),
        ("cy@comcast.net", "The Globex Corporation", None, "company:globex", MatchedBy.COMPANY),  # an ISP
        ("cy@outlook.com", "Société Générale SA", None, "company:societe generale", MatchedBy.COMPANY),
        ("cy@mailinator.com", "Acme", None, "company:acme", MatchedBy.COMPANY),  # throw-away
        ("cy@gmail.com", None, None, "address:cy@gmail.com", MatchedBy.ADDRESS),
        ("ian@subsidiary.example", "Globex Labs", "  Globex  Group ", "key:globex group", MatchedBy.KEY),
    ],
)
def test_a_lead_is_matched_by_key_then_company_domain_then_company_name(
    email: str, company: str | None, explicit: str | None, key: str, by: MatchedBy
) -> None:
    match = account_match(email, company, explicit)
    assert (match.key, match.matched_by) == (key, by)


@pytest.mark.parametrize(
    ("name", "normalized"),
    [("Acme, Inc.", "acme"), ("ACME LLC", "acme"), ("Acme GmbH & Co. KG", "acme"), ("Co", "co"), ("  ", None)],
)
def test_company_names_lose_case_punctuation_and_legal_suffixes(name: str, normalized: str | None) -> None:
    assert normalize_company(name) == normalized


def test_roles_read_loosely_and_refuse_what_is_unknown() -> None:
    assert parse_role("Decision Maker") is not None
    assert parse_role("") is None
    with pytest.raises(ValidationError, match="decision_maker, approver"):
        parse_role("boss")


def test_coverage_says_what_the_buying_group_lacks() -> None:
    cover = coverage(["decision_maker", None, "user"], [True, False, False])
    assert (cover.decision_maker, cover.approver, cover.engaged) == (True, False, 1)
    assert cover.gaps == ["no approver known"]


def cadence(on_response: str | None = None) -> Cadence:
    settings = {"on_account_response": on_response} if on_response else {}
    steps = [{"day": 1, "channel": "email", "template": "a"}, {"day": 5, "channel": "email", "template": "b"}]
    return parse_cadence({"name": "t", "settings": settings, "steps": steps})


def facts(state: State = State.ACTIVE, held_by: int | None = None, on_response: str | None = None) -> Facts:
    position = Position(state=state, enrolled_at=ENROLLED, anchor_at=ENROLLED, next_step=1,
                        next_due_at=AT + timedelta(days=1) if state == State.ACTIVE else None,
                        paused_at=AT - timedelta(hours=1) if state == State.PAUSED else None,
                        held_by_lead_id=held_by)  # fmt: skip
    the_cadence = cadence(on_response)
    calendar = LeadCalendar.for_lead(the_cadence.settings, "America/New_York", "US")
    return Facts(at=AT, enrollment=position, cadence=the_cadence, calendar=calendar, lead_name="Bob")


def test_a_colleague_answering_holds_an_active_contact_by_default() -> None:
    found = consequences(ColleagueAnswered(lead_id=7, name="Ann"), facts())
    assert found.enrollment is not None
    assert (found.enrollment.state, found.enrollment.held_by_lead_id, found.enrollment.next_due_at) == (
        State.PAUSED, 7, None)  # fmt: skip
    assert found.account is None  # nothing cascades
    assert found.decision is None


def test_a_cadence_may_stop_or_go_on_when_a_colleague_answers() -> None:
    stopped = consequences(ColleagueAnswered(lead_id=7, name="Ann"), facts(on_response="stop"))
    assert stopped.decision is not None
    assert stopped.decision.outcome == Outcome.COLLEAGUE_ENGAGED
    assert "Ann" in (stopped.decision.reason or "")
    going_on = consequences(ColleagueAnswered(lead_id=7), facts(on_response="continue"))
    assert (going_on.enrollment, going_on.decision) == (None, None)


@pytest.mark.parametrize("state", [State.PAUSED, State.RESPONDED, State.DECIDED, State.COMPLETED])
def test_only_an_active_contact_is_held(state: State) -> None:
    found = consequences(ColleagueAnswered(lead_id=7), facts(state=state))
    assert (found.enrollment, found.decision) == (None, None)


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        (Outcome.NOT_INTERESTED, State.ACTIVE),
        (Outcome.WRONG_CONTACT, State.ACTIVE),
        (Outcome.NO_RESPONSE, State.ACTIVE),
        (Outcome.MEETING_BOOKED, State.DECIDED),
        (Outcome.QUALIFIED_HANDOFF, State.DECIDED),
        (Outcome.BAD_FIT, State.DECIDED),
    ],
)
def test_the_decision_on_the_colleague_resumes_or_stops_the_contacts_it_held(outcome: Outcome, state: State) -> None:
    found = consequences(ColleagueDecided(lead_id=7, outcome=outcome, name="Ann"), facts(State.PAUSED, held_by=7))
    assert found.enrollment is not None
    assert found.enrollment.state == state
    assert found.enrollment.held_by_lead_id is None or state == State.DECIDED


def test_a_decision_on_someone_else_leaves_a_held_contact_held() -> None:
    found = consequences(ColleagueDecided(lead_id=8, outcome=Outcome.NOT_INTERESTED), facts(State.PAUSED, held_by=7))
    assert found.enrollment is None


def test_an_answer_and_a_decision_carry_news_for_the_colleagues() -> None:
    answered = consequences(Responded(kind="reply", channel="email", note="hi"), facts())
    assert answered.account == AccountNews(answered=True, decided=None)
    decided = consequences(Decided(outcome=Outcome.NOT_INTERESTED), facts(State.RESPONDED))
    assert decided.account == AccountNews(answered=False, decided=Outcome.NOT_INTERESTED)


def test_cadence_files_check_the_account_settings() -> None:
    with pytest.raises(ConfigurationError, match="on_account_response"):
        cadence("hold")
    assert cadence().settings.on_account_response == "pause"
    assert cadence().settings.account_max_active == 3
    assert cadence().version == parse_cadence(cadence().to_dict()).version
    assert "on_account_response" not in cadence().to_dict()["settings"]  # older files keep their version


def test_a_snooze_over_releases_the_contacts_the_colleague_held() -> None:
    from cadence.core.events import SnoozeOver

    over = consequences(SnoozeOver(cadence="re-engage"), facts(State.RESPONDED))
    assert over.account == AccountNews(released=True)
    resumed = consequences(ColleagueDecided(lead_id=7, outcome=None), facts(State.PAUSED, held_by=7))
    assert resumed.enrollment is not None
    assert (resumed.enrollment.state, resumed.enrollment.held_by_lead_id) == (State.ACTIVE, None)
