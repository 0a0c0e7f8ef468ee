"""The managers' page of sending mailboxes and paused cadences."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cadence.adapters.models import CadencePause
from cadence.services.context import Context
from cadence.services.mailboxes import add_mailbox, get_mailbox, pause_mailbox
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
