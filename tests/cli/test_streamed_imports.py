"""``cadence leads import`` streamed in chunks, recorded, undone; export headers; rejects that round-trip; reasons.

On SQLite and on PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from cadence.adapters.models import Account, Enrollment, Import, ImportChange, Lead
from cadence.services import lead_import
from tests.conftest import TEMPLATES, Cli

NOW = "2026-11-23T14:00:00+00:00"  # a Monday
HEADER = "email,first_name,title,company,industry,company_size,timezone,source,interactions\n"


@pytest.fixture
def with_reps(run_cli: Cli) -> Cli:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--timezone", "America/Chicago", "--now", NOW)
    run_cli("reps", "add", "sam@cadence.example", "--name", "Sam Rep", "--now", NOW)
    return run_cli


def leads_file(tmp_path: Path, count: int, name: str = "leads.csv", *, first: int = 0, title: str = "VP Sales") -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(first, first + count):
            out.write(f"p{i}@acme.example,Ann{i},{title},Acme,software,50,America/New_York,webinar,3\n")
    return path


def count(database_url: str, model: type, **where: object) -> int:
    engine = create_engine(database_url.replace("sqlite:///", "sqlite:///", 1))
    try:
        with engine.connect() as connection:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return int(connection.scalar(query) or 0)
    finally:
        engine.dispose()


def test_a_file_is_imported_in_several_chunks_as_one_recorded_import(
    with_reps: Cli, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lead_import, "FIRST_CHUNK", 7)
    monkeypatch.setattr(lead_import, "MAX_CHUNK", 7)
    monkeypatch.setattr(lead_import, "CHUNK_SECONDS", 1000.0)  # sizes do not follow the machine's speed
    seen: list[int] = []
    original = lead_import._write_chunk

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(len(args[2]))  # type: ignore[arg-type]
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lead_import, "_write_chunk", spy)
    report = with_reps("leads", "import", str(leads_file(tmp_path, 30)), "--json", "--now", NOW).json()

    assert seen == [7, 7, 7, 7, 2]  # five transactions
    assert (report["imported"], report["enrolled"], report["rejected"]) == (30, 30, 0)
    imports = with_reps("leads", "imports", "--json").json()
    assert len(imports) == 1
    assert imports[0]["id"] == report["import_id"]
    assert imports[0]["state"] == "done"
    assert imports[0]["rows"] == 30
    assert imports[0]["counts"]["imported"] == 30
    assert imports[0]["by"]
    assert count(database_url, ImportChange, import_id=report["import_id"]) == 30


def test_a_chunk_the_database_refuses_keeps_the_chunks_before_and_says_how_to_undo_them(
    with_reps: Cli, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    monkeypatch.setattr(lead_import, "FIRST_CHUNK", 5)
    monkeypatch.setattr(lead_import, "MAX_CHUNK", 5)
    monkeypatch.setattr(lead_import, "CHUNK_SECONDS", 1000.0)
    calls = []
    original = lead_import.import_leads

    def failing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lead_import, "import_leads", failing)
    result = with_reps("leads", "import", str(leads_file(tmp_path, 20)), "--now", NOW, expect=1)

    assert "the database refused the rows from row 12" in result.stderr
    assert "--undo 1" in result.stderr or "--undo" in result.stderr
    assert count(database_url, Lead) == 10
    [entry] = with_reps("leads", "imports", "--json").json()
    assert entry["state"] == "failed"
    assert entry["counts"]["imported"] == 10
    monkeypatch.setattr(lead_import, "import_leads", original)
    undone = with_reps("leads", "import", "--undo", str(entry["id"]), "--json").json()
    assert undone["removed"] == 10
    assert count(database_url, Lead) == 0
    assert count(database_url, Account) == 0  # the account made for them goes with them


def test_undo_removes_created_leads_restores_updated_ones_and_keeps_what_has_history(
    with_reps: Cli, database_url: str, tmp_path: Path
) -> None:
    first = with_reps("leads", "import", str(leads_file(tmp_path, 3, "a.csv")), "--json", "--now", NOW).json()
    # p0 gets a response before the second import: it has a history.
    with_reps("reply", "p0@acme.example", "--note", "call me", "--now", NOW)
    second_file = tmp_path / "b.csv"
    second_file.write_text(
        HEADER
        + "p1@acme.example,Annie,CFO,Acme,software,50,Europe/Paris,webinar,3\n"  # an update
        + "p5@acme.example,Zed,VP Sales,Zco,software,50,America/New_York,webinar,3\n"  # new
        + "p6@acme.example,Yan,VP Sales,Yco,software,50,America/New_York,webinar,1\n",  # new, a name
        encoding="utf-8",
    )
    second = with_reps("leads", "import", str(second_file), "--json", "--now", NOW).json()
    assert (second["imported"], second["updated"]) == (2, 1)
    assert with_reps("leads", "show", "p1@acme.example", "--json").json()["timezone"] == "Europe/Paris"

    undone = with_reps("leads", "import", "--undo", str(second["import_id"]), "--json").json()

    assert (undone["removed"], undone["restored"]) == (2, 1)
    p1 = with_reps("leads", "show", "p1@acme.example", "--json").json()
    assert (p1["first_name"], p1["title"], p1["timezone"], p1["status"]) == (
        "Ann1",
        "VP Sales",
        "America/New_York",
        "paused",  # held since its colleague p0 (same account, acme.example) answered: the undo leaves that be
    )
    with_reps("leads", "show", "p5@acme.example", expect=1)
    assert count(database_url, Account) == 1  # acme.example: p0, p1 and p2 are still there
    again = with_reps("leads", "import", "--undo", str(second["import_id"]), expect=1)
    assert "undone already" in again.stderr

    undone_first = with_reps("leads", "import", "--undo", str(first["import_id"]), "--json").json()
    assert undone_first["removed"] == 2  # p1 and p2; p0 has a response
    assert undone_first["kept"] == [{"email": "p0@acme.example", "reason": "kept: it has a task"}]  # the reply's
    assert count(database_url, Lead) == 1
    assert count(database_url, Enrollment) == 1
    states = {e["id"]: e["state"] for e in with_reps("leads", "imports", "--json").json()}
    assert states == {first["import_id"]: "undone", second["import_id"]: "undone"}
    assert count(database_url, Import) == 2


def test_a_dry_run_writes_nothing_and_records_no_import(with_reps: Cli, database_url: str, tmp_path: Path) -> None:
    report = with_reps("leads", "import", str(leads_file(tmp_path, 12)), "--dry-run", "--json", "--now", NOW).json()
    assert (report["imported"], report["import_id"]) == (12, None)
    assert count(database_url, Lead) == 0
    assert count(database_url, Import) == 0


def test_export_headers_are_read_as_fields_and_custom_columns_are_listed(with_reps: Cli, tmp_path: Path) -> None:
    path = tmp_path / "hubspot.csv"
    path.write_text(
        "E-mail Address,First Name,Job Title,Company Name,Mobile Phone,Zip,Country/Region,Time Zone,"
        "Lead Source,Interactions,Favourite Colour,Role Played\n"
        "ann@acme.example,Ann,VP Sales,Acme,+1 555 0100,10001,usa,Eastern Time,webinar,3,blue,buyer\n",
        encoding="utf-8",
    )
    result = with_reps("leads", "import", str(path), "--map", "Role Played=ignore", "--now", NOW)
    assert "column 'Job Title' read as title" in result.stdout
    assert "custom fields (no standard field matches" in result.stdout
    assert "'Favourite Colour'" in result.stdout
    report = with_reps(
        "leads", "import", str(path), "--map", "Favourite Colour=industry", "--json", "--now", NOW
    ).json()
    assert report["custom_columns"] == ["Role Played"]
    assert report["mapped_columns"]["Favourite Colour"] == "industry"
    lead = with_reps("leads", "show", "ann@acme.example", "--json").json()
    assert (lead["title"], lead["company"], lead["phone"]) == ("VP Sales", "Acme", "+1 555 0100")
    assert (lead["address"]["postal_code"], lead["address"]["country"]) == ("10001", "US")
    assert (lead["timezone"], lead["industry"]) == ("America/New_York", "blue")
    assert lead["custom"] == {"favourite_colour": "blue", "role_played": "buyer"}
    bad = with_reps("leads", "import", str(path), "--map", "Job Title", expect=1)
    assert '"Column Name=field"' in bad.stderr


@pytest.mark.one_database
def test_a_map_of_a_column_the_file_does_not_have_stops_the_import(with_reps: Cli, tmp_path: Path) -> None:
    """A misspelt --map column was ignored in silence: the column the user meant became a custom field."""
    path = tmp_path / "export.csv"
    path.write_text("email,Job Role\nann@acme.example,CTO\n", encoding="utf-8")
    refused = with_reps("leads", "import", str(path), "--map", "Job Rol=title", "--now", NOW, expect=1)
    assert "--map 'job_rol': the file has no such column" in refused.stderr
    assert "'Job Role'" in refused.stderr
    assert with_reps("leads", "list", "--json").json() == []
    with_reps("leads", "import", str(path), "--map", "job-role=title", "--now", NOW)
    assert with_reps("leads", "show", "ann@acme.example", "--json").json()["title"] == "CTO"


def test_the_rejects_file_fixed_and_imported_again_imports(with_reps: Cli, tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(
        "email,first_name,phone,company\n"
        "ann@acme.example,Ann,+1 555 0100,Acme\n"
        'bob@,Bob,+44 20 7946 0000,=HYPERLINK("x")\n',
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.csv"
    with_reps("leads", "import", str(source), "--rejects", str(rejects), "--now", NOW, expect=3)
    text = rejects.read_text(encoding="utf-8-sig")
    assert "'+44 20 7946 0000" in text  # neutralised on the way out
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(text.replace("bob@,", "bob@acme.example,"), encoding="utf-8-sig")

    report = with_reps("leads", "import", str(fixed), "--json", "--now", NOW).json()

    assert (report["imported"], report["rejected"], report["custom_columns"]) == (1, 0, [])
    bob = with_reps("leads", "show", "bob@acme.example", "--json").json()
    assert (bob["phone"], bob["company"], bob["custom"]) == ("+44 20 7946 0000", '=HYPERLINK("x")', {})
    with fixed.open(encoding="utf-8-sig") as handle:
        assert next(csv.reader(handle))[:2] == ["row", "reason"]


def with_persona(cli: Cli, tmp_path: Path) -> None:
    """Templates whose qualification.yaml has the example persona of the shipped file, not commented out."""
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    rules = folder / "qualification.yaml"
    text = rules.read_text(encoding="utf-8")
    example = [line[2:] for line in text.splitlines() if line.startswith("#   ") or line == "# persona:"]
    rules.write_text(text.replace("persona: {}\n", "\n".join(example) + "\n"), encoding="utf-8")
    cli.env["CADENCE_TEMPLATES_DIR"] = str(folder)


def test_the_shipped_rules_accept_every_persona(with_reps: Cli, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "cfo@acme.example,Cee,CFO,Acme,insurance,3,,webinar,3\n", encoding="utf-8")
    report = with_reps("leads", "import", str(path), "--json", "--now", NOW).json()
    assert (report["enrolled"], report["unfit"], report["not_enrolled"]) == (1, 0, {})


def test_why_a_person_is_not_enrolled_is_stored_counted_and_shown(with_reps: Cli, tmp_path: Path) -> None:
    with_persona(with_reps, tmp_path)
    path = tmp_path / "people.csv"
    path.write_text(
        HEADER
        + "one@acme.example,One,VP Sales,Acme,software,50,,webinar,1\n"
        + "cfo@acme.example,Cee,CFO,Acme,insurance,50,,webinar,3\n"
        + "cfo2@acme.example,Dee,CFO,Acme,software,50,,webinar,3\n",
        encoding="utf-8",
    )
    result = with_reps("leads", "import", str(path), "--now", NOW)
    assert "not enrolled, and why:" in result.stdout
    assert "2  title 'CFO' matches no persona title" in result.stdout
    assert "1  industry 'insurance' not in persona" in result.stdout
    assert "1  one interaction: a name (2 make a lead)" in result.stdout
    shown = with_reps("leads", "show", "cfo@acme.example", "--json").json()
    assert shown["not_enrolled_reasons"] == [
        "industry 'insurance' not in persona",
        "title 'CFO' matches no persona title",
    ]
    text = with_reps("leads", "show", "one@acme.example").stdout
    assert "not enrolled: one interaction: a name (2 make a lead)" in text

    refused = with_reps("enroll", "cfo@acme.example", "--now", NOW, expect=1)
    assert "--anyway" in refused.stderr
    assert "title 'CFO'" in refused.stderr
    with_reps("enroll", "cfo@acme.example", "--anyway", "--now", NOW, expect=1)  # a reason is required
    with_reps("enroll", "cfo@acme.example", "--anyway", "--reason", "asked for a demo at the fair", "--now", NOW)
    after = with_reps("leads", "show", "cfo@acme.example", "--json").json()
    assert after["status"] == "active"
    assert after["enrollment"]["cadence"]
    assert after["enrolled_anyway"]["why"] == "asked for a demo at the fair"
    assert after["enrolled_anyway"]["by"]
    assert after["enrolled_anyway"]["was"] == "unfit"
    assert after["not_enrolled_reasons"] == []
    # A later import of the same person does not take the enrollment's cadence away.
    with_reps("leads", "import", str(path), "--now", NOW)
    assert with_reps("leads", "show", "cfo@acme.example", "--json").json()["cadence"] == after["cadence"]
