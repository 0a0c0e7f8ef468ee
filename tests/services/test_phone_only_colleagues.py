"""A colleague known only by phone, on SQLite and PostgreSQL: same account and owner, calls but no email.

Ann at Globex is imported with two reps; a rep adds her colleague Gil with a phone number and no
address. His cadence runs against a real SMTP sink: its call becomes his owner's task, its emails are
skipped with the reason on the timeline, and nothing is sent for him.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cadence.adapters.models import Lead, Task, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.event_data import NO_ADDRESS_REASON
from cadence.core.leads import make_lead
from cadence.errors import NotFound, ValidationError
from cadence.services.accounts import add_colleague, show_account
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.lead_views import list_leads, show_lead
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep
from cadence.settings import Settings
from tests.conftest import TEMPLATES

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York
RITA, SAM = "rita@cadence.example", "sam@cadence.example"
ANN = "ann@globex.example"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def world(database_url: str, sink: SmtpSink) -> Iterator[Context]:
    """Two reps and Ann at Globex (imported, a lead, not enrolled: only Gil's cadence runs)."""
    settings = Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC",
                        smtp_host="127.0.0.1", smtp_port=sink.port, mail_domain="mail.cadence.example")  # fmt: skip
    ctx = Context(settings)
    values = {"email": ANN, "first_name": "Ann", "last_name": "Ames", "title": "CTO", "company": "Globex",
              "industry": "Software", "company_size": "500", "source": "webinar", "interactions": "3",
              "timezone": "America/New_York", "country": "US"}  # fmt: skip
    with ctx.sessions() as s, s.begin():
        add_rep(s, RITA, "Rita Alvarez", now=MONDAY, timezone="America/New_York")
        add_rep(s, SAM, "Sam Okafor", now=MONDAY, timezone="America/New_York")
        import_leads(s, [ImportRow(2, make_lead(values))], now=MONDAY, settings=ctx.settings, rules=ctx.rules,
                     cadences=ctx.cadences, enroll=False)  # fmt: skip
    yield ctx
    ctx.close()


def add(ctx: Context, of: str, **values: str | None) -> dict[str, object]:
    with ctx.sessions() as s, s.begin():
        return add_colleague(s, of, dict(values), referred=True, now=MONDAY, settings=ctx.settings, rules=ctx.rules,
                             cadences=ctx.cadences)  # fmt: skip


def test_a_colleague_known_only_by_phone_joins_the_account_with_its_owner(world: Context) -> None:
    added = add(world, ANN, name="Gil Grant", phone="(212) 555-0100", role="approver")
    assert (added["email"], added["phone"], added["reference"]) == (None, "+12125550100", f"#{added['id']}")
    assert added["enrolled"] == "referral"
    with world.sessions() as s:
        ann, gil = get_lead(s, ANN), get_lead(s, f"#{added['id']}")
        assert (gil.account_id, gil.owner_id, gil.referred_by_id) == (ann.account_id, ann.owner_id, ann.id)
        assert gil.owner_id is not None
        account = show_account(s, ANN)
        listed = {row["ref"]: row for row in list_leads(s)}
    contact = next(c for c in account["contacts"] if c["ref"] == added["reference"])
    assert (contact["email"], contact["phone"], contact["name"], contact["role"]) == (
        None, "+12125550100", "Gil Grant", "approver")  # fmt: skip
    assert account["coverage"]["approver"] is True
    assert listed[str(added["reference"])]["name"] == "Gil Grant"


def test_a_lead_is_referred_to_by_hash_id_as_well_as_by_address(world: Context) -> None:
    added = add(world, ANN, name="Gil Grant", phone="+1 212 555 0100")
    with world.sessions() as s:
        ann = get_lead(s, ANN)
        assert get_lead(s, f"#{ann.id}").id == ann.id
        shown = show_lead(s, f" #{added['id']} ", settings=world.settings)
        assert (shown["ref"], shown["email"], shown["referred_by"]) == (added["reference"], None, ANN)
        with pytest.raises(NotFound, match="no lead #999999"):
            get_lead(s, "#999999")
        with pytest.raises(ValidationError, match="not a lead reference"):
            get_lead(s, "#forty-two")
    gil_of_gil = add(world, f"#{added['id']}", name="Hal Hart", phone="+1 212 555 0101")  # a colleague of a colleague
    assert gil_of_gil["account"] == "Globex"


def test_the_same_phone_twice_in_one_account_is_refused_with_a_clear_message(world: Context) -> None:
    first = add(world, ANN, name="Gil Grant", phone="+1 212 555 0100")
    with pytest.raises(ValidationError) as refused:
        add(world, ANN, name="Gil G.", phone="(212) 555-0100")  # written another way: one number
    assert str(refused.value) == (
        f"+12125550100 is the phone of Gil Grant ({first['reference']}) at this account already: "
        f"no second lead was added; see `cadence leads show '{first['reference']}'`"
    )
    with world.sessions() as s:
        assert len(s.scalars(select(Lead).where(Lead.phone == "+12125550100")).all()) == 1


def test_a_colleague_needs_an_address_or_a_dialable_phone(world: Context) -> None:
    with pytest.raises(ValidationError, match="needs an email address or a phone number"):
        add(world, ANN, name="Nobody")
    with pytest.raises(ValidationError, match="is not a valid number"):
        add(world, ANN, name="Gil Grant", phone="555 0100")
    with pytest.raises(ValidationError, match="not a phone number"):
        add(world, ANN, name="Gil Grant", phone="call me", country="")


def test_its_cadence_gives_call_tasks_and_skips_emails_with_the_reason_and_sends_nothing(
    world: Context, sink: SmtpSink
) -> None:
    added = add(world, ANN, name="Gil Grant", phone="+1 212 555 0100")
    for day in range(15):  # the referral cadence: email on day 0, a call on day 4, an email on day 9, then grace
        report = asyncio.run(run_until_idle(world, now=MONDAY + timedelta(days=day, hours=1)))
        assert report.failures == [], report.failures
    assert sink.envelopes == []  # Ann is not enrolled and Gil has no address: nothing reaches the server
    with world.sessions() as s:
        gil = get_lead(s, str(added["reference"]))
        touches = s.scalars(select(Touch).where(Touch.lead_id == gil.id).order_by(Touch.step_index)).all()
        tasks = s.scalars(select(Task).where(Task.lead_id == gil.id)).all()
        assert [(t.channel, t.state, t.error) for t in touches] == [
            ("email", "skipped", NO_ADDRESS_REASON), ("call", "done", None), ("email", "skipped", NO_ADDRESS_REASON)
        ]  # fmt: skip
        assert [(t.channel, t.owner_id, t.title) for t in tasks] == [("call", gil.owner_id, "Call Gil Grant (Globex)")]
        timeline = show_lead(s, str(added["reference"]), settings=world.settings)["timeline"]
    emails = [item["outcome"] for item in timeline if item["channel"] == "email"]
    assert emails == [NO_ADDRESS_REASON, NO_ADDRESS_REASON]  # what the lead page's timeline shows
