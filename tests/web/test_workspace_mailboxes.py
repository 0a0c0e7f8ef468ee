"""The managers' page of sending mailboxes and paused cadences."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cadence.adapters.models import CadencePause, Enrollment, Lead, Rep, SendingMailbox
from cadence.services.audit import AuditFilter, entries
from cadence.services.context import Context
from cadence.services.mailboxes import add_mailbox, get_mailbox, list_mailboxes, pause_mailbox
from tests.web.workspace import MAX, MIA, NOW, RITA, Seeded, post_form, signed_in


def test_managers_see_each_mailbox_its_day_and_why_it_is_paused(ctx: Context, seeded: Seeded, site: str) -> None:
    with ctx.sessions() as s, s.begin():
        add_mailbox(s, "rita@outreach.cadence.example", rep_email=RITA, smtp_host="smtp.outreach.example", now=NOW,
                    daily_cap=50, ramp="10:5:50")  # fmt: skip
        add_mailbox(s, "rita2@outreach.cadence.example", rep_email=RITA, smtp_host="smtp.outreach.example", now=NOW,
                    daily_cap=30)  # fmt: skip
        pause_mailbox(s, "rita2@outreach.cadence.example", now=NOW, reason="paused automatically: 3 of its last 40")
        s.add(CadencePause(cadence_name="nurture", reason="paused automatically: 4 of its last 40", paused_at=NOW))
    with signed_in(site, MAX) as http:
        page = http.get("/mailboxes")
    assert page.status_code == 200
    text = page.text
    assert '<a href="/mailboxes"' in text
    assert '<td class="num">0 of 10</td>' in text  # day one of its ramp-up
    assert "up to 10 emails today, about one every 54 minutes" in text
    assert "rita2@outreach.cadence.example is paused: paused automatically: 3 of its last 40" in text
    assert "cadence mailboxes resume rita2@outreach.cadence.example" in text
    assert 'action="/mailboxes/resume"' in text
    assert "cadence cadences resume nurture" in text


@pytest.mark.one_database
def test_without_mailboxes_the_page_says_where_email_goes(site: str) -> None:
    with signed_in(site, MAX) as http:
        text = http.get("/mailboxes").text
    assert "No sending mailboxes: every email leaves through the SMTP server of the settings" in text
    assert "No cadence is paused." in text


@pytest.mark.one_database
def test_only_managers_open_the_sending_page(site: str) -> None:
    for email in (RITA, MIA):
        with signed_in(site, email) as http:
            response = http.get("/mailboxes")
            assert (response.status_code, response.text) == (403, "Forbidden")


def test_a_manager_pauses_and_resumes_a_mailbox_and_resumes_a_cadence_from_the_page(
    ctx: Context, seeded: Seeded, site: str
) -> None:
    box = "rita@outreach.cadence.example"
    with ctx.sessions() as s, s.begin():
        add_mailbox(s, box, rep_email=RITA, smtp_host="smtp.outreach.example", now=NOW, daily_cap=50)
        s.add(CadencePause(cadence_name="nurture", reason="paused automatically: 4 of its last 40", paused_at=NOW))
    with signed_in(site, MAX) as http:
        paused = post_form(http, "/mailboxes/pause", {"address": box, "reason": "new domain warming up"})
        assert paused.status_code == 303, paused.text
        text = http.get("/mailboxes").text
        assert f"{box} is paused: its emails wait until it is resumed." in text
        assert f"{box} is paused: paused by {MAX}: new domain warming up" in text
        with ctx.sessions() as s:
            assert get_mailbox(s, box).state == "paused"
        assert post_form(http, "/mailboxes/resume", {"address": box}).status_code == 303
        assert post_form(http, "/mailboxes/resume-cadence", {"cadence": "nurture"}).status_code == 303
        unknown = post_form(http, "/mailboxes/resume", {"address": "nobody@outreach.cadence.example"})
        assert unknown.status_code == 422
        assert "no sending mailbox nobody@outreach.cadence.example" in unknown.text
    with ctx.sessions() as s:
        assert get_mailbox(s, box).state == "active"
        assert s.scalars(select(CadencePause)).one().resumed_at is not None


@pytest.mark.one_database
def test_reps_cannot_pause_a_mailbox(site: str) -> None:
    with signed_in(site, RITA) as http:
        refused = post_form(http, "/mailboxes/pause", {"address": "rita@outreach.cadence.example"})
    assert refused.status_code == 403


GOOD = {
    "address": "Rita@Outreach.Cadence.example",
    "rep": RITA,
    "smtp_host": "smtp.outreach.example",
    "smtp_port": "2525",
    "smtp_tls": "none",
    "password_block": "rita-smtp",
    "daily_cap": "40",
    "per_minute": "",
    "ramp": "10:5:40",
    "imap_host": "imap.outreach.example",
    "imap_port": "",
    "imap_tls": "tls",
    "imap_username": "",
    "imap_password_block": "rita-imap",
    "imap_folder": "",
}


def test_a_manager_adds_a_mailbox_with_its_own_inbox_from_the_form_and_the_audit_log_says_who(
    ctx: Context, seeded: Seeded, site: str
) -> None:
    with signed_in(site, MAX) as http:
        page = http.get("/mailboxes").text
        assert 'action="/mailboxes/add"' in page
        assert f'<option value="{RITA}">Rita Alvarez ({RITA})</option>' in page
        added = post_form(http, "/mailboxes/add", GOOD)
        assert added.status_code == 303, added.text
        text = http.get("/mailboxes").text
    assert "rita@outreach.cadence.example is added: rita@cadence.example&#39;s leads&#39; emails leave from it" in text
    assert "Its inbox is read for replies." in text
    assert "replies read from INBOX of rita@outreach.cadence.example on imap.outreach.example:993" in text
    with ctx.sessions() as s:
        box = get_mailbox(s, "rita@outreach.cadence.example")
        assert (box.smtp_host, box.smtp_port, box.smtp_tls, box.password_block) == (
            "smtp.outreach.example", 2525, "none", "rita-smtp",
        )  # fmt: skip
        assert (box.daily_cap, box.per_minute, box.ramp_start, box.ramp_step, box.ramp_max) == (40, None, 10, 5, 40)
        assert (box.imap_host, box.imap_port, box.imap_tls, box.imap_username, box.imap_folder) == (
            "imap.outreach.example", 993, "tls", None, "INBOX",
        )  # fmt: skip
        assert box.imap_password_block == "rita-imap"
        [entry] = entries(s, AuditFilter(action="mailboxes"))
        assert (entry.actor, entry.action, entry.subject) == (MAX, "mailboxes.add", "rita@outreach.cadence.example")


def test_a_bad_form_shows_each_problem_beside_its_field_and_keeps_what_was_typed(
    ctx: Context, seeded: Seeded, site: str
) -> None:
    bad = {**GOOD, "smtp_host": "smtp host", "daily_cap": "ten", "ramp": "60:5:50", "imap_password_block": "",
           "rep": "nobody@cadence.example"}  # fmt: skip
    with signed_in(site, MAX) as http:
        refused = post_form(http, "/mailboxes/add", bad)
    assert refused.status_code == 422
    text = refused.text
    for field, problem in {
        "smtp_host": "SMTP host &#39;smtp host&#39; is not a host name",
        "daily_cap": "the daily cap must be a whole number, not &#39;ten&#39;",
        "ramp": "ramp &#39;60:5:50&#39;: START must be at least 1 and at most MAX",
        "imap_password_block": "the IMAP password must come from a Prefect Secret block",
        "rep": "no rep with email nobody@cadence.example",
    }.items():
        assert f'id="mb-{field}-error" role="alert">' in text, field
        after = text.split(f'id="mb-{field}-error" role="alert">', 1)[1]
        assert after.startswith(problem), (field, after[:120])
    assert 'id="mb-smtp_host" name="smtp_host" type="text" size="30" maxlength="500" value="smtp host"' in text
    assert 'value="ten"' in text
    assert 'value="imap.outreach.example"' in text
    assert 'id="mb-address-error"' not in text, "a field without a problem shows none"
    with ctx.sessions() as s:
        assert list_mailboxes(s, now=NOW, settings=ctx.settings) == []
        assert entries(s, AuditFilter(action="mailboxes")) == []


def test_a_removal_is_confirmed_with_what_happens_to_the_leads_sending_from_it(
    ctx: Context, seeded: Seeded, site: str
) -> None:
    box = "rita@outreach.cadence.example"
    with ctx.sessions() as s, s.begin():
        mailbox = add_mailbox(s, box, rep_email=RITA, smtp_host="smtp.outreach.example", now=NOW, daily_cap=50)
        under_way = list(s.scalars(select(Enrollment).join(Lead).join(Rep, Lead.owner_id == Rep.id).where(
            Rep.email == RITA, Enrollment.state.in_(("active", "paused", "responded")))))  # fmt: skip
        assert under_way, "the seeded workspace gives Rita leads under way"
        for enrollment in under_way:
            enrollment.mailbox_id = mailbox.id
    with signed_in(site, MAX) as http:
        assert 'href="/mailboxes/remove?address=rita%40outreach.cadence.example"' in http.get("/mailboxes").text
        confirm = http.get("/mailboxes/remove", params={"address": box})
        assert confirm.status_code == 200
        n = len(under_way)
        said = (f"rita@cadence.example has no other mailbox: its {n} lead{'s' if n != 1 else ''} under way send "
                "their next emails through the SMTP server of the settings (CADENCE_SMTP_*)")  # fmt: skip
        assert said in confirm.text
        assert 'action="/mailboxes/remove"' in confirm.text
        with ctx.sessions() as s:
            assert get_mailbox(s, box).state == "active", "asking changes nothing"
        done = post_form(http, "/mailboxes/remove", {"address": box})
        assert done.status_code == 303
        assert f"{box} is removed. {said}" in http.get("/mailboxes").text
        missing = http.get("/mailboxes/remove", params={"address": box})
        assert missing.status_code == 404
        assert f"no sending mailbox {box}" in missing.text
    with ctx.sessions() as s:
        assert s.scalars(select(SendingMailbox.state)).one() == "removed"
        assert {e.mailbox_id for e in s.scalars(select(Enrollment))} == {None}
        [entry] = entries(s, AuditFilter(action="mailboxes.remove"))
        assert (entry.actor, entry.subject, entry.details["leads"]) == (MAX, box, n)


@pytest.mark.one_database
def test_reps_cannot_reach_the_add_and_remove_forms(ctx: Context, seeded: Seeded, site: str) -> None:
    box = "rita@outreach.cadence.example"
    with ctx.sessions() as s, s.begin():
        add_mailbox(s, box, rep_email=RITA, smtp_host="smtp.outreach.example", now=NOW, daily_cap=50)
    for email in (RITA, MIA):
        with signed_in(site, email) as http:
            assert http.get("/mailboxes/remove", params={"address": box}).status_code == 403
            assert (
                post_form(http, "/mailboxes/add", {**GOOD, "address": "x@outreach.cadence.example"}).status_code == 403
            )
            assert post_form(http, "/mailboxes/remove", {"address": box}).status_code == 403
    with ctx.sessions() as s:
        assert [m["address"] for m in list_mailboxes(s, now=NOW, settings=ctx.settings)] == [box]


@pytest.mark.one_database
def test_the_add_form_needs_the_sessions_csrf_token(ctx: Context, seeded: Seeded, site: str) -> None:
    with signed_in(site, MAX) as http:
        refused = http.post("/mailboxes/add", data={**GOOD, "csrf_token": "forged"})
    assert refused.status_code == 403
    with ctx.sessions() as s:
        assert list_mailboxes(s, now=NOW, settings=ctx.settings) == []
