"""Undoing what a reply's intent did on its own, on both databases: each action is on the lead's timeline with
its evidence; its owner undoes it, the undo is recorded and the lead's state restored where it can be."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, Lead, Suppression, Task
from cadence.core.intent import Referral
from cadence.services.context import Context
from cadence.services.suppression import is_suppressed
from tests.conftest import Cli
from tests.stages.conftest import LEAD, MONDAY, lead_of, reply

LATER = "2026-12-09T15:00:00Z"


def actions(run_cli: Cli) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = run_cli("leads", "show", LEAD, "--json").json()["actions"]
    return shown


def undo(run_cli: Cli, action_id: int, expect: int = 0) -> Any:
    return run_cli("leads", "undo", LEAD, str(action_id), "--by", "rita@cadence.example", "--now", LATER, "--json",
                   expect=expect)  # fmt: skip


def test_a_snooze_is_on_the_timeline_with_its_evidence_and_its_owner_undoes_it(seeded: Context, run_cli: Cli) -> None:
    reply(seeded, "not_now", at=MONDAY, named=date(2027, 3, 1))
    [action] = actions(run_cli)
    assert action["kind"] == "snooze"
    assert action["summary"].startswith("snoozed until 2027-03-01")
    assert action["evidence"] == ["read as not_now, confidence 0.95", "words of not_now"]
    assert action["undone_at"] is None
    done = undo(run_cli, action["id"]).json()
    assert done["undone"] == "the snooze ended; nothing re-enrolls the lead"
    with seeded.sessions() as s:
        lead = lead_of(s)
        assert (lead.snoozed_until, lead.snooze_cadence) == (None, None)
        [task] = s.scalars(select(Task).where(Task.status == "open")).all()
        assert task.title == "Answer Lead0 Tester's reply by hand: an automatic action was undone"
    [after] = actions(run_cli)
    assert (after["undone_by"], after["undone_at"]) == ("rita@cadence.example", "2026-12-09T15:00:00+00:00")
    again = undo(run_cli, action["id"], expect=1)
    assert "was undone already" in again.stderr
    assert "action " in run_cli("leads", "show", LEAD).stdout


def test_a_decision_and_a_suppression_from_a_refusal_are_undone_one_by_one(seeded: Context, run_cli: Cli) -> None:
    reply(seeded, "not_interested", at=MONDAY, note="Please take me off your list")
    decision, suppression = actions(run_cli)
    assert (decision["kind"], suppression["kind"]) == ("decision", "suppression")
    assert decision["summary"] == "decided not_interested"
    with seeded.sessions() as s:
        assert lead_of(s).status == "decided"
        assert is_suppressed(s, LEAD)
    assert "the enrollment is back to responded" in undo(run_cli, decision["id"]).json()["undone"]
    with seeded.sessions() as s:
        lead = lead_of(s)
        assert lead.status == "responded"
        assert s.scalars(select(Enrollment)).one().state == "responded"
        assert all(d.superseded_at is not None for d in s.scalars(select(Decision)))
        assert is_suppressed(s, LEAD)
    assert undo(run_cli, suppression["id"]).json()["undone"] == f"{LEAD} is no longer suppressed"
    with seeded.sessions() as s:
        assert not is_suppressed(s, LEAD)
        assert s.scalars(select(Suppression)).all() == []


def test_an_unsubscribe_request_read_wrongly_is_undone(seeded: Context, run_cli: Cli) -> None:
    reply(seeded, "unsubscribe_request", at=MONDAY)
    kinds = {a["kind"]: a["id"] for a in actions(run_cli)}
    assert set(kinds) == {"decision", "suppression"}
    undo(run_cli, kinds["suppression"])
    undo(run_cli, kinds["decision"])
    with seeded.sessions() as s:
        assert lead_of(s).status == "responded"
        assert not is_suppressed(s, LEAD)


def test_a_referral_lead_created_by_a_reply_is_stopped_when_undone(seeded: Context, run_cli: Cli) -> None:
    named = Referral(name="Jo Smith", email="jo@acme.example")
    reply(seeded, "referral", at=MONDAY, referral=named)
    [action] = actions(run_cli)
    assert (action["kind"], action["summary"]) == ("referral", "added the referral jo@acme.example")
    assert undo(run_cli, action["id"]).json()["undone"] == "jo@acme.example decided wrong_contact: its cadence stopped"
    with seeded.sessions() as s:
        jo = s.scalars(select(Lead).where(Lead.email == "jo@acme.example")).one()
        assert jo.status == "decided"
        decision = s.scalars(select(Decision).where(Decision.lead_id == jo.id)).one()
        assert decision.outcome == "wrong_contact"
        assert decision.reason == "the referral was undone by rita@cadence.example"


def test_an_action_of_another_lead_or_none_is_refused(seeded: Context, run_cli: Cli) -> None:
    refused = undo(run_cli, 999, expect=1)
    assert f"{LEAD} has no automatic action 999" in refused.stderr


def test_an_interested_reply_does_nothing_on_its_own_to_undo(seeded: Context, run_cli: Cli) -> None:
    reply(seeded, "interested", at=MONDAY + timedelta(hours=1))
    assert actions(run_cli) == []
