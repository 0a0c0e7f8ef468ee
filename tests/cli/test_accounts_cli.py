"""``cadence accounts``, ``cadence leads add-colleague`` and company-wide suppressions, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cadence.adapters.models import Account
from cadence.services.context import Context
from tests.conftest import Cli

NOW = "2026-11-23T14:00:00Z"
HEADER = (
    "email,first_name,last_name,title,company,industry,company_size,country,timezone,source,interactions,role,account"
)
LEADS = f"""{HEADER}
ann@globex.example,Ann,Ames,CTO,Globex,Software,500,US,America/New_York,webinar,3,decision_maker,
bob@globex.example,Bob,Burr,Engineer,"Globex, Inc.",Software,500,US,America/New_York,webinar,3,Decision-Maker?,
cy@gmail.com,Cy,Cole,VP Engineering,GLOBEX,Software,500,US,America/New_York,webinar,3,user,
dee@initech.example,Dee,Diaz,CTO,Initech,Software,500,US,America/New_York,webinar,3,,
eli@subsidiary.example,Eli,Eng,CTO,Initrode,Software,500,US,America/New_York,webinar,3,,Initech
"""


@pytest.fixture
def imported(run_cli: Cli, tmp_path: Path) -> Cli:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--now", NOW)
    run_cli("reps", "add", "sam@cadence.example", "--name", "Sam Rep", "--now", NOW)
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    report = run_cli("leads", "import", str(path), "--json", "--now", NOW).json()
    assert (report["imported"], report["rejected"]) == (5, 0)  # an unreadable role costs no lead its row
    return run_cli


def test_accounts_list_groups_colleagues_by_domain_and_company_name(imported: Cli) -> None:
    listed = imported("accounts", "list", "--json").json()
    accounts = {a["domain"]: a for a in listed}
    assert accounts["globex.example"]["contacts"] == 3  # ann and bob by domain, cy (gmail) by the company's name
    assert accounts["globex.example"]["account"] == "Globex"
    # Eli's explicit key "Initech" is an account of its own, named as written: not the domain initech.example
    assert sorted((a["account"], a["domain"]) for a in listed) == [
        ("Globex", "globex.example"), ("Initech", "initech.example"), ("Initech", "subsidiary.example")]  # fmt: skip
    text = imported("accounts", "list").stdout
    assert "Globex" in text
    assert "3 account(s)" in text


def test_accounts_show_gives_contacts_roles_coverage_and_one_owner(imported: Cli) -> None:
    shown = imported("accounts", "show", "globex.example", "--json").json()
    roles = {c["email"]: c["role"] for c in shown["contacts"]}
    assert roles == {"ann@globex.example": "decision_maker", "bob@globex.example": None, "cy@gmail.com": "user"}
    assert shown["coverage"]["decision_maker"] is True
    assert shown["coverage"]["approver"] is False
    assert "no approver known" in shown["coverage"]["gaps"]
    assert len({c["owner"] for c in shown["contacts"]}) == 1
    assert "approver unknown" in imported("accounts", "show", "Globex").stdout


def test_an_explicit_account_key_joins_leads_the_domain_would_not(imported: Cli) -> None:
    eli = imported("accounts", "show", "eli@subsidiary.example", "--json").json()
    dee = imported("accounts", "show", "dee@initech.example", "--json").json()
    assert eli["id"] != dee["id"]  # "Initech" as a key is not the domain initech.example: a person merges them
    imported("accounts", "merge", "eli@subsidiary.example", "initech.example", "--by", "mia@cadence.example")
    merged = imported("accounts", "show", "initech.example", "--json").json()
    assert sorted(c["email"] for c in merged["contacts"]) == ["dee@initech.example", "eli@subsidiary.example"]
    assert [(c["kind"], c["by"]) for c in merged["changes"]] == [("merge", "mia@cadence.example")]


def test_split_and_reassign_are_recorded(imported: Cli) -> None:
    imported("accounts", "split", "globex.example", "--contact", "cy@gmail.com", "--into", "Globex Retail")
    assert [c["email"] for c in imported("accounts", "show", "globex retail", "--json").json()["contacts"]] == [
        "cy@gmail.com"
    ]
    owner = imported("accounts", "show", "globex.example", "--json").json()["owner"]
    other = "sam@cadence.example" if owner == "rita@cadence.example" else "rita@cadence.example"
    out = imported("accounts", "reassign", "globex.example", "--to", other, "--by", "mia@cadence.example").stdout
    assert "2 contact(s) moved" in out
    shown = imported("accounts", "show", "globex.example", "--json").json()
    assert {c["owner"] for c in shown["contacts"]} == {other}
    assert [c["kind"] for c in shown["changes"]] == ["split", "reassign"]
    assert "no account" in imported("accounts", "show", "nowhere.example", expect=1).stderr


def test_add_colleague_joins_the_account_and_its_owner_with_a_role(imported: Cli) -> None:
    out = imported("leads", "add-colleague", "ann@globex.example", "--name", "Flo Finch", "--email",
                   "flo@globex.example", "--title", "CFO", "--role", "approver", "--referred", "--json",
                   "--now", NOW).json()  # fmt: skip
    assert out["account"] == "Globex"
    assert out["enrolled"] == "referral"
    assert out["referred_by"] == "ann@globex.example"
    shown = imported("accounts", "show", "globex.example", "--json").json()
    assert shown["coverage"]["approver"] is True
    assert {c["owner"] for c in shown["contacts"]} == {shown["owner"]}
    refused = imported("leads", "add-colleague", "ann@globex.example", "--name", "X", "--role", "boss", expect=1)
    assert "decision_maker, approver" in refused.stderr
    nothing = imported("leads", "add-colleague", "ann@globex.example", "--name", "Gil", expect=1)
    assert "needs an email address or a phone number" in nothing.stderr
    not_a_number = imported("leads", "add-colleague", "ann@globex.example", "--name", "Gil", "--phone", "555 0100",
                            expect=1)  # fmt: skip
    assert "phone '555 0100' is not a valid number" in not_a_number.stderr


def test_a_whole_company_is_suppressed_by_domain_or_by_one_of_its_leads(imported: Cli, tmp_path: Path) -> None:
    imported("suppress", "add", "--domain", "initech.example", "--reason", "asked by their legal team")
    imported("suppress", "add", "--company-of", "bob@globex.example", "--reason", "company-wide unsubscribe")
    values = {s["value"] for s in imported("suppress", "list", "--json").json()}
    assert values == {"@initech.example", "@globex.example"}
    (tmp_path / "more.csv").write_text(f"{HEADER}\ngus@gmail.com,Gus,Gray,CTO,Umbrella,Software,500,US,,webinar,3,,\n")
    imported("leads", "import", str(tmp_path / "more.csv"), "--now", NOW)
    refused = imported("suppress", "add", "--company-of", "gus@gmail.com", expect=1)
    assert "free-mail" in refused.stderr


def test_a_row_refused_for_want_of_a_rep_leaves_no_account_behind(run_cli: Cli, ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    report = run_cli("leads", "import", str(path), "--json", "--now", NOW, expect=3).json()
    assert report["rejected"] == 5
    assert {error["reason"] for error in report["errors"]} == {
        "no owner and no rep to assign: add one with `cadence reps add`"
    }
    with ctx.sessions() as s:
        assert s.scalars(select(Account)).all() == []
