"""Accounts in the workspace: the page linked from a lead's, a colleague added from it, a manager's reassignment."""

from __future__ import annotations

import re

from sqlalchemy import select

from cadence.adapters.models import Lead, Task
from cadence.services.context import Context
from tests.web.workspace import ADA, DEE, MAX, MIA, RITA, SAM, Seeded, post_form, signed_in


def account_id(ctx: Context, email: str) -> int:
    with ctx.sessions() as s:
        found = s.scalar(select(Lead.account_id).where(Lead.email == email))
    assert found is not None
    return found


def test_the_lead_page_links_its_account_whose_page_shows_contacts_and_coverage(site: str, ctx: Context) -> None:
    number = account_id(ctx, ADA)
    with signed_in(site, RITA) as http:
        lead_page = http.get(f"/leads/{ADA}").text
        assert f'<a href="/accounts/{number}">' in lead_page
        page = http.get(f"/accounts/{number}")
    assert page.status_code == 200
    assert "<dt>Decision maker</dt><dd>not known yet</dd>" in page.text
    assert f'<a href="/leads/{ADA}">Ada Lovelace</a>' in page.text
    assert "/reassign" not in page.text  # a rep does not reassign
    with signed_in(site, SAM) as http:
        assert http.get(f"/accounts/{number}").status_code == 404  # another rep's account looks like none


def test_a_rep_adds_a_colleague_from_the_lead_page_into_the_same_account_and_owner(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        colleague = {"name": "Charles Babbage", "email": "charles@analytical.example", "title": "CEO",
                     "role": "decision_maker", "referred": "yes"}  # fmt: skip
        done = post_form(http, f"/leads/{ADA}/colleague", colleague)
        assert done.status_code in (200, 303)
        page = http.get(f"/accounts/{account_id(ctx, ADA)}").text
    assert "<dt>Decision maker</dt><dd>known</dd>" in page
    assert "referred by ada@analytical.example" in page
    with ctx.sessions() as s:
        ada = s.scalars(select(Lead).where(Lead.email == ADA)).one()
        charles = s.scalars(select(Lead).where(Lead.email == "charles@analytical.example")).one()
        assert (charles.account_id, charles.owner_id, charles.referred_by_id) == (ada.account_id, ada.owner_id, ada.id)
    with signed_in(site, RITA) as http:
        refused = post_form(http, f"/leads/{ADA}/colleague", {"name": "No Address", "email": "", "role": "user"})
    assert refused.status_code == 422
    assert "needs an email address or a phone number" in refused.text
    with signed_in(site, MIA) as http:  # a marketer reads, never adds
        assert (
            post_form(http, f"/leads/{ADA}/colleague", {"name": "X", "email": "x@analytical.example"}).status_code
            == 403
        )


def test_a_manager_reassigns_an_account_and_its_open_tasks_follow(site: str, ctx: Context) -> None:
    number = account_id(ctx, ADA)
    with signed_in(site, MAX) as http:
        page = http.get(f"/accounts/{number}").text
        assert f'action="/accounts/{number}/reassign"' in page
        done = post_form(http, f"/accounts/{number}/reassign", {"rep": SAM})
        assert done.status_code in (200, 303)
        assert re.search(r"reassign by max@cadence\.example", http.get(f"/accounts/{number}").text)
    with ctx.sessions() as s:
        ada = s.scalars(select(Lead).where(Lead.email == ADA)).one()
        assert ada.owner is not None
        assert ada.owner.email == SAM
        open_tasks = s.scalars(select(Task).where(Task.lead_id == ada.id, Task.status == "open")).all()
        assert open_tasks
        assert {t.owner.email if t.owner else None for t in open_tasks} == {SAM}
    with signed_in(site, RITA) as http:
        assert post_form(http, f"/accounts/{number}/reassign", {"rep": RITA}).status_code in (403, 404)
    assert DEE  # Sam's own lead stays his


def test_a_rep_puts_a_lead_in_an_account_by_its_key_and_the_move_is_recorded(site: str, ctx: Context) -> None:
    before = account_id(ctx, ADA)
    with signed_in(site, RITA) as http:
        assert post_form(http, f"/leads/{ADA}/account", {"key": "Analytical Group"}).status_code in (200, 303)
        moved = account_id(ctx, ADA)
        page = http.get(f"/accounts/{moved}").text
    assert moved != before
    assert "<h1>Analytical Group</h1>" in page
    assert "move by rita@cadence.example" in page


def test_a_colleague_added_from_a_call_task_is_then_named_as_who_decides(
    site: str, ctx: Context, seeded: Seeded
) -> None:
    task = f"/tasks/{seeded.ada_call}"
    charles = "charles@analytical.example"
    with signed_in(site, RITA) as http:
        assert f'action="{task}/colleague"' in http.get(task).text
        done = post_form(http, f"{task}/colleague", {"name": "Charles Babbage", "email": charles, "title": "CEO"})
        assert done.status_code in (200, 303)
        page = http.get(task).text
        assert "Added charles@analytical.example to" in page
        assert f'<option value="@lead:{charles}">Charles Babbage ({charles})</option>' in page  # who decides: pick him
        refused = post_form(http, f"{task}/colleague", {"name": "Charles Again", "email": charles})
        assert refused.status_code == 422
        assert "is a lead already" in refused.text
        assert "Add a colleague they named" in refused.text  # the task page again, with the reason
        answered = post_form(http, task, {"outcome": "connected", "answer_decides": f"@lead:{charles}"})
        assert answered.status_code in (200, 303)
        account = http.get(f"/accounts/{account_id(ctx, ADA)}").text
    assert "<dt>Decision maker</dt><dd>known</dd>" in account
    with ctx.sessions() as s:
        ada = s.scalars(select(Lead).where(Lead.email == ADA)).one()
        added = s.scalars(select(Lead).where(Lead.email == charles)).one()
        assert (added.account_id, added.owner_id, added.buying_role) == (ada.account_id, ada.owner_id, "decision_maker")
    with signed_in(site, SAM) as http:  # another rep's task looks like none
        assert post_form(http, f"{task}/colleague", {"name": "X", "email": "x@analytical.example"}).status_code == 404
    with signed_in(site, MIA) as http:  # a marketer reads, never adds
        assert post_form(http, f"{task}/colleague", {"name": "X", "email": "x@analytical.example"}).status_code == 403


def test_a_colleague_known_only_by_phone_is_added_from_the_lead_page_and_from_a_call_task(
    site: str, ctx: Context, seeded: Seeded
) -> None:
    with signed_in(site, RITA) as http:
        done = post_form(http, f"/leads/{ADA}/colleague", {"name": "Charles Babbage", "email": "",
                                                           "phone": "(212) 555-0142", "role": "approver"})  # fmt: skip
        assert done.status_code in (200, 303)
        assert "Added Charles Babbage (+12125550142) to" in http.get(f"/leads/{ADA}").text
        with ctx.sessions() as s:
            ada = s.scalars(select(Lead).where(Lead.email == ADA)).one()
            charles = s.scalars(select(Lead).where(Lead.phone == "+12125550142")).one()
            assert (charles.email, charles.account_id, charles.owner_id) == (None, ada.account_id, ada.owner_id)
        account = http.get(f"/accounts/{account_id(ctx, ADA)}").text
        assert f'<a href="/leads/%23{charles.id}">Charles Babbage</a>' in account
        assert "phone only: +12125550142" in account
        assert "None" not in account
        page = http.get(f"/leads/%23{charles.id}")
        assert page.status_code == 200
        assert f'known by phone only (<a href="/leads/%23{charles.id}">#{charles.id}</a>)' in page.text
        assert "tel:+12125550142" in page.text
        edited = post_form(http, f"/leads/%23{charles.id}/edit", {"title": "CFO", "phone": "+1 212 555 0142"})
        assert edited.status_code in (200, 303)
        assert f"Saved #{charles.id}: title." in http.get(f"/leads/%23{charles.id}").text
        emptied = post_form(http, f"/leads/%23{charles.id}/edit", {"phone": ""})
        assert emptied.status_code == 422
        assert "give an email address or a phone number" in emptied.text  # the only way to reach them stays
        again = post_form(http, f"/leads/{ADA}/colleague", {"name": "Charles B.", "phone": "+1 212 555 0142"})
        assert again.status_code == 422
        assert f"+12125550142 is the phone of Charles Babbage (#{charles.id}) at this account already" in again.text
        ada_number = post_form(http, f"/leads/{ADA}/colleague", {"name": "Ada Again", "phone": "212.555.0100"})
        assert "is the phone of Ada Lovelace (ada@analytical.example)" in ada_number.text  # imported as +1 212 555 0100
        task = f"/tasks/{seeded.ada_call}"
        done = post_form(http, f"{task}/colleague", {"name": "Grace Hopper", "phone": "+1 212 555 0143"})
        assert done.status_code in (200, 303)
        page = http.get(task).text
        assert "Added Grace Hopper (+12125550143) to" in page
        with ctx.sessions() as s:
            grace = s.scalars(select(Lead).where(Lead.phone == "+12125550143")).one()
        assert f'<option value="@lead:#{grace.id}">Grace Hopper (+12125550143)</option>' in page  # who decides
