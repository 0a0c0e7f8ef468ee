"""A rep's own contacts on the lead and task pages: a contact outside the cadence with its outcome, a note,
a snooze to a date; each through the one rule, stored with its author and time, shown on the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, LeadNote, Response, Task
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.snoozes import wake_snoozed
from tests.web.workspace import ADA, ANSWERS, NOW, RITA, SAM, Seeded, post_form, signed_in


def enrollments_of(ctx: Context, email: str) -> list[Enrollment]:
    with ctx.sessions() as s:
        lead = get_lead(s, email)
        return list(s.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id).order_by(Enrollment.id)))


def notes_of(ctx: Context, email: str) -> list[LeadNote]:
    with ctx.sessions() as s:
        lead = get_lead(s, email)
        return list(s.scalars(select(LeadNote).where(LeadNote.lead_id == lead.id).order_by(LeadNote.id)))


def timeline_of(page: str) -> str:
    return page.split('id="timeline-heading"')[1]


# -- a contact outside the cadence ------------------------------------------------------------------


def test_a_call_from_the_reps_own_phone_that_was_answered_stops_the_cadence_as_a_reply_does(
    ctx: Context, site: str, seeded: Seeded
) -> None:
    assert enrollments_of(ctx, ADA)[-1].state == "active"
    with signed_in(site, RITA) as http:
        done = post_form(
            http,
            f"/leads/{ADA}/contact",
            {"channel": "call", "outcome": "answered", "note": "Busy until Friday, call back then"},
        )
        assert done.status_code == 303, done.text
        page = http.get(f"/leads/{ADA}").text
    assert enrollments_of(ctx, ADA)[-1].state == "responded"
    with ctx.sessions() as s:
        lead = get_lead(s, ADA)
        response = s.scalars(select(Response).where(Response.lead_id == lead.id)).one()
        open_tasks = select(Task).where(Task.lead_id == lead.id, Task.status == "open", Task.channel == "reply")
        follow_up = s.scalars(open_tasks)
        assert (response.kind, response.channel) == ("call", "call")
        assert "Busy until Friday" in (response.note or "")
        assert [t.title for t in follow_up] == ["Follow up the call with Ada Lovelace: record the decision"]
    [note] = notes_of(ctx, ADA)
    assert (note.kind, note.channel, note.outcome, note.author) == ("contact", "call", "answered", RITA)
    assert note.created_at == NOW
    timeline = timeline_of(page)
    assert "Call from my own phone: Busy until Friday, call back then" in timeline
    assert f"by {RITA}" in timeline


def test_a_linkedin_message_without_an_answer_changes_nothing_but_the_timeline(
    ctx: Context, site: str, seeded: Seeded
) -> None:
    with signed_in(site, RITA) as http:
        done = post_form(http, f"/leads/{ADA}/contact", {"channel": "linkedin", "outcome": "no_answer", "note": ""})
        assert done.status_code == 303, done.text
        page = http.get(f"/leads/{ADA}").text
    assert enrollments_of(ctx, ADA)[-1].state == "active"
    with ctx.sessions() as s:
        assert s.scalars(select(Response).where(Response.lead_id == get_lead(s, ADA).id)).first() is None
    assert "LinkedIn message" in timeline_of(page)


def test_a_meeting_in_person_with_the_decision_records_both_through_the_rule(
    ctx: Context, site: str, seeded: Seeded
) -> None:
    form = {"channel": "meeting", "outcome": "answered", "decision": "meeting_booked", "reason": "Met at the fair",
            "note": "Wants a demo"} | {f"answer_{key}": value for key, value in ANSWERS.items()}  # fmt: skip
    with signed_in(site, RITA) as http:
        done = post_form(http, f"/leads/{ADA}/contact", form)
        assert done.status_code == 303, done.text
    assert enrollments_of(ctx, ADA)[-1].state == "decided"
    with ctx.sessions() as s:
        lead = get_lead(s, ADA)
        decision = s.scalars(select(Decision).where(Decision.lead_id == lead.id)).one()
        response = s.scalars(select(Response).where(Response.lead_id == lead.id)).one()
        assert (decision.outcome, decision.decided_by) == ("meeting_booked", RITA)
        assert (response.channel, response.note) == ("other", "Meeting in person: Wants a demo")


def test_a_decision_without_an_answer_from_the_lead_is_refused_and_nothing_is_kept(
    ctx: Context, site: str, seeded: Seeded
) -> None:
    form = {"channel": "call", "outcome": "no_answer", "decision": "not_interested", "reason": "Hung up"}
    with signed_in(site, RITA) as http:
        refused = post_form(http, f"/leads/{ADA}/contact", form)
        unknown = post_form(http, f"/leads/{ADA}/contact", {"channel": "fax", "outcome": "answered"})
    assert refused.status_code == 422
    assert "A decision needs an answer from the lead" in refused.text
    assert unknown.status_code == 422
    assert "Choose how you were in touch" in unknown.text
    assert notes_of(ctx, ADA) == []
    assert enrollments_of(ctx, ADA)[-1].state == "active"


def test_another_reps_lead_cannot_be_touched(ctx: Context, site: str, seeded: Seeded) -> None:
    with signed_in(site, SAM) as http:
        for path, form in (
            ("contact", {"channel": "call", "outcome": "answered"}),
            ("note", {"note": "mine now"}),
            ("snooze", {"until": "2027-03-01"}),
        ):
            assert post_form(http, f"/leads/{ADA}/{path}", form).status_code in (403, 404)
    assert notes_of(ctx, ADA) == []


# -- a note ---------------------------------------------------------------------------------------


def test_a_note_is_kept_with_its_author_and_time_and_shown_on_the_timeline(
    ctx: Context, site: str, seeded: Seeded
) -> None:
    with signed_in(site, RITA) as http:
        done = post_form(http, f"/leads/{ADA}/note", {"note": "Prefers mornings.\r\nAsk about the budget.",
                                                      "return_to": f"/tasks/{seeded.ada_call}"})  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"] == f"/tasks/{seeded.ada_call}"
        page = http.get(f"/tasks/{seeded.ada_call}").text
        empty = post_form(http, f"/leads/{ADA}/note", {"note": "  "})
    [note] = notes_of(ctx, ADA)
    assert (note.kind, note.text, note.author, note.created_at) == (
        "note", "Prefers mornings.\nAsk about the budget.", RITA, NOW)  # fmt: skip
    assert "Note: Prefers mornings." in timeline_of(page)
    assert empty.status_code == 422
    assert "Write the note." in empty.text


# -- a snooze -------------------------------------------------------------------------------------


def test_a_snoozed_lead_stops_wakes_on_the_day_and_is_enrolled_again(ctx: Context, site: str, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        done = post_form(http, f"/leads/{ADA}/snooze", {"until": "2027-03-01", "note": "Budget in March"})
        assert done.status_code == 303, done.text
        page = http.get(f"/leads/{ADA}").text
    with ctx.sessions() as s:
        lead = get_lead(s, ADA)
        assert lead.snoozed_until is not None
        # the start of the send window in New York on that day
        assert lead.snoozed_until.astimezone(UTC).date() == datetime(2027, 3, 1).date()
    assert enrollments_of(ctx, ADA)[-1].state == "responded"
    assert "Snoozed until 2027-03-01: Budget in March" in timeline_of(page)

    assert wake_snoozed(ctx, now=datetime(2027, 2, 28, tzinfo=UTC)).enrolled == []
    woken = wake_snoozed(ctx, now=datetime(2027, 3, 1, 18, tzinfo=UTC) + timedelta(minutes=1))
    assert woken.enrolled == [ADA], woken.as_dict()
    before, after = enrollments_of(ctx, ADA)[-2:]
    assert before.state == "completed"
    assert (after.cadence_name, after.state) == (ctx.settings.reengage_cadence, "active")


def test_a_snooze_to_a_day_gone_or_no_day_is_refused(ctx: Context, site: str, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        past = post_form(http, f"/leads/{ADA}/snooze", {"until": "2026-11-01"})
        none = post_form(http, f"/leads/{ADA}/snooze", {"until": ""})
    assert past.status_code == 422
    assert "The snooze must end on a day in the future." in past.text
    assert none.status_code == 422
    assert "Choose the day to wake the lead." in none.text
    with ctx.sessions() as s:
        assert get_lead(s, ADA).snoozed_until is None
    assert enrollments_of(ctx, ADA)[-1].state == "active"


# -- on the call task ------------------------------------------------------------------------------


def test_a_call_task_has_the_forms_and_adds_a_colleague_back_to_the_task(
    ctx: Context, site: str, seeded: Seeded
) -> None:
    task = f"/tasks/{seeded.ada_call}"
    with signed_in(site, RITA) as http:
        page = http.get(task).text
        for action in ("contact", "note", "snooze"):
            assert f'action="/leads/{ADA}/{action}"' in page
        assert f'action="{task}/colleague"' in page
        added = post_form(http, f"{task}/colleague", {"name": "Charles Babbage", "email":
                          "charles@analytical.example", "role": "approver"})  # fmt: skip
    assert added.status_code == 303, added.text
    assert added.headers["location"] == task
    with ctx.sessions() as s:
        owner = get_lead(s, "charles@analytical.example").owner
        assert owner is not None
        assert owner.email == RITA
