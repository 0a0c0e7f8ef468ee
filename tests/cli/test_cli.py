"""The ``cadence`` CLI end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from tests.conftest import Cli

NOW = "2026-11-23T14:00:00+00:00"  # a Monday

LEADS_CSV = """\
Email,First Name,Last Name,Title,Company,Industry,Company Size,Country,Timezone,Source,Interactions,Favourite Colour
ada@acme.example,Ada,Lovelace,VP Engineering,Acme,Software,500,US,America/New_York,webinar,3,blue
bob@beta.example,Bob,Builder,Head of Operations,Beta,Manufacturing,50,FR,Europe/Paris,target_list,2,
carl@gamma.example,Carl,Gauss,Director,Gamma,Software,50,DE,Europe/Berlin,webinar,1,
dina@delta.example,Dina,Dee,Student,Delta,Retail,5,GB,Europe/London,contact_request,1,
bad-email,X,Y,,,,,,,,,
"""
WARNED_ROWS = """\
eve@eps.example,Eve,Ep,CTO,Eps,Software,900,JP,Mars/Olympus,webinar,4,
fay@phi.example,Fay,Phi,CEO,Phi,Software,100,US,America/Chicago,webinar,many,
"""


@pytest.fixture
def with_reps(run_cli: Cli) -> Cli:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--timezone", "America/Chicago", "--now", NOW)
    run_cli("reps", "add", "sam@cadence.example", "--name", "Sam Rep", "--now", NOW)
    return run_cli


def write(tmp_path: Path, text: str, name: str = "leads.csv", *, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_init_creates_the_schema_and_is_idempotent(run_cli: Cli) -> None:
    first = run_cli("init")
    again = run_cli("init")
    assert "up to date" in first.stdout
    assert "up to date" in again.stdout


def test_a_command_on_an_empty_database_says_to_run_init(tmp_path: Path, run_cli: Cli) -> None:
    run_cli.env["CADENCE_DATABASE_URL"] = f"sqlite:///{tmp_path}/empty/new.db"
    result = run_cli("reps", "list", expect=1)
    assert "cadence init" in result.stderr
    run_cli("init")
    assert (tmp_path / "empty" / "new.db").exists()
    assert "no reps yet" in run_cli("reps", "list").stdout


def test_an_unknown_default_time_zone_is_a_bad_setting(run_cli: Cli) -> None:
    run_cli("init")
    run_cli.env["CADENCE_DEFAULT_TIMEZONE"] = "Nowhere/City"
    result = run_cli("leads", "list", expect=1)
    assert "bad setting" in result.stderr
    assert "unknown time zone" in result.stderr


def test_the_default_time_zone_is_not_looked_up_at_every_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from cadence.core import leads
    from cadence.settings import Settings

    def listed() -> set[str]:
        raise AssertionError("the time zones were listed")

    monkeypatch.setattr(leads, "_ZONES", None)
    monkeypatch.setattr(leads, "available_timezones", listed)
    monkeypatch.delenv("CADENCE_DEFAULT_TIMEZONE", raising=False)
    assert Settings().default_timezone == "UTC"


def test_reps_are_added_listed_and_not_duplicated(with_reps: Cli) -> None:
    reps = with_reps("reps", "list", "--json").json()
    assert [r["email"] for r in reps] == ["rita@cadence.example", "sam@cadence.example"]
    assert reps[0]["timezone"] == "America/Chicago"
    duplicate = with_reps("reps", "add", "RITA@cadence.example", "--name", "Again", expect=1)
    assert "exists already" in duplicate.stderr
    bad_zone = with_reps("reps", "add", "x@cadence.example", "--name", "X", "--timezone", "Nowhere/City", expect=1)
    assert "unknown time zone" in bad_zone.stderr


def test_import_takes_good_rows_rejects_bad_ones_with_row_numbers(with_reps: Cli, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    result = with_reps(
        "leads", "import", str(write(tmp_path, LEADS_CSV + WARNED_ROWS)), "--rejects", str(rejects), "--json",
        "--now", NOW, expect=3,
    )  # fmt: skip
    report = result.json()
    assert report["imported"] == 6
    assert report["rejected"] == 1  # only a row without a usable email is rejected
    assert report["names"] == 2  # carl: one interaction; fay: "many" is no count, so none
    assert report["enrolled"] == 4  # ada (A), bob (C), dina (inbound), eve (A, without a time zone)
    reasons = {e["row"]: e["reason"] for e in report["errors"]}
    assert set(reasons) == {6}
    assert "email" in reasons[6]
    warnings = {w["row"]: w["warning"] for w in report["warnings"]}
    assert set(warnings) == {7, 8}
    assert report["warned"] == 2
    assert "unknown time zone 'Mars/Olympus'" in warnings[7]
    assert "timezone left empty" in warnings[7]
    assert warnings[8] == "interactions must be a whole number, not 'many': interactions set to 0"
    assert report["not_enrolled"] == {
        "one interaction: a name (2 make a lead)": 1,
        "no interaction: a name (2 make a lead)": 1,
    }
    with rejects.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["row"] for r in rows] == ["6"]
    assert rows[0]["Email"] == "bad-email"


def test_import_qualifies_classes_and_owners(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    leads = {x["email"]: x for x in with_reps("leads", "list", "--json").json()}
    assert leads["ada@acme.example"]["class"] == "A"
    assert leads["ada@acme.example"]["cadence"] == "default"
    assert leads["bob@beta.example"]["class"] == "C"
    assert leads["bob@beta.example"]["cadence"] == "nurture"
    assert leads["dina@delta.example"]["class"] == "inbound"  # inbound request, whatever the fit
    assert leads["carl@gamma.example"]["status"] == "name"
    assert leads["carl@gamma.example"]["cadence"] is None
    owners = [x["owner"] for x in leads.values()]
    assert sorted(owners) == ["rita@cadence.example"] * 2 + ["sam@cadence.example"] * 2  # round-robin
    custom = with_reps("leads", "show", "ada@acme.example", "--json").json()["custom"]
    assert custom == {"favourite_colour": "blue"}


def test_reimport_updates_without_duplicating_or_restarting(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    before = with_reps("leads", "show", "ada@acme.example", "--json").json()["enrollment"]
    update = "email,title,interactions\nada@acme.example,CTO,5\ncarl@gamma.example,,2\n"
    report = with_reps(
        "leads", "import", str(write(tmp_path, update, "u.csv")), "--json", "--now", "2026-11-25T10:00:00Z"
    ).json()
    assert report["imported"] == 0
    assert report["updated"] == 2
    assert report["enrolled"] == 1  # carl crossed the interest threshold and became a lead
    ada = with_reps("leads", "show", "ada@acme.example", "--json").json()
    assert ada["title"] == "CTO"
    assert ada["company"] == "Acme"  # an empty cell keeps what we know
    assert ada["enrollment"]["enrolled_at"] == before["enrolled_at"]
    assert ada["enrollment"]["version"] == before["version"]
    assert len(with_reps("leads", "list", "--json").json()) == 4
    carl = with_reps("leads", "show", "carl@gamma.example", "--json").json()
    assert carl["status"] == "active"
    assert carl["enrollment"]["enrolled_at"] == "2026-11-25T10:00:00+00:00"


def test_a_repeated_email_in_one_file_is_an_update(with_reps: Cli, tmp_path: Path) -> None:
    text = (
        "email,first_name,title,industry,company_size,interactions\n"
        "zoe@z.example,Zoe,Director,Software,100,2\n"
        "ZOE@Z.example,Zoé,,,,3\n"
    )
    report = with_reps("leads", "import", str(write(tmp_path, text)), "--json", "--now", NOW).json()
    assert (report["imported"], report["updated"], report["enrolled"]) == (1, 1, 1)
    lead = with_reps("leads", "show", "zoe@z.example", "--json").json()
    assert lead["first_name"] == "Zoé"
    assert lead["interactions"] == 3


@pytest.mark.one_database
def test_import_reads_bom_quoted_newlines_and_unicode(with_reps: Cli, tmp_path: Path) -> None:
    text = (
        "EMAIL , First Name,Last Name,Company,Interactions,Notes\n"
        'jose@nino.example,José,Niño,"Acme, Inc.",2,"line one\nline two"\n'
        "li@wei.example,李,伟,北京公司,2,\n"
        "bad@,x,y,z,2,\n"
    )
    report = with_reps("leads", "import", str(write(tmp_path, text, bom=True)), "--json", "--now", NOW, expect=3).json()
    assert report["imported"] == 2
    assert report["errors"][0]["row"] == 4  # counted in records, not physical lines
    jose = with_reps("leads", "show", "jose@nino.example", "--json").json()
    assert (jose["first_name"], jose["last_name"], jose["company"]) == ("José", "Niño", "Acme, Inc.")
    assert jose["custom"]["notes"] == "line one\nline two"
    assert with_reps("leads", "show", "li@wei.example", "--json").json()["first_name"] == "李"


def test_dry_run_writes_nothing(with_reps: Cli, tmp_path: Path) -> None:
    report = with_reps(
        "leads", "import", str(write(tmp_path, LEADS_CSV)), "--dry-run", "--json", "--now", NOW, expect=3
    ).json()
    assert report["imported"] == 4
    assert report["dry_run"] is True
    assert with_reps("leads", "list", "--json").json() == []


def test_no_enroll_stores_and_qualifies_only(with_reps: Cli, tmp_path: Path) -> None:
    report = with_reps(
        "leads", "import", str(write(tmp_path, LEADS_CSV)), "--no-enroll", "--json", "--now", NOW, expect=3
    ).json()
    assert report["enrolled"] == 0
    statuses = {x["email"]: x["status"] for x in with_reps("leads", "list", "--json").json()}
    assert statuses["ada@acme.example"] == "lead"
    with_reps("enroll", "ada@acme.example", "--now", NOW)
    assert with_reps("leads", "show", "ada@acme.example", "--json").json()["status"] == "active"


def test_unknown_owner_and_default_owner(with_reps: Cli, tmp_path: Path) -> None:
    text = "email,owner,interactions\na@x.example,nobody@cadence.example,2\nb@x.example,,2\n"
    report = with_reps(
        "leads", "import", str(write(tmp_path, text)), "--owner", "sam@cadence.example", "--json", "--now", NOW,
        expect=0,
    ).json()  # fmt: skip
    assert report["errors"] == []
    assert report["warnings"] == [
        {"row": 2, "warning": "unknown owner nobody@cadence.example: another rep was given the lead"}
    ]
    assert with_reps("leads", "show", "a@x.example", "--json").json()["owner"] == "sam@cadence.example"
    assert with_reps("leads", "show", "b@x.example", "--json").json()["owner"] == "sam@cadence.example"
    missing = with_reps("leads", "import", str(write(tmp_path, text, "b.csv")), "--owner", "no@x.example", expect=1)
    assert "no rep" in missing.stderr


@pytest.mark.one_database
def test_import_of_a_missing_or_broken_file_is_a_clear_error(with_reps: Cli, tmp_path: Path) -> None:
    assert "no such file" in with_reps("leads", "import", str(tmp_path / "nope.csv"), expect=1).stderr
    no_email = with_reps("leads", "import", str(write(tmp_path, "name,company\nA,B\n")), expect=1)
    assert "email" in no_email.stderr
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\x00\xff\xfe\x81garbage")
    assert with_reps("leads", "import", str(binary), expect=1).stderr.startswith("error:")


def test_leads_list_filters_by_status_and_owner(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    names = with_reps("leads", "list", "--status", "name", "--json").json()
    assert [x["email"] for x in names] == ["carl@gamma.example"]
    mine = with_reps("leads", "list", "--owner", "sam@cadence.example", "--json").json()
    assert {x["owner"] for x in mine} == {"sam@cadence.example"}
    for item in mine:
        assert {"email", "status", "class", "owner", "cadence"} <= set(item)


@pytest.mark.one_database
def test_leads_list_refuses_a_status_that_does_not_exist(with_reps: Cli) -> None:
    """A typo (activ) listed no lead and said nothing: the rep took it for an empty pipeline."""
    refused = with_reps("leads", "list", "--status", "activ", expect=1)
    assert "unknown status 'activ'" in refused.stderr
    assert "active" in refused.stderr
    assert with_reps("leads", "list", "--status", "Active").stdout.endswith("0 lead(s)\n")


@pytest.mark.one_database
def test_postcards_export_refuses_csv_and_json_together_before_exporting(with_reps: Cli) -> None:
    """Each postcard is exported once: a format the user did not mean would spend the export."""
    refused = with_reps("postcards", "export", "--csv", "--json", "--now", NOW, expect=1)
    assert "give --csv or --json, not both" in refused.stderr


@pytest.mark.one_database
def test_plan_shows_local_times_and_writes_nothing(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    planned = with_reps("plan", "ada@acme.example", "--json").json()
    local = [s["local"][:16] for s in planned["steps"]]
    assert planned["timezone"] == "America/New_York"
    # Enrolled Monday 2026-11-23; Thanksgiving (26th) and weekends are skipped; one touch a day at most.
    assert local[:4] == ["2026-11-24T08:00", "2026-11-25T08:00", "2026-11-30T08:00", "2026-12-01T08:00"]
    assert len({s["local"][:10] for s in planned["steps"]}) == len(planned["steps"])
    other = with_reps("plan", "carl@gamma.example", "--cadence", "default", "--start", "2026-12-24", "--json").json()
    assert other["steps"][0]["local"].startswith("2026-12-28T08:00")  # Christmas holidays in Germany
    assert with_reps("leads", "show", "carl@gamma.example", "--json").json()["enrollment"] is None


def test_due_lists_what_is_due_as_of_now(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    at_once = with_reps("due", "--now", NOW, "--json").json()
    assert [(i["email"], i["channel"]) for i in at_once] == [("dina@delta.example", "call")]  # inbound: same day
    next_day = with_reps("due", "--now", "2026-11-24T20:00:00Z", "--json").json()
    assert {i["email"] for i in next_day} == {"dina@delta.example", "ada@acme.example", "bob@beta.example"}


def test_pause_resume_reply_and_decide(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    with_reps("pause", "ada@acme.example", "--now", "2026-11-24T09:00:00Z")
    assert with_reps("leads", "show", "ada@acme.example", "--json").json()["enrollment"]["next_due_at"] is None
    assert "only an active" in with_reps("pause", "ada@acme.example", expect=1).stderr
    with_reps("resume", "ada@acme.example", "--now", "2026-11-30T09:00:00Z")
    shown = with_reps("leads", "show", "ada@acme.example", "--json").json()
    assert shown["enrollment"]["state"] == "active"
    assert shown["enrollment"]["next_due_at"] >= "2026-11-30"
    with_reps("reply", "bob@beta.example", "--note", "called back", "--now", "2026-11-25T10:00:00Z")
    bob = with_reps("leads", "show", "bob@beta.example", "--json").json()
    assert bob["enrollment"]["state"] == "responded"
    assert bob["timeline"][-1]["outcome"] == "called back"
    with_reps("decide", "bob@beta.example", "--outcome", "not_interested", "--reason", "has a vendor")
    bob = with_reps("leads", "show", "bob@beta.example", "--json").json()
    assert bob["decision"]["outcome"] == "not_interested"
    assert bob["decision"]["reason"] == "has a vendor"
    assert bob["enrollment"]["state"] == "decided"
    assert "unknown outcome" in with_reps("decide", "ada@acme.example", "--outcome", "maybe", expect=1).stderr
    assert "decided already" not in with_reps("decide", "ada@acme.example", "--outcome", "bad_fit").stderr
    assert with_reps("due", "--now", "2026-12-31T00:00:00Z", "--json").json() != []


def test_enroll_refuses_a_second_enrollment_and_unknown_leads(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    assert "enrolled already" in with_reps("enroll", "ada@acme.example", expect=1).stderr
    assert "no lead" in with_reps("enroll", "nobody@x.example", expect=1).stderr
    assert "not a lead" in with_reps("enroll", "carl@gamma.example", expect=1).stderr
    assert "no cadence" in with_reps("enroll", "carl@gamma.example", "--cadence", "nope", expect=1).stderr
    with_reps("enroll", "carl@gamma.example", "--cadence", "nurture", "--now", NOW)


def test_suppressed_addresses_are_not_enrolled(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("suppress", "add", "@acme.example", "--reason", "customer asked")
    report = with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--json", "--now", NOW, expect=3).json()
    assert report["suppressed"] == 1
    assert with_reps("leads", "show", "ada@acme.example", "--json").json()["enrollment"] is None
    assert "suppressed" in with_reps("enroll", "ada@acme.example", expect=1).stderr
    assert "not a domain" in with_reps("suppress", "add", "@nodot", expect=1).stderr


@pytest.mark.one_database
def test_cadences_list_and_show(run_cli: Cli) -> None:
    cadences = {c["name"]: c for c in run_cli("cadences", "list", "--json").json()}
    assert set(cadences) >= {"default", "inbound", "nurture"}
    days = [s["day"] for s in cadences["default"]["steps"]]
    channels = [s["channel"] for s in cadences["default"]["steps"]]
    assert days == [1, 2, 5, 7, 8, 10, 12, 14, 18, 21]  # seed 002, step for step
    assert channels == [
        "research", "email", "email", "linkedin", "call", "email", "email", "postcard", "call", "email"
    ]  # fmt: skip
    assert [s["day"] for s in cadences["inbound"]["steps"]][:2] == [0, 0]
    assert "08:00-17:00" in run_cli("cadences", "show", "default").stdout
    assert "no cadence named" in run_cli("cadences", "show", "nope", expect=1).stderr


@pytest.mark.one_database
def test_bad_now_and_usage_errors(run_cli: Cli) -> None:
    assert "ISO-8601" in run_cli("due", "--now", "yesterday", expect=1).stderr
    assert run_cli("frobnicate", expect=2).exit_code == 2
    assert run_cli("leads", "import", expect=2).exit_code == 2


@pytest.mark.one_database
def test_a_broken_cadence_file_names_file_and_line(run_cli: Cli, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "cadences").mkdir(parents=True)
    (templates / "cadences" / "x.yaml").write_text("name: x\nsteps:\n  - day: 1\n    channel: fax\n")
    run_cli.env["CADENCE_TEMPLATES_DIR"] = str(templates)
    result = run_cli("cadences", "list", expect=1)
    assert "x.yaml" in result.stderr
    assert "line 3" in result.stderr
    assert "fax" in result.stderr
    (templates / "cadences" / "x.yaml").write_text("name: x\nsteps: [\n")
    assert "not valid YAML" in run_cli("cadences", "list", expect=1).stderr


def test_an_answers_file_keeps_each_answer_as_it_is_written(with_reps: Cli, tmp_path: Path) -> None:
    """YAML reads a bare Yes as true and 2027-01-15 as a date: an answer is the text the rep typed."""
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS.replace('"Yes, budget approved"', "No").replace('"Yes"', "Yes")
                       .replace("Pilot in January", "2027-01-15"))  # fmt: skip
    with_reps("decide", "ada@acme.example", "--outcome", "meeting_booked", "--reason", "demo Tuesday",
              "--answers", str(answers))  # fmt: skip
    (decision,) = with_reps("decisions", "list", "--json").json()
    assert decision["answers"]["committed"] == "No"
    assert decision["answers"]["fit"] == "Yes"
    assert decision["answers"]["expectations"] == "2027-01-15"


@pytest.mark.one_database
def test_cli_json_is_valid_for_every_listing(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    for args in (("reps", "list"), ("leads", "list"), ("cadences", "list"), ("due", "--now", NOW)):
        assert isinstance(json.loads(with_reps(*args, "--json").stdout), list)


ANSWERS = """\
committed: "Yes, budget approved"
requirement: Pipeline reviews without spreadsheets
desired_solution: Hosted tool with CRM sync
decides: VP Engineering
approves: CFO
expectations: Pilot in January
fit: "Yes"
"""


def test_a_meeting_needs_the_qualifying_answers_or_a_recorded_skip(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    refused = with_reps("decide", "ada@acme.example", "--outcome", "meeting_booked", expect=1)
    assert "qualifying questions" in refused.stderr
    partial = tmp_path / "partial.yaml"
    partial.write_text("committed: yes\nrequirement: ''\n")
    incomplete = with_reps("decide", "ada@acme.example", "--outcome", "meeting_booked", "--answers", str(partial),
                           expect=1)  # fmt: skip
    assert "partial.yaml" in incomplete.stderr
    assert "requirement" in incomplete.stderr
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    with_reps("decide", "ada@acme.example", "--outcome", "meeting_booked", "--reason", "demo Tuesday",
              "--answers", str(answers))  # fmt: skip
    with_reps("decide", "bob@beta.example", "--outcome", "qualified_handoff", "--skip-qualification")
    with_reps("decide", "dina@delta.example", "--outcome", "not_interested", "--reason", "no budget")
    decisions = {d["email"]: d for d in with_reps("decisions", "list", "--json").json()}
    assert decisions["ada@acme.example"]["answers"]["approves"] == "CFO"
    assert decisions["ada@acme.example"]["qualification_skipped"] is False
    assert decisions["bob@beta.example"]["qualification_skipped"] is True
    assert decisions["bob@beta.example"]["answers"] is None
    assert decisions["dina@delta.example"]["reason"] == "no budget"
    only = with_reps("decisions", "list", "--outcome", "not_interested", "--json").json()
    assert [d["email"] for d in only] == ["dina@delta.example"]
    assert "unknown outcome" in with_reps("decisions", "list", "--outcome", "maybe", expect=1).stderr


def test_a_decision_stops_the_enrollment_and_is_listed_with_its_reason(with_reps: Cli, tmp_path: Path) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    with_reps("decide", "ada@acme.example", "--outcome", "bad_fit", "--reason", "no team to equip")
    shown = with_reps("leads", "show", "ada@acme.example", "--json").json()
    assert shown["enrollment"]["state"] == "decided"
    assert shown["enrollment"]["next_due_at"] is None
    assert "no team to equip" in with_reps("decisions", "list").stdout
    text = with_reps("leads", "show", "ada@acme.example").stdout
    assert "decided, 0/10 done, no next step" in text
    assert "None" not in text


def test_a_passed_back_lead_is_listed_with_its_reason_and_starts_its_development(
    with_reps: Cli, tmp_path: Path
) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    with_reps("decide", "ada@acme.example", "--outcome", "passed_back", "--reason", "project next year")
    shown = with_reps("leads", "show", "ada@acme.example", "--json").json()
    assert (shown["enrollment"]["cadence"], shown["enrollment"]["state"]) == ("development", "active")
    assert shown["decision"]["outcome"] == "passed_back"
    assert "passed_back" in with_reps("decisions", "list").stdout


def test_suppressions_are_listed_and_a_mistake_can_be_removed(with_reps: Cli) -> None:
    with_reps("suppress", "add", "bob@beta.example", "--reason", "asked by phone", "--now", NOW)
    with_reps("suppress", "add", "@wrong.example", "--now", NOW)
    listed = {i["value"]: i["reason"] for i in with_reps("suppress", "list", "--json").json()}
    assert listed == {"bob@beta.example": "asked by phone", "@wrong.example": None}
    with_reps("suppress", "remove", "@WRONG.example")
    assert [i["value"] for i in with_reps("suppress", "list", "--json").json()] == ["bob@beta.example"]
    assert "not suppressed" in with_reps("suppress", "remove", "@wrong.example", expect=1).stderr


def test_a_run_without_a_prefect_server_waits_for_prefects_own_long_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    # Prefect gives the server it starts itself 20 s; its first start on a busy 2-core machine took 19.5 s.
    from cadence.cli.runs import quiet_prefect

    monkeypatch.setattr(os, "environ", dict(os.environ))  # what it sets stays in this test
    os.environ.pop("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", None)
    quiet_prefect()
    assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "120"
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"  # an operator's own is kept
    quiet_prefect()
    assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "300"


def test_leads_list_stuck_shows_every_lead_with_neither_a_decision_nor_a_next_step(
    with_reps: Cli, tmp_path: Path
) -> None:
    with_reps("leads", "import", str(write(tmp_path, LEADS_CSV)), "--no-enroll", "--now", NOW, expect=3)
    leads = {x["email"]: x for x in with_reps("leads", "list", "--json").json()}
    waiting = sorted(email for email, lead in leads.items() if lead["kind"] == "lead")
    assert "ada@acme.example" in waiting
    stuck = {x["email"]: x for x in with_reps("leads", "list", "--stuck", "--json").json()}
    assert sorted(stuck) == waiting  # names and unfit contacts are stored on purpose, not stuck
    assert stuck["ada@acme.example"]["reason"] == "never enrolled, no task, no decision"

    with_reps("enroll", "ada@acme.example", "--now", NOW)  # a step is due: not stuck
    with_reps("reply", "ada@acme.example", "--note", "call me", "--now", "2026-11-24T15:00:00Z")  # a task: not stuck
    assert "ada@acme.example" not in {x["email"] for x in with_reps("leads", "list", "--stuck", "--json").json()}
    [task] = [t for t in with_reps("tasks", "list", "--json").json() if t["lead_email"] == "ada@acme.example"]
    with_reps("tasks", "done", str(task["id"]), "--outcome", "done", "--now", "2026-11-24T16:00:00Z")
    again = {x["email"]: x for x in with_reps("leads", "list", "--stuck", "--json").json()}
    assert again["ada@acme.example"]["reason"] == "answered: no open task and no decision"
    text = with_reps("leads", "list", "--stuck").stdout
    assert "answered: no open task and no decision" in text
    assert f"{len(again)} lead(s) with neither a decision nor a next step" in text

    with_reps("decide", "ada@acme.example", "--outcome", "not_interested", "--reason", "no budget")
    assert "ada@acme.example" not in {x["email"] for x in with_reps("leads", "list", "--stuck", "--json").json()}
    assert "leave out --status" in with_reps("leads", "list", "--stuck", "--status", "active", expect=1).stderr
