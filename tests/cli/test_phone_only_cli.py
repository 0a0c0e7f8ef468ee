"""``cadence leads add-colleague --phone`` without an address, and ``#ID`` references, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli

NOW = "2026-11-23T14:00:00Z"
LEADS = """email,first_name,last_name,title,company,industry,company_size,country,timezone,source,interactions
ann@globex.example,Ann,Ames,CTO,Globex,Software,500,US,America/New_York,webinar,3
"""


@pytest.fixture
def imported(run_cli: Cli, tmp_path: Path) -> Cli:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--now", NOW)
    path = tmp_path / "leads.csv"
    path.write_text(LEADS)
    run_cli("leads", "import", str(path), "--now", NOW)
    return run_cli


def test_a_colleague_is_added_with_a_name_and_a_phone_and_shown_by_hash_id(imported: Cli) -> None:
    out = imported("leads", "add-colleague", "ann@globex.example", "--name", "Gil Grant", "--phone", "212-555-0100",
                   "--role", "approver", "--now", NOW).stdout  # fmt: skip
    added = imported("accounts", "show", "globex.example", "--json").json()["contacts"]
    gil = next(c for c in added if c["name"] == "Gil Grant")
    assert out.strip() == f"added Gil Grant (+12125550100), {gil['ref']} to Globex (owner rita@cadence.example)" + (
        ", not enrolled"  # a name: no interaction yet
    )
    assert (gil["email"], gil["phone"], gil["owner"]) == (None, "+12125550100", "rita@cadence.example")
    shown = imported("leads", "show", gil["ref"]).stdout
    assert shown.startswith("Gil Grant <+12125550100>  Globex\n")
    assert f"known by phone only: refer to it as {gil['ref']}" in shown
    assert "None" not in shown
    assert imported("leads", "show", gil["ref"], "--json").json()["email"] is None
    listed = imported("leads", "list").stdout
    assert gil["ref"] in listed
    assert "None" not in listed
    account = imported("accounts", "show", "globex.example").stdout
    assert "+12125550100" in account
    assert "None" not in account
    ann_id = imported("leads", "show", "ann@globex.example", "--json").json()["id"]
    assert imported("leads", "show", f"#{ann_id}", "--json").json()["email"] == "ann@globex.example"
    assert "no lead #424242" in imported("leads", "show", "#424242", expect=1).stderr


def test_the_same_phone_twice_is_refused_with_the_lead_it_belongs_to(imported: Cli) -> None:
    first = imported("leads", "add-colleague", "ann@globex.example", "--name", "Gil Grant", "--phone",
                     "+1 212 555 0100", "--json", "--now", NOW).json()  # fmt: skip
    again = imported("leads", "add-colleague", "ann@globex.example", "--name", "Gil", "--phone", "(212) 555-0100",
                     "--now", NOW, expect=1)  # fmt: skip
    assert again.stderr.strip() == (
        f"error: +12125550100 is the phone of Gil Grant ({first['reference']}) at this account already: "
        f"no second lead was added; see `cadence leads show '{first['reference']}'`"
    )
    assert len(imported("accounts", "show", "globex.example", "--json").json()["contacts"]) == 2
