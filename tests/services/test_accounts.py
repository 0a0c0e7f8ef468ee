"""Accounts end to end, on SQLite and PostgreSQL: one owner, the account moves together, referrals, merges.

Three colleagues at Globex and one outsider at Initech are imported with two reps to deal them to;
the send engine runs against a real SMTP sink; a reply is read as sync-replies reads it.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cadence.adapters.models import Account, AccountChange, Enrollment, Lead, Task, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.decisions import Outcome
from cadence.core.events import NewReferral
from cadence.core.leads import make_lead
from cadence.services.accounts import account_for, merge_accounts, reassign_account, show_account, split_account
from cadence.services.advance import run_until_idle
from cadence.services.advance.ledger import Ledger
from cadence.services.advance.work import WorkItem
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead
from cadence.services.lead_views import show_lead
from cadence.services.leads import ImportReport, ImportRow, import_leads
from cadence.services.referrals import add_referral
from cadence.services.reps import add_rep
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.reliability.races import Stopper
from tests.reliability.test_races import WAITING_ON_A_LOCK

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York: the leads are enrolled then
TUESDAY = MONDAY + timedelta(days=1, hours=1)  # 10:00 in New York: the nurture day-1 emails are due
NEW_YORK = ZoneInfo("America/New_York")
RITA, SAM = "rita@cadence.example", "sam@cadence.example"
ANN, BOB, CY = "ann@globex.example", "bob@globex.example", "cy@globex.example"
DEE = "dee@initech.example"


def row(number: int, email: str, company: str, **extra: str) -> ImportRow:
    values = {
        "email": email, "first_name": email.split("@")[0].title(), "last_name": "Tester",
        "title": "VP Engineering", "company": company, "industry": "Software", "company_size": "500",
        "source": "webinar", "interactions": "3", "timezone": "America/New_York", "country": "US",
    }  # fmt: skip
    values.update(extra)
    return ImportRow(number, make_lead(values))


def import_rows(ctx: Context, rows: list[ImportRow], now: datetime = MONDAY) -> ImportReport:
    with ctx.sessions() as s, s.begin():
        return import_leads(s, rows, now=now, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                            cadence_override="nurture")  # fmt: skip


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
def world(database_url: str, sink: SmtpSink) -> Iterator[Context]:
    """Two reps; Ann, Bob and Cy at Globex (one as "Globex Inc."), Dee at Initech, enrolled on Monday."""
    settings = Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC",
                        smtp_host="127.0.0.1", smtp_port=sink.port, mail_domain="mail.cadence.example")  # fmt: skip
    ctx = Context(settings)
    with ctx.sessions() as s, s.begin():
        add_rep(s, RITA, "Rita Alvarez", now=MONDAY, timezone="America/New_York")
        add_rep(s, SAM, "Sam Okafor", now=MONDAY, timezone="America/New_York")
    import_rows(ctx, [row(2, ANN, "Globex"), row(3, DEE, "Initech"), row(4, BOB, "Globex Inc."), row(5, CY, "GLOBEX")])
    yield ctx
    ctx.close()


def run(ctx: Context, now: datetime) -> None:
    report = asyncio.run(run_until_idle(ctx, now=now))
    assert report.failures == [], report.failures


def lead(ctx: Context, email: str) -> Lead:
    with ctx.sessions() as s:
        return get_lead(s, email)


def enrollment(ctx: Context, email: str) -> Enrollment:
    with ctx.sessions() as s:
        return s.scalars(select(Enrollment).join(Lead, Lead.id == Enrollment.lead_id).where(Lead.email == email)
                         .order_by(Enrollment.id.desc()).limit(1)).one()  # fmt: skip


def recipients(sink: SmtpSink) -> list[str]:
    return [to for envelope in sink.envelopes for to in envelope.rcpt_tos]


# -- one account, one owner --------------------------------------------------------------------------------------


def test_three_colleagues_share_one_account_and_one_owner_and_the_outsider_has_its_own(world: Context) -> None:
    ann, bob, cy, dee = (lead(world, e) for e in (ANN, BOB, CY, DEE))
    assert ann.account_id == bob.account_id == cy.account_id != dee.account_id
    assert ann.owner_id == bob.owner_id == cy.owner_id  # round-robin alone would have dealt them to both reps
    assert dee.owner_id != ann.owner_id
    with world.sessions() as s:
        account = s.get_one(Account, ann.account_id)
        assert (account.domain, account.owner_id, account.name) == ("globex.example", ann.owner_id, "Globex")


def test_free_mail_addresses_are_not_an_account_but_a_known_company_name_is(world: Context) -> None:
    import_rows(world, [row(2, "eve.globex@gmail.com", "Globex, Inc."), row(3, "fay@gmail.com", "Hooli"),
                        row(4, "gus@gmail.com", "Umbrella")])  # fmt: skip
    eve, fay, gus = (lead(world, e) for e in ("eve.globex@gmail.com", "fay@gmail.com", "gus@gmail.com"))
    assert eve.account_id == lead(world, ANN).account_id  # Globex, known by its name
    assert eve.owner_id == lead(world, ANN).owner_id
    assert fay.account_id != gus.account_id  # gmail.com is no company


def test_an_explicit_owner_wins_over_the_accounts_with_a_warning(world: Context) -> None:
    owner = lead(world, ANN).owner
    assert owner is not None
    other = SAM if owner.email == RITA else RITA
    report = import_rows(world, [row(2, "hal@globex.example", "Globex", owner=other)])
    assert lead(world, "hal@globex.example").owner is not None
    assert lead(world, "hal@globex.example").owner.email == other  # type: ignore[union-attr]
    assert [w["row"] for w in report.warnings] == [2]
    assert other in report.warnings[0]["warning"]
    assert owner.email in report.warnings[0]["warning"]


def test_an_explicit_account_key_puts_a_lead_in_that_account(world: Context) -> None:
    import_rows(world, [row(2, "ian@subsidiary.example", "Globex Labs", account="Globex Group"),
                        row(3, "jo@globex-labs.example", "Globex Labs", account="globex group")])  # fmt: skip
    assert lead(world, "ian@subsidiary.example").account_id == lead(world, "jo@globex-labs.example").account_id
    assert lead(world, "ian@subsidiary.example").account_id != lead(world, ANN).account_id


# -- the account moves together ----------------------------------------------------------------------------------


def test_two_colleagues_are_never_emailed_on_the_same_local_day(world: Context, sink: SmtpSink) -> None:
    for day in range(4):
        run(world, TUESDAY + timedelta(days=day))
    with world.sessions() as s:
        sent = s.execute(
            select(Lead.email, Touch.executed_at).join(Lead, Lead.id == Touch.lead_id)
            .where(Touch.channel == "email", Touch.state == "sent", Lead.email.in_([ANN, BOB, CY]))
        ).tuples().all()  # fmt: skip
    days = {email: at.astimezone(NEW_YORK).date() for email, at in sent if at is not None}
    assert sorted(days) == [ANN, BOB, CY]  # each got its day-1 email, on a day of its own
    assert len(set(days.values())) == 3
    assert recipients(sink).count(DEE) == 1  # the outsider went out on Tuesday as before
    assert sorted(recipients(sink)) == sorted([ANN, BOB, CY, DEE])


def test_a_reply_from_one_holds_the_other_two_and_no_email_goes_after_it_commits(
    world: Context, sink: SmtpSink
) -> None:
    run(world, TUESDAY)  # Ann's day-1 email goes out (and Dee's); Bob's and Cy's wait for a day of their own
    assert sorted(recipients(sink)) == [ANN, DEE]
    replier = Context(world.settings)
    stopper = Stopper(replier, random.Random(1), iter(range(1, 100)))
    original = Ledger.hand
    checks: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def reply_first(ledger: Ledger, item: WorkItem) -> bool:
        # Wednesday: Bob's email is composed and marked; right before its hand-off, Ann's reply commits.
        with lock:
            if item.lead_email == BOB and not checks:
                stopper.commit(ANN, "reply")
        passed = original(ledger, item)
        with lock:
            checks.append((item.lead_email, passed))
        return passed

    Ledger.hand = reply_first  # type: ignore[method-assign,assignment]
    try:
        run(world, TUESDAY + timedelta(days=1))
    finally:
        Ledger.hand = original  # type: ignore[method-assign]
        replier.close()
    assert checks == [(BOB, False)]  # the reply committed before the check: withdrawn
    assert sorted(recipients(sink)) == [ANN, DEE]  # nothing to Bob
    ann_id = lead(world, ANN).id
    assert enrollment(world, ANN).state == "responded"
    for colleague in (BOB, CY):
        held = enrollment(world, colleague)
        assert (held.state, held.held_by_lead_id, held.next_due_at) == ("paused", ann_id, None)
    run(world, TUESDAY + timedelta(days=5))
    assert sorted(recipients(sink)) == [ANN, DEE]  # held: nothing goes while the owner works Ann's answer


def answer_and_decide(world: Context, outcome: Outcome, **extra: object) -> None:
    with world.sessions() as s, s.begin():
        from cadence.services.enrollments import record_response

        record_response(s, get_lead(s, ANN), now=TUESDAY, kind="reply", channel="email", note="Call me")
    for colleague in (BOB, CY):
        assert enrollment(world, colleague).state == "paused"
    with world.sessions() as s, s.begin():
        decide(s, get_lead(s, ANN), outcome, now=TUESDAY + timedelta(hours=2), decided_by=RITA, **extra)  # type: ignore[arg-type]


def test_the_owners_decision_on_the_one_who_answered_resumes_the_colleagues(world: Context, sink: SmtpSink) -> None:
    answer_and_decide(world, Outcome.WRONG_CONTACT, reason="not her area")
    for colleague in (BOB, CY):
        resumed = enrollment(world, colleague)
        assert (resumed.state, resumed.held_by_lead_id) == ("active", None)
        assert resumed.next_due_at is not None
    run(world, TUESDAY + timedelta(days=1))
    assert len([to for to in recipients(sink) if to in (BOB, CY)]) == 1  # and one a day again


def test_a_meeting_with_the_one_who_answered_stops_the_colleagues(world: Context) -> None:
    answer_and_decide(world, Outcome.MEETING_BOOKED, qualification_skipped=True)
    for colleague in (BOB, CY):
        assert enrollment(world, colleague).state == "decided"
        with world.sessions() as s:
            assert show_lead(s, colleague, settings=world.settings)["decision"]["outcome"] == "colleague_engaged"


# -- mapping into the company ------------------------------------------------------------------------------------


def test_a_referral_is_a_colleague_in_the_same_account_with_the_same_owner(world: Context) -> None:
    with world.sessions() as s, s.begin():
        ann = get_lead(s, ANN)
        named = NewReferral(email="kim.private@gmail.com", name="Kim Lee", phone=None, cadence="referral")
        referred = add_referral(s, ann, named, at=TUESDAY, settings=world.settings)
        assert referred.created
    kim, ann = lead(world, "kim.private@gmail.com"), lead(world, ANN)
    assert (kim.account_id, kim.owner_id, kim.referred_by_id) == (ann.account_id, ann.owner_id, ann.id)


def test_a_referral_is_enrolled_in_the_referral_cadence_as_saved_in_the_template_store(world: Context) -> None:
    from cadence.services import template_store

    with world.sessions.begin() as s:
        template_store.seed(s, TEMPLATES, now=MONDAY)
        text = (TEMPLATES / "cadences/referral.yaml").read_text(encoding="utf-8")
        saved = text.replace("    channel: call\n", "    channel: linkedin\n", 1)
        assert saved != text
        template_store.save(s, "cadences/referral.yaml", saved, by="mara@cadence.example", now=MONDAY)
    assert world.refresh_templates() is True
    with world.sessions() as s, s.begin():
        named = NewReferral(email="kim.private@gmail.com", name="Kim Lee", phone=None, cadence="referral")
        assert add_referral(s, get_lead(s, ANN), named, at=TUESDAY, settings=world.settings).enrolled
    with world.sessions() as s:
        kim = s.scalars(select(Lead).where(Lead.email == "kim.private@gmail.com")).one()
        enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == kim.id)).one()
    saved_version = world.cadences["referral"]
    assert [step.channel for step in saved_version.steps][1] == "linkedin"
    assert (enrollment.cadence_name, enrollment.cadence_version) == ("referral", saved_version.version)


@pytest.mark.postgresql
def test_two_colleagues_of_a_new_company_arriving_at_once_share_one_account(postgresql_ctx: Context) -> None:
    """Two API posts or form fills for one new company at once: the second waits on the first's account and
    takes it (before, it failed on the account's unique key and that lead was refused with 409)."""
    ctx, found, failed = postgresql_ctx, [], []

    def second() -> None:
        try:
            with ctx.sessions() as s, s.begin():
                found.append(account_for(s, "bob@newco.example", "NewCo", now=MONDAY).id)
        except Exception as exc:  # reported by the assertion below
            failed.append(exc)

    with ctx.sessions() as first, first.begin():
        mine = account_for(first, "ann@newco.example", "NewCo", now=MONDAY).id  # inserted, not committed yet
        thread = threading.Thread(target=second)
        thread.start()
        with ctx.engine.connect() as watch:  # the second insert is blocked on the first's uncommitted key
            for _ in range(600):
                if watch.execute(WAITING_ON_A_LOCK).scalar_one() or not thread.is_alive():
                    break
                watch.rollback()
                threading.Event().wait(0.1)
    thread.join(60)
    assert (failed, found) == ([], [mine])
    with ctx.sessions() as s:
        assert s.scalars(select(Account)).all() == [s.get(Account, mine)]


# -- merges, splits, reassignments -------------------------------------------------------------------------------


def timeline(ctx: Context, email: str) -> list[tuple[str, str]]:
    with ctx.sessions() as s:
        return [(t["at"], t["state"]) for t in show_lead(s, email, settings=ctx.settings)["timeline"]]


def test_merging_two_accounts_keeps_every_timeline_and_is_recorded(world: Context) -> None:
    run(world, TUESDAY)
    before = {email: timeline(world, email) for email in (ANN, BOB, CY, DEE)}
    assert before[DEE]
    assert before[ANN]
    with world.sessions() as s, s.begin():
        merge_accounts(s, "initech.example", "globex.example", by=RITA, now=TUESDAY)
    assert {email: timeline(world, email) for email in (ANN, BOB, CY, DEE)} == before
    with world.sessions() as s:
        shown = show_account(s, "initech.example")  # the old key finds the account that took its contacts
        assert shown["domain"] == "globex.example"
        assert sorted(c["email"] for c in shown["contacts"]) == sorted([ANN, BOB, CY, DEE])
        assert {row["contact"] for row in shown["timeline"]} >= {ANN, DEE}
        assert [c["kind"] for c in shown["changes"]] == ["merge"]
        assert s.scalars(select(AccountChange)).one().changed_by == RITA
    assert lead(world, DEE).owner_id == lead(world, ANN).owner_id  # one owner per account


def test_a_split_moves_the_contacts_named_into_a_new_account(world: Context) -> None:
    with world.sessions() as s, s.begin():
        split_account(s, "globex.example", [CY], into="Globex Europe", by=RITA, now=TUESDAY)
    assert lead(world, CY).account_id != lead(world, ANN).account_id == lead(world, BOB).account_id
    with world.sessions() as s:
        assert [c["email"] for c in show_account(s, "globex europe")["contacts"]] == [CY]


def test_reassigning_an_account_moves_its_contacts_and_their_open_tasks(world: Context) -> None:
    with world.sessions() as s, s.begin():
        from cadence.services.enrollments import record_response

        record_response(s, get_lead(s, BOB), now=TUESDAY, kind="call", channel="call", note="call back")
    owner = lead(world, ANN).owner
    assert owner is not None
    other = SAM if owner.email == RITA else RITA
    with world.sessions() as s, s.begin():
        result = reassign_account(s, "globex.example", other, by="manager@cadence.example", now=TUESDAY)
    assert result["contacts_moved"] == 3
    with world.sessions() as s:
        owners = {get_lead(s, e).owner.email for e in (ANN, BOB, CY)}  # type: ignore[union-attr]
        tasks = s.scalars(select(Task).join(Lead, Lead.id == Task.lead_id).where(Lead.email == BOB)).all()
        assert owners == {other}
        assert tasks
        assert {t.owner.email if t.owner else None for t in tasks if t.status == "open"} == {other}


# -- the report ---------------------------------------------------------------------------------------------------


def test_the_report_counts_accounts_touched_engaged_and_their_meetings(world: Context) -> None:
    from cadence.services.reports import generate_report
    from cadence.services.reports.render import render_csv, render_text

    run(world, TUESDAY)  # Ann and Dee emailed: two accounts touched
    with world.sessions() as s, s.begin():
        from cadence.services.enrollments import record_response

        for email in (BOB, CY):  # two Globex contacts answer (one by phone, one by email)
            record_response(s, get_lead(s, email), now=TUESDAY, kind="call", channel="call", note="hello")
        decide(s, get_lead(s, BOB), Outcome.MEETING_BOOKED, now=TUESDAY, decided_by=RITA, qualification_skipped=True)
    report = generate_report(world, since=None, until=None, now=TUESDAY + timedelta(days=1))
    accounts = report["accounts"]
    assert (accounts["touched"], accounts["engaged_two_or_more"], accounts["meetings"]) == (2, 1, 1)
    assert accounts["with_meetings"] == [{"account": "Globex", "meetings": 1, "engaged": 2}]
    assert "Meetings per account" in render_text(report)
    assert "accounts,,engaged_two_or_more,1" in render_csv(report)


def test_at_most_three_contacts_of_an_account_are_in_automated_steps_the_rest_wait_their_turn(
    world: Context, sink: SmtpSink
) -> None:
    import_rows(world, [row(2, "fay@globex.example", "Globex"), row(3, "gil@globex.example", "Globex")])
    days = [TUESDAY + timedelta(days=d) for d in (0, 1, 2, 3, 6, 7)]  # Tuesday to Friday, Monday, Tuesday
    for day in days:
        run(world, day)
    globex = [ANN, BOB, CY, "fay@globex.example", "gil@globex.example"]
    started = [email for email in globex if enrollment(world, email).next_step > 0]
    assert started == [ANN, BOB, CY]  # three at once (account_max_active), one a day
    assert enrollment(world, "fay@globex.example").state == "active"  # queued, not dropped
    with world.sessions() as s, s.begin():  # Ann answers and is decided the wrong contact: her place frees up
        from cadence.services.enrollments import record_response

        record_response(s, get_lead(s, ANN), now=days[-1], kind="reply", channel="email", note="not me")
        decide(s, get_lead(s, ANN), Outcome.WRONG_CONTACT, now=days[-1], decided_by=RITA, reason="ask Fay")
    run(world, days[-1] + timedelta(days=1))
    assert enrollment(world, "fay@globex.example").next_step == 1
    assert "fay@globex.example" in recipients(sink)
    assert enrollment(world, "gil@globex.example").next_step == 0
