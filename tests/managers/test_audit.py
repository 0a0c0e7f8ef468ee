"""The audit log: entries appended by logins and decisions, filters, the CLI, append-only on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from cadence.adapters.models import AuditEntry
from cadence.core.decisions import Outcome
from cadence.services import audit, users
from cadence.services.audit import AuditFilter
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead
from tests.conftest import Cli
from tests.managers.support import NOW, RITA, seed


def test_record_appends_an_entry_and_entries_filter_by_actor_action_and_dates(ctx: Context) -> None:
    with ctx.sessions.begin() as s:
        audit.record(s, "max@yourco.example", "reps.deactivate", "rita@yourco.example", {"moved": 3}, now=NOW)
        audit.record(s, "ann@yourco.example", "login.ok", "ann@yourco.example", now=NOW + timedelta(days=1))
        audit.record(s, "max@yourco.example", "login.failed", "max@yourco.example", now=NOW + timedelta(days=2))
    with ctx.sessions() as s:
        everything = audit.entries(s, AuditFilter())
        by_max = audit.entries(s, AuditFilter(actor="MAX@yourco.example"))
        logins = audit.entries(s, AuditFilter(action="login"))
        window = audit.entries(s, AuditFilter(since=NOW + timedelta(hours=1), until=NOW + timedelta(days=2)))
    assert [e.action for e in everything] == ["login.failed", "login.ok", "reps.deactivate"]
    assert [e.action for e in by_max] == ["login.failed", "reps.deactivate"]
    assert [e.action for e in logins] == ["login.failed", "login.ok"]
    assert [e.action for e in window] == ["login.ok"]
    assert everything[-1].details == {"moved": 3}


def test_record_keeps_control_characters_out_of_actor_and_subject(ctx: Context) -> None:
    with ctx.sessions.begin() as s:
        entry = audit.record(s, "evil\r\nactor", "login.failed", "x\ny", now=NOW)
    assert (entry.actor, entry.subject) == ("evil  actor", "x y")


def test_a_login_that_fails_and_one_that_succeeds_are_both_in_the_log(ctx: Context) -> None:
    with ctx.sessions.begin() as s:
        users.add_user(s, "max@yourco.example", role="manager", password="a-long-enough-password", now=NOW)
    assert users.log_in(ctx.sessions, "max@yourco.example", "wrong-password!", client="10.0.0.1", now=NOW) is None
    assert users.log_in(ctx.sessions, "max@yourco.example", "a-long-enough-password", client="10.0.0.1", now=NOW)
    with ctx.sessions() as s:
        found = [(e.actor, e.action, e.details.get("client")) for e in audit.entries(s, AuditFilter(action="login"))]
    assert sorted(found) == [
        ("max@yourco.example", "login.failed", "10.0.0.1"),
        ("max@yourco.example", "login.ok", "10.0.0.1"),
    ]


def test_a_decision_and_its_correction_are_in_the_log_with_who_made_them(ctx: Context) -> None:
    seed(ctx, {"ana@acme.example": RITA})
    with ctx.sessions.begin() as s:
        lead = get_lead(s, "ana@acme.example")
        decide(s, lead, Outcome.NOT_INTERESTED, now=NOW, reason="budget frozen", decided_by=RITA)
    with ctx.sessions.begin() as s:
        lead = get_lead(s, "ana@acme.example")
        decide(
            s, lead, Outcome.BAD_FIT, now=NOW + timedelta(hours=1), reason="a student", decided_by="max@yourco.example"
        )
    with ctx.sessions() as s:
        found = audit.entries(s, AuditFilter(action="decision"))
    assert [(e.actor, e.action, e.subject) for e in found] == [
        ("max@yourco.example", "decision.correct", "ana@acme.example"),
        (RITA, "decision.record", "ana@acme.example"),
    ]
    assert found[0].details["replaces"] == ["not_interested"]


def test_cadence_audit_list_filters_and_prints_json(run_cli: Cli, ctx: Context) -> None:
    with ctx.sessions.begin() as s:
        audit.record(s, "max@yourco.example", "reps.edit", "rita@yourco.example", {"name": "Rita A."}, now=NOW)
        audit.record(s, "ann@yourco.example", "login.ok", "ann@yourco.example", now=NOW + timedelta(days=3))
    text_out = run_cli("audit", "list").stdout
    assert "reps.edit" in text_out
    assert "login.ok" in text_out
    since = run_cli("audit", "list", "--since", "2026-11-25", "--json").json()
    assert [e["action"] for e in since] == ["login.ok"]
    by_actor = run_cli("audit", "list", "--actor", "max@yourco.example", "--json").json()
    assert by_actor == [
        {
            "at": NOW.isoformat(),
            "actor": "max@yourco.example",
            "action": "reps.edit",
            "subject": "rita@yourco.example",
            "details": {"name": "Rita A."},
        }
    ]
    assert run_cli("audit", "list", "--action", "erase").stdout.strip() == "no audit entries match"
    bad = run_cli("audit", "list", "--since", "last week", expect=1)
    assert "--since" in bad.stderr


# The trigger exists on PostgreSQL only; on SQLite the application's insert-only code is what holds.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_refuses_to_update_or_delete_an_audit_entry(ctx: Context) -> None:
    with ctx.sessions.begin() as s:
        audit.record(s, "max@yourco.example", "leads.erase", "h:abc", now=NOW)
    for statement in (update(AuditEntry).values(actor="someone else"), text("DELETE FROM audit_log")):
        with pytest.raises(DBAPIError, match="append-only"), ctx.sessions.begin() as s:
            s.execute(statement)
    with ctx.sessions() as s:
        assert s.scalars(select(AuditEntry.actor)).all() == ["max@yourco.example"]


def test_api_keys_and_webhooks_changes_are_in_the_audit_log(ctx: Context) -> None:
    from cadence.services.api_keys import Scope, create_key, revoke_key
    from cadence.services.webhooks.subscriptions import add_subscription, remove_subscription, set_active

    with ctx.sessions.begin() as s:
        create_key(s, "crm sync", Scope.INTAKE, now=NOW, actor="max@yourco.example")
        revoke_key(s, "crm sync", now=NOW, actor="max@yourco.example")
        created = add_subscription(
            s, "https://crm.example/hooks", ["lead.created"], now=NOW, actor="max@yourco.example"
        )
        set_active(s, created.id, False, now=NOW, actor="max@yourco.example")
        remove_subscription(s, created.id, now=NOW, actor="max@yourco.example")
    with ctx.sessions() as s:
        found = [(e.action, e.subject) for e in audit.entries(s, AuditFilter(actor="max@yourco.example"))]
    assert sorted(found) == [
        ("api_keys.create", "crm sync"),
        ("api_keys.revoke", "crm sync"),
        ("webhooks.add", "https://crm.example/hooks"),
        ("webhooks.pause", "https://crm.example/hooks"),
        ("webhooks.remove", "https://crm.example/hooks"),
    ]
