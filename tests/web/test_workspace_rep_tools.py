"""What a rep needs on a task and a lead page: the number to dial, the call script, the answers still
missing, a folded decision form, the lead's details to correct, and the full text of each email sent."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from cadence.adapters.models import Lead
from cadence.core.decisions import QUALIFYING_QUESTIONS
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from tests.web.workspace import ADA, DEE, EVE, MAX, MIA, RITA, SAM, Seeded, post_form, signed_in


def lead_row(ctx: Context, email: str) -> Lead:
    with ctx.sessions() as s:
        return get_lead(s, email)


def details_blocks(html: str) -> Iterator[tuple[str, str, str]]:
    """(attributes, summary, body) of each ``<details>`` of the page."""
    for found in re.finditer(r"<details([^>]*)>\s*<summary>(.*?)</summary>(.*?)</details>", html, re.S):
        yield found.group(1), found.group(2), found.group(3)


# -- a call task ---------------------------------------------------------------------------------


def test_a_call_task_shows_the_number_as_a_tel_link_the_script_and_every_missing_answer(
    site: str, seeded: Seeded
) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/tasks/{seeded.ada_call}").text
    assert '<p class="dial"><strong>Call</strong> <a href="tel:+12125550100">+1 212 555 0100</a>' in page
    assert "<h3>Call script</h3>" in page
    script = page.split("<h3>Call script</h3>")[1].split("</pre>")[0]
    assert "Discovery call: Ada Lovelace" in script  # the task's instructions
    missing = page.split("<h3>Still to find out</h3>")[1].split("</ul>")[0]
    assert re.findall(r"<li>(.*?)</li>", missing) == [question for _, question in QUALIFYING_QUESTIONS]


def test_a_call_task_says_when_there_is_no_number_to_dial(site: str, seeded: Seeded) -> None:
    with signed_in(site, SAM) as http:
        page = http.get(f"/tasks/{seeded.dee_call}").text
    assert "No phone number on file" in page
    assert 'href="tel:' not in page


def test_a_lead_with_every_answer_has_nothing_left_to_find_out(ctx: Context, site: str, seeded: Seeded) -> None:
    with signed_in(site, MAX) as http:
        page = http.get(f"/leads/{EVE}").text  # decided meeting_booked with every answer
    assert "answer to committed" in page
    with ctx.sessions() as s:
        from cadence.services.workspace.leads import lead_details

        assert lead_details(s, get_lead(s, EVE), ctx.settings)["missing_answers"] == []


# -- the decision form is folded -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/tasks/{ada_call}", f"/leads/{ADA}"])
def test_the_decision_form_is_folded_until_asked_for(site: str, seeded: Seeded, path: str) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(path.format(ada_call=seeded.ada_call)).text
    folded = [(attrs, body) for attrs, _, body in details_blocks(page) if 'name="decision"' in body]
    assert len(folded) == 1
    attrs, _ = folded[0]
    assert "open" not in attrs
    outside = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    assert 'name="decision"' not in outside


def test_a_refused_decision_is_shown_again_unfolded(site: str) -> None:
    with signed_in(site, RITA) as http:
        response = post_form(http, f"/leads/{ADA}/decision", {"decision": "meeting_booked", "reason": ""})
    assert response.status_code == 422
    opened = [attrs for attrs, _, body in details_blocks(response.text) if 'name="decision"' in body]
    assert opened == [" open"]


# -- editing a lead's details ---------------------------------------------------------------------


def test_a_rep_corrects_their_leads_details(ctx: Context, site: str) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/leads/{ADA}").text
        assert 'action="/leads/ada@analytical.example/edit"' in page
        response = post_form(
            http,
            f"/leads/{ADA}/edit",
            {"title": "  Chief Analyst ", "phone": "+44 20 7946 0958", "timezone": "Europe/London", "country": "gb"},
        )
        assert (response.status_code, response.headers["location"]) == (303, f"/leads/{ADA}")
        page = http.get(f"/leads/{ADA}").text
    assert "Saved ada@analytical.example: title, phone, country (two-letter code), time zone" in page
    lead = lead_row(ctx, ADA)
    assert (lead.title, lead.phone, lead.timezone, lead.country) == (
        "Chief Analyst",
        "+44 20 7946 0958",
        "Europe/London",
        "GB",
    )
    assert lead.first_name == "Ada"  # untouched fields keep their values
    assert '<a href="tel:+442079460958">+44 20 7946 0958</a>' in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "call me maybe", "phone &#39;call me maybe&#39; is not a phone number"),
        ("timezone", "Mars/Olympus", "Mars/Olympus"),
        ("country", "Britain", "must be a two-letter ISO code"),
        ("company_size", "lots", "company_size must be a whole number"),
        ("first_name", "Ada\x07", "first_name contains control characters"),
        ("linkedin_url", "https://evil.example/ada", "is not a LinkedIn URL"),
    ],
)
def test_a_wrong_value_is_refused_with_its_reason_and_nothing_changes(
    ctx: Context, site: str, field: str, value: str, message: str
) -> None:
    before = lead_row(ctx, ADA)
    with signed_in(site, RITA) as http:
        response = post_form(http, f"/leads/{ADA}/edit", {"form": "edit", "title": "Changed", field: value})
    assert response.status_code == 422
    assert '<p class="error" role="alert">' in response.text
    assert message in response.text
    assert "Traceback" not in response.text
    edit = [attrs for attrs, summary, _ in details_blocks(response.text) if "Edit the lead" in summary]
    assert edit == [' class="edit" open']  # shown again, with what was typed
    assert 'value="Changed"' in response.text
    after = lead_row(ctx, ADA)
    assert (after.title, after.phone, after.timezone) == (before.title, before.phone, before.timezone)


def test_only_who_may_change_a_lead_may_edit_it(ctx: Context, site: str) -> None:
    with signed_in(site, MIA) as http:  # marketers read leads, never change them
        assert post_form(http, f"/leads/{ADA}/edit", {"title": "x"}).status_code == 403
    with signed_in(site, SAM) as http:  # another rep's lead does not exist for Sam
        assert post_form(http, f"/leads/{ADA}/edit", {"title": "x"}).status_code == 404
    with signed_in(site, MAX) as http:
        assert post_form(http, f"/leads/{DEE}/edit", {"title": "Head of Ops"}).status_code == 303
    assert lead_row(ctx, ADA).title != "x"
    assert lead_row(ctx, DEE).title == "Head of Ops"


def test_an_edit_from_a_task_page_returns_to_the_task(site: str, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/tasks/{seeded.ada_call}").text
        assert f'name="return_to" value="/tasks/{seeded.ada_call}"' in page
        response = post_form(
            http, f"/leads/{ADA}/edit", {"phone": "+1 212 555 0199", "return_to": f"/tasks/{seeded.ada_call}"}
        )
    assert (response.status_code, response.headers["location"]) == (303, f"/tasks/{seeded.ada_call}")


# -- the full text of each email sent --------------------------------------------------------------


def test_each_sent_email_can_be_read_in_full_labelled_as_re_rendered(site: str) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/leads/{ADA}").text
    emails = [body for _, summary, body in details_blocks(page) if summary.startswith("Read “")]
    assert len(emails) == 2
    for body in emails:
        assert "Re-rendered: the text of a sent email is not stored." in body
        assert "sent with version v1, so the wording may differ" in body  # the seed's version is not today's
        text = body.split("<pre>")[1].split("</pre>")[0]
        assert text.startswith("Hi Ada,")
        assert "unsubscribe here: http" in text
    assert page.count(">read it</a>") == 2
