"""Hostile input: CSV files, cadence files and command-line arguments built to break cadence.

Whatever the input, cadence exits with its documented code (0 success, 1 error, 2 usage error,
3 import with rejected rows), says what is wrong and where (the row, the file, the line), never
shows a traceback, and writes nothing half-way: a failed command leaves the database exactly as it
was, and an import changes only the leads of the valid rows it reports.

Most properties drive the real CLI in this process (typer's CliRunner, exceptions not caught, so
that any crash fails the test); a few run the installed ``cadence`` script in a subprocess, to
prove what a user's terminal shows. Everything runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.testing
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cadence import cli
from cadence.adapters.csv_leads import parse_leads_csv
from cadence.adapters.files import load_cadence_file, load_rules
from cadence.errors import ConfigurationError, ValidationError
from cadence.services import lead_import
from tests.conftest import Cli, CliResult
from tests.reliability.snapshots import Snapshot, Snapshots, differences
from tests.reliability.test_csv_exports import HOSTILE_CELLS, unsafe_cells
from tests.support.prefect_server import free_port

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T14:00:00+00:00"  # a Monday
REPS = ("rita@cadence.example", "sam@cadence.example")
KNOWN_LEADS = ("ann@acme.example", "bob@beta.example", "cid@gamma.example")
SUPPRESSED = "dee@delta.example"
# A handful of examples per property keeps the whole file well under a minute on two cores; every
# run draws new examples (no example database: CI does not depend on what a previous run found).
FEW = settings(max_examples=40, deadline=None, database=None)
SOME = settings(max_examples=60, deadline=None, database=None)
MAX_REASON = 300  # a clear message quotes a hostile value, it does not repeat 100 kB of it


@pytest.fixture
def snapshots(database_url: str) -> Iterator[Snapshots]:
    """Snapshots of the test database."""
    taker = Snapshots(database_url)
    yield taker
    taker.close()


@pytest.fixture
def seeded(run_cli: Cli, tmp_path: Path) -> Cli:
    """Two reps, three known leads (one enrolled) and a suppressed address."""
    for rep in REPS:
        run_cli("reps", "add", rep, "--name", rep.split("@")[0].title(), "--now", NOW)
    known = tmp_path / "known.csv"
    known.write_text(
        "email,first_name,title,company,industry,company_size,country,source,interactions\n"
        "ann@acme.example,Ann,VP Engineering,Acme,Software,500,US,webinar,3\n"
        "bob@beta.example,Bob,Student,Beta,Retail,5,GB,webinar,1\n"
        "cid@gamma.example,Cid,,,,,,,0\n",
        encoding="utf-8",
    )
    run_cli("leads", "import", str(known), "--now", NOW)
    run_cli("suppress", "add", SUPPRESSED, "--now", NOW)
    return run_cli


def assert_clean(result: CliResult, *codes: int, report: bool = False) -> None:
    """The command exited with one of ``codes``, and nothing in its output is a traceback.

    An error (exit 1) is one short ``error: ...`` message on stderr, unless the command is a
    ``report`` of problems (``templates check``), whose exit 1 says that it found some.
    """
    output = result.stdout + result.stderr
    assert result.exit_code in codes, (result.exit_code, result.stdout[-300:], result.stderr[-300:])
    assert "Traceback" not in output
    assert "internal error" not in output
    if result.exit_code == 1 and not report:
        assert result.stderr.startswith("error: "), result.stderr[:300]
        assert len(result.stderr) < 2000, result.stderr[:300]
    if result.exit_code == 2:
        assert "Error" in result.stderr or "Usage" in result.stderr, result.stderr[:300]


# --- hostile CSV files ---------------------------------------------------------------------------------------

EMAILS = [*KNOWN_LEADS, "ANN@Acme.Example", SUPPRESSED, "eve@eps.example", "fay@phi.example", "gus@chi.example"]
CELLS = st.one_of(
    st.sampled_from(EMAILS),
    st.sampled_from(HOSTILE_CELLS),
    st.sampled_from(
        [
            "",
            " ",
            "-5",
            "3",
            "2147483647",
            "2147483648",
            "99999999999999999999",
            "1,200",
            "Europe/Paris",
            "Mars/Olympus",
            "US",
            "France",
            "webinar",
            "contact_request",
            "VP Engineering",
            "Software",
            *REPS,
            "nobody@cadence.example",
            "a\nb",
            "a\r\nb",
            '"',
            '"quoted, with a comma"',
            "x\x00y",
            "\x01\x02",
            "é李🚀\u202e",
            "\ufeffemail",
            "a" * 501,
            "@" * 70,
        ]
    ),
    st.text(max_size=20),
)
EMAIL_HEADERS = ["email", "Email", "E-mail", "email_address", " EMAIL "]
NEW_EMAILS = st.integers(0, 10**9).map(lambda n: f"lead{n}@new.example")
PLAUSIBLE: dict[str, st.SearchStrategy[str]] = {
    **{header.strip().lower(): st.sampled_from(EMAILS) | NEW_EMAILS for header in EMAIL_HEADERS},
    "first_name": st.sampled_from(["Ann", "Zoë", "李"]),
    "first name": st.sampled_from(["Ann", "Zoë", "李"]),
    "title": st.sampled_from(["VP Engineering", "CTO", "Student"]),
    "company": st.sampled_from(["Acme", "Beta GmbH"]),
    "industry": st.sampled_from(["Software", "Retail"]),
    "company_size": st.sampled_from(["500", "5", "1,200"]),
    "interactions": st.sampled_from(["0", "1", "2", "5"]),
    "owner": st.sampled_from(["", *REPS]),
    "timezone": st.sampled_from(["", "Europe/Paris", "America/New_York"]),
    "country": st.sampled_from(["", "US", "fr"]),
    "source": st.sampled_from(["webinar", "contact_request", "target_list"]),
    "phone": st.sampled_from(["+1 555 0100", ""]),
    "linkedin_url": st.sampled_from(["https://www.linkedin.com/in/ann", ""]),
}
HUGE_CELLS = ["x" * 100_001, "é" * 50_001, "李" * 2_001]  # over 100 kB; over 100 kB; over the longest field
OTHER_HEADERS = [
    "first_name",
    "First Name",
    "title",
    "company",
    "industry",
    "company_size",
    "interactions",
    "owner",
    "timezone",
    "country",
    "source",
    "phone",
    "linkedin_url",
    "notes",
    "=HYPERLINK(1)",
    "",
]


@st.composite
def hostile_csv(draw: st.DrawFn) -> bytes:
    """A CSV file a user might give us by mistake, or an attacker on purpose.

    Mostly files whose rows reach the database (so that the import's writes are checked), some
    broken as a whole: random bytes, a stray quote, a cut, a NUL byte, a wrong encoding.
    """
    kind = draw(st.sampled_from(["bytes", "broken", "rows", "rows", "rows", "rows"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    header = draw(st.lists(st.sampled_from(OTHER_HEADERS), max_size=5, unique=True))
    if draw(st.integers(0, 7)):  # now and then, no email column
        header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(EMAIL_HEADERS)))
    if header and not draw(st.integers(0, 7)):  # now and then, a column twice, or one with a 200-character name
        header.append(draw(st.sampled_from([*header, "x" * 200])))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 2), min_size=1, max_size=10))
    for row in rows:  # mostly plausible cells, so that most rows reach the database
        for index, column in enumerate(header[: len(row)]):
            if draw(st.integers(0, 3)):
                row[index] = draw(PLAUSIBLE.get(column.strip().lower(), st.just(row[index])))
    if rows and rows[0] and not draw(st.integers(0, 7)):  # now and then, a huge cell
        rows[draw(st.integers(0, len(rows) - 1))][0:1] = [draw(st.sampled_from(HUGE_CELLS))]
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\r\n", "\n", "\r"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    if kind == "rows":
        return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig"])))
    at = draw(st.integers(0, len(text)))
    broken = draw(st.sampled_from(["quote", "cut", "nul", "latin-1", "cp1252", "utf-16"]))
    if broken in ("quote", "cut", "nul"):
        text = {"quote": text[:at] + '"' + text[at:], "cut": text[:at], "nul": text[:at] + "\x00" + text[at:]}[broken]
        return text.encode("utf-8")
    return (text[:at] + "é" + text[at:]).encode(broken, errors="replace")


@dataclass
class ImportOutcome:
    """What an import reported: its counts and the rows it rejected (row number -> reason)."""

    counts: dict[str, int]
    rejected: dict[int, str]


_COUNTS = re.compile(
    r"imported (?P<imported>\d+) new, updated (?P<updated>\d+), enrolled (?P<enrolled>\d+), names (?P<names>\d+), "
    r"unfit (?P<unfit>\d+), suppressed (?P<suppressed>\d+), rejected (?P<rejected>\d+)"
)


def reported(result: CliResult, as_json: bool) -> ImportOutcome:
    """The report of a successful or partial import, from its JSON or from its text."""
    if as_json:
        data = result.json()
        counts = {key: data[key] for key in ("imported", "updated", "enrolled", "rejected")}
        return ImportOutcome(counts, {error["row"]: error["reason"] for error in data["errors"]})
    match = _COUNTS.search(result.stdout)
    assert match, result.stdout
    listed = result.stderr.partition("rejected rows:\n")[2]  # the warnings before it have the same row format
    rejected = {int(n): reason for n, reason in re.findall(r"^  row (\d+): (.*)$", listed, re.MULTILINE)}
    return ImportOutcome({key: int(value) for key, value in match.groupdict().items()}, rejected)


def lead_ids(snapshot: Snapshot, emails: set[str]) -> set[int]:
    """The ids of the leads with these emails."""
    return {row["id"] for row in snapshot["leads"].values() if row["email"] in emails}


def check_import(
    data: bytes, result: CliResult, as_json: bool, before: Snapshot, after: Snapshot, rejects: Path
) -> None:
    """The import said what it did, did exactly that, and wrote nothing else."""
    assert_clean(result, 0, 1, 3)
    if result.exit_code == 1:
        assert differences(before, after) == {}
        assert not rejects.exists()
        return
    outcome = reported(result, as_json)
    parsed = parse_leads_csv(data)  # it parsed, since the import did not fail as a whole
    rows = {row.row: row for row in parsed.rows}
    assert set(outcome.rejected) == {error.row for error in parsed.errors} | (set(outcome.rejected) & set(rows))
    assert outcome.counts["rejected"] == len(outcome.rejected)
    for number, reason in outcome.rejected.items():
        assert reason.strip(), number
        assert len(reason) <= MAX_REASON, (number, reason[:1000])
    valid = [row for number, row in rows.items() if number not in outcome.rejected]
    valid_emails = {row.lead.email for row in valid}
    known = {row["email"] for row in before["leads"].values()}
    now_known = {row["email"] for row in after["leads"].values()}
    assert now_known - known == valid_emails - known
    assert outcome.counts["imported"] == len(valid_emails - known)
    assert outcome.counts["imported"] + outcome.counts["updated"] == len(valid)
    touched = lead_ids(after, valid_emails)
    for table, (gone, came) in differences(before, after).items():
        if table == "leads":
            assert {row["email"] for row in gone + came} <= valid_emails
        elif table in ("enrollments", "touches", "tasks", "import_changes"):
            assert {row["lead_id"] for row in gone + came} <= touched, table
        elif table == "accounts":  # the accounts of the leads imported: created, or given a name or an owner
            accounts = {row["account_id"] for row in after["leads"].values() if row["id"] in touched}
            assert {row["id"] for row in gone + came} <= accounts, (table, gone, came)
        elif table == "imports":  # the import records itself: one row, what it did
            assert not gone, (table, gone)
            assert [row["state"] for row in came] == ["done"], (table, came)
        else:
            assert table == "cadence_versions", (table, gone, came)  # a cadence version first used
            assert not gone, (table, gone)
    if outcome.rejected:
        text = rejects.read_bytes().decode("utf-8-sig")
        assert unsafe_cells(text, parsed.delimiter) == []
        written = list(csv.reader(io.StringIO(text, newline=""), delimiter=parsed.delimiter))
        assert sorted(int(row[0]) for row in written[1:]) == sorted(outcome.rejected)
    else:
        assert not rejects.exists()


def test_a_hostile_csv_file_is_imported_in_part_or_refused_and_never_half_written(
    seeded: Cli, snapshots: Snapshots, tmp_path: Path
) -> None:
    @FEW
    @given(hostile_csv(), st.booleans())
    def check(data: bytes, as_json: bool) -> None:
        source = tmp_path / "hostile.csv"
        source.write_bytes(data)
        rejects = tmp_path / "rejects.csv"
        rejects.unlink(missing_ok=True)
        before = snapshots.take()
        args = ["leads", "import", str(source), "--rejects", str(rejects), "--now", NOW]
        result = seeded(*args, *(["--json"] if as_json else []), expect=None)
        event(f"exit {result.exit_code}")
        check_import(data, result, as_json, before, snapshots.take(), rejects)
        if result.exit_code == 1:
            with pytest.raises(ValidationError):
                parse_leads_csv(data)  # a whole-file problem...
            assert str(source) in result.stderr  # ...named with the file

    check()


# --- what the parser accepts, the database stores -------------------------------------------------------------

LIMITS = {"first_name": 100, "last_name": 100, "title": 500, "company": 500, "city": 100, "postal_code": 20}
PRINTABLE = st.characters(codec="utf-8", categories=("L", "N", "P", "S"))  # emoji and CJK included


def sized_text(size: int) -> st.SearchStrategy[str]:
    """Text of exactly ``size`` characters: a short drawn pattern repeated.

    Drawing ``size`` characters one by one for the 2,000-character fields overran Hypothesis's
    buffer often enough to fail its ``data_too_large`` health check now and then; a repeated pattern
    reaches the same lengths and the same characters with a few bytes of choices.
    """
    return st.text(PRINTABLE, min_size=1, max_size=8).map(lambda pattern: (pattern * size)[:size])


def edge_text(limit: int) -> st.SearchStrategy[str]:
    """Text of up to ``limit`` characters, often exactly ``limit``, now and then one more."""
    return st.one_of(
        sized_text(limit),
        st.text(PRINTABLE, min_size=1, max_size=limit),
        st.text(PRINTABLE, min_size=1, max_size=limit),
        sized_text(limit + 1),
    )


# Around the largest count a database integer holds, and around the largest the parser once allowed.
EDGE_COUNTS = st.sampled_from([0, 2**31 - 1, 2**31, 10**10, 10**10 + 1]) | st.integers(0, 10**12)
LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=63)
EDGE_EMAILS = st.builds(
    lambda local, labels: f"{local}@{'.'.join(labels)}.example",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._+=-", min_size=1, max_size=64),
    st.lists(LABEL, min_size=1, max_size=3),
)


@st.composite
def edge_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    """Rows whose values sit at (and just beyond) the limits of the parser and of the database columns."""
    emails = draw(st.lists(EDGE_EMAILS, min_size=1, max_size=4, unique_by=str.lower))
    return [
        {
            "email": email,
            **{field: draw(edge_text(limit)) for field, limit in LIMITS.items()},
            "interactions": str(draw(EDGE_COUNTS)),
            "company_size": str(draw(EDGE_COUNTS)),
            "notes": draw(edge_text(2000)),
        }
        for email in emails
    ]


def test_every_row_the_parser_accepts_is_stored_as_it_was_given(
    seeded: Cli, snapshots: Snapshots, tmp_path: Path
) -> None:
    @settings(max_examples=20, deadline=None, database=None)
    @given(edge_rows())
    def check(rows: list[dict[str, str]]) -> None:
        source = tmp_path / "edges.csv"
        with source.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        accepted = {parsed.row: parsed.lead for parsed in parse_leads_csv(source.read_bytes()).rows}
        event(f"{len(accepted)} of {len(rows)} rows accepted")

        before = {lead["email"]: lead for lead in snapshots.take()["leads"].values()}
        result = seeded("leads", "import", str(source), "--json", "--now", NOW, expect=None)

        assert_clean(result, 0, 3)  # a row the parser accepted never fails the import as a whole
        assert {error["row"] for error in result.json()["errors"]}.isdisjoint(accepted)
        stored = {lead["email"]: lead for lead in snapshots.take()["leads"].values()}
        for number, lead in accepted.items():
            row, kept = rows[number - 2], stored[lead.email]
            earlier = before.get(lead.email, {})
            # A field the import could not use is not written, and the row says so in a warning: a new
            # lead has it empty, a known one keeps what it had (a bad cell never erases a good value).
            emptied = {field for field in LIMITS if any(w.startswith(f"{field} ") for w in lead.warnings)}
            assert {field: kept[field] for field in LIMITS if field not in emptied} == {
                field: row[field] for field in LIMITS if field not in emptied
            }
            assert all(kept[field] == earlier.get(field) for field in emptied)
            size_used = not any(w.startswith("company_size ") for w in lead.warnings)  # over 2,147,483,647
            assert kept["company_size"] == (int(row["company_size"]) if size_used else earlier.get("company_size"))
            counted = not any(w.startswith("interactions ") for w in lead.warnings)  # over 2,147,483,647
            floor = int(row["interactions"]) if counted else earlier.get("interactions") or 0
            assert kept["interactions"] >= floor  # interactions only grow
            notes_used = not any(w.startswith("custom field notes ") for w in lead.warnings)
            assert kept["custom"] == ({"notes": row["notes"]} if notes_used else earlier.get("custom") or {})

    check()


# --- a failure in the middle of an import ----------------------------------------------------------------------

REFUSED = "boom@acme.example"


@pytest.fixture
def refusing_database(seeded: Cli, database_url: str, snapshots: Snapshots) -> Iterator[str]:
    """The test database, with a real constraint that refuses the lead REFUSED (a CHECK, or SQLite's trigger)."""
    with snapshots.engine.begin() as conn:
        if snapshots.engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE leads ADD CONSTRAINT refuse_boom CHECK (email <> '{REFUSED}')")
        else:
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse_boom BEFORE INSERT ON leads WHEN NEW.email = '{REFUSED}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the refuse_boom trigger'); END"
            )
    yield database_url
    with snapshots.engine.begin() as conn:
        if snapshots.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE leads DROP CONSTRAINT refuse_boom")
        else:
            conn.exec_driver_sql("DROP TRIGGER refuse_boom")


def import_file(tmp_path: Path, emails: list[str], name: str = "leads.csv") -> Path:
    """A leads file of lead-class rows (each is enrolled) with these emails, one bad row after the first."""
    source = tmp_path / name
    lines = ["email,first_name,title,company,industry,company_size,country,source,interactions"]
    for index, email in enumerate(emails):
        lines.append(f"{email},Name{index},VP Engineering,Acme,Software,500,US,webinar,{3 + index}")
        if index == 0:
            lines.append("not-an-email,Bad,,,,,,,")
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return source


def test_a_database_error_in_the_middle_of_an_import_keeps_the_chunks_before_and_undo_restores_all(
    refusing_database: str, seeded: Cli, snapshots: Snapshots, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imports are written a chunk at a time (issue #28, finding 3): chunks of 5 rows here.
    monkeypatch.setattr(lead_import, "FIRST_CHUNK", 5)
    monkeypatch.setattr(lead_import, "MAX_CHUNK", 5)
    monkeypatch.setattr(lead_import, "CHUNK_SECONDS", 1000.0)
    # Updates of known leads and new, enrolled leads come before the refused row; more rows come after.
    emails = [*KNOWN_LEADS, *(f"new{i}@acme.example" for i in range(25)), REFUSED, "last@acme.example"]
    source = import_file(tmp_path, emails)
    rejects = tmp_path / "rejects.csv"
    before = snapshots.take()

    result = seeded("leads", "import", str(source), "--rejects", str(rejects), "--now", NOW, expect=1)

    assert_clean(result, 1)
    row = emails.index(REFUSED) + 3  # the header is row 1, the bad row follows the first one
    assert result.stderr.startswith(f"error: {source}: row {row} ({REFUSED}): the database refused it (")
    assert "refuse_boom" in result.stderr
    assert not rejects.exists()
    kept = differences(before, snapshots.take())
    assert {row["email"] for row in kept["leads"][1]} >= {"new0@acme.example"}  # the chunks before stay
    assert REFUSED not in {row["email"] for row in kept["leads"][1]}
    match = re.search(r"`cadence leads import --undo ([0-9]+)`", result.stderr)
    assert match is not None, result.stderr

    seeded("leads", "import", "--undo", match.group(1), "--now", NOW)

    after = differences(before, snapshots.take())
    assert set(after) <= {"imports", "cadence_versions"}, after  # the import's record, now undone
    assert [row["state"] for row in after["imports"][1]] == ["undone"]
    without = import_file(tmp_path, [e for e in emails if e != REFUSED], "without.csv")
    assert seeded("leads", "import", str(without), "--json", "--now", NOW, expect=3).json()["imported"] == 26


@pytest.mark.one_database
def test_an_unwritable_rejects_file_fails_the_import_before_anything_is_kept(
    seeded: Cli, snapshots: Snapshots, tmp_path: Path
) -> None:
    source = import_file(tmp_path, ["new1@acme.example", "new2@acme.example"])
    before = snapshots.take()

    result = seeded("leads", "import", str(source), "--rejects", str(tmp_path / "no" / "r.csv"), "--now", NOW, expect=1)

    assert_clean(result, 1)
    assert f"{tmp_path / 'no' / 'r.csv'}: cannot write the rejects file" in result.stderr
    assert differences(before, snapshots.take()) == {}


@pytest.mark.one_database
def test_the_rejects_file_cannot_be_the_imported_file(seeded: Cli, snapshots: Snapshots, tmp_path: Path) -> None:
    source = import_file(tmp_path, ["new1@acme.example"])
    before = snapshots.take()

    result = seeded("leads", "import", str(source), "--rejects", str(source), "--now", NOW, expect=1)

    assert "is the file being imported" in result.stderr
    assert differences(before, snapshots.take()) == {}
    assert "not-an-email" in source.read_text(encoding="utf-8")


# --- an import interrupted in the middle ----------------------------------------------------------------------


def cadence_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a ``cadence`` process on the test database (nothing of the developer's own)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CADENCE_", "PG"))}
    return {
        **env,
        "CADENCE_DATABASE_URL": database_url,
        "CADENCE_TEMPLATES_DIR": str(ROOT / "templates"),
        "CADENCE_DEFAULT_TIMEZONE": "UTC",
        **extra,
    }


def committed(snapshots: Snapshots) -> bool:
    """Whether an import under way (not done) has committed a chunk of rows: its journal has changes."""
    with snapshots.engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM import_changes c JOIN imports i ON i.id = c.import_id WHERE i.state <> 'done'"
            ).scalar()
        )


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_an_import_interrupted_while_it_writes_leaves_the_database_as_it_was(
    signal_number: int, seeded: Cli, database_url: str, snapshots: Snapshots, tmp_path: Path
) -> None:
    # Enough rows that the import is still writing when interrupted: it writes a chunk of them at once.
    source = import_file(tmp_path, [f"many{i}@acme.example" for i in range(4000)])
    before = snapshots.take()
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "cadence"), "leads", "import", str(source), "--now", NOW],
        cwd=tmp_path,
        env=cadence_env(database_url, PGAPPNAME="cadence-import-under-test"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        # Interrupted once its first chunk is committed (most of the file is still to come, however slow the
        # machine: the chunks are sized by time), in the middle of whatever it does then: a chunk's reading,
        # its validation, or its write transaction.
        while not committed(snapshots):
            assert process.poll() is None, ("the import ended before it was interrupted", process.communicate())
            assert time.monotonic() < deadline, "the import never committed a chunk"
            time.sleep(0.01)
        time.sleep(random.uniform(0, 0.2))
        assert process.poll() is None, "the import ended before it was interrupted"
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == (-signal.SIGKILL if signal_number == signal.SIGKILL else 130), (out, err)
    assert "Traceback" not in out + err
    # Imports write in chunks, each its own transaction: what was committed stays, recorded as an import
    # that never finished, and its undo (forced: its process is gone) takes the database back to before.
    [cut] = [i for i in seeded("leads", "imports", "--json").json() if i["state"] != "done"]
    seeded("leads", "import", "--undo", str(cut["id"]), "--force", "--json")
    assert set(differences(before, snapshots.take())) <= {"imports", "import_changes"}
    again = seeded("leads", "import", str(import_file(tmp_path, ["after@acme.example"], "after.csv")), "--json",
                   "--now", NOW, expect=3)  # fmt: skip
    assert again.json()["imported"] == 1  # the database is neither locked nor damaged


# --- hostile cadence files ------------------------------------------------------------------------------------

DEFAULT_CADENCE = (ROOT / "templates" / "cadences" / "default.yaml").read_text(encoding="utf-8")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([-1, 366, 2**63, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "email", "EMAIL ", "previous", "08:00", "25:00", "17:00", "email/introduction", "../../etc"]),
    st.sampled_from(["email/intro duction", "a" * 2000, "=cmd|'/c calc'!A1", "\u202e", "lol " * 300]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SCALARS.filter(
    lambda key: key is not None and not isinstance(key, float)), inner, max_size=4), max_leaves=12)  # fmt: skip


@st.composite
def mutated_cadence(draw: st.DrawFn) -> str:
    """The shipped default cadence with a few keys set to wrong types, removed, added or multiplied."""
    data: dict[str, Any] = yaml.safe_load(DEFAULT_CADENCE)
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(["top", "settings", "window", "step", "steps"]))
        if target == "steps":
            if isinstance(data.get("steps"), list):  # none, out of day order, over 100
                data["steps"] = data["steps"] * draw(st.sampled_from([0, 2, 11]))
            continue
        holder = {
            "top": data,
            "settings": data.get("settings"),
            "window": data["settings"].get("send_window") if isinstance(data.get("settings"), dict) else None,
            "step": draw(st.sampled_from(data["steps"])) if isinstance(data.get("steps"), list) and data["steps"]
            and isinstance(data["steps"][0], dict) else None,
        }[target]  # fmt: skip
        if not isinstance(holder, dict):
            continue
        key = draw(st.sampled_from([*holder, "unknown_key", "__line__"]))
        if draw(st.integers(0, 4)):
            holder[key] = draw(VALUES)
        else:
            holder.pop(key, None)
    return yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)


def laughs(levels: int, key: str = "day") -> str:
    """A cadence whose step 1 has ``key`` set to nine lists of nine lists... ``levels`` deep (all aliases)."""
    anchors = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    anchors += [f"&a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return (
        f"name: default\ndescription: [{', '.join(anchors)}]\nsteps:\n"
        f"  - {{{key}: *a{levels - 1}, channel: email, template: email/introduction}}\n"
    )


SNIPPETS = [
    laughs(9),
    laughs(8, "channel"),
    laughs(6, "thread"),
    "name: default\nsteps: &s\n  - {day: 1, channel: email, template: email/introduction}\n  - *s\n",
    "name: default\nsteps:\n  - &x {day: 1, channel: email, template: email/introduction, instructions: *x}\n",
    "name: default\nsettings: &s {send_window: *s}\nsteps: [{day: 1, channel: call}]\n",
    "name: default\nsteps:\n  - day: " + "9" * 5000 + "\n    channel: call\n",
    "name: default\nsteps:\n  - day: 0x" + "f" * 5000 + "\n    channel: call\n",
    "name: default\nsteps:\n  - day: 0b" + "1" * 20000 + "\n    channel: call\n",
    "name: default\nsteps:\n  - day: " + ":".join(["59"] * 3000) + "\n    channel: call\n",
    "name: default\nsteps:\n  - day: 2026-13-45\n    channel: call\n",
    "name: default\nsteps:\n  - day: !!timestamp x\n    channel: call\n",
    "name: default\nsteps:\n  - day: !!int x\n    channel: call\n",
    "name: default\nsteps:\n  - day: !!float x\n    channel: call\n",
    "name: default\nsteps:\n  - day: !!binary ZZZ\n    channel: call\n",
    "name: default\nsteps:\n  - day: !!python/object/apply:os.system [echo hi]\n    channel: call\n",
    "name: default\nsteps:\n  - {day: 1, channel: call, ? [a, b] : c}\n",
    "name: default\nsettings:\n  send_window: {start: 0b"
    + "1" * 20000
    + ", end: 17:00}\nsteps: [{day: 1, channel: call}]\n",
    "name: default\nsteps: " + "[" * 5000 + "]" * 5000 + "\n",
    "name: default\nsteps: [{day: 1, channel: call}]\n---\nname: again\n",
    "name: default\n\tsteps: []\n",
    "name: default\nsteps: [{day: 1, channel: call}]\nx: \x00\n",
    "\ufeffname: default\nsteps: [{day: 1, channel: call}]\n",
]


def hostile_cadence_bytes() -> st.SearchStrategy[bytes]:
    """The content of a hostile cadence file."""
    return st.one_of(
        mutated_cadence().map(str.encode),
        st.sampled_from(SNIPPETS).map(str.encode),
        st.text(max_size=300).map(str.encode),
        st.binary(max_size=300),
        st.sampled_from(["é", "\x00", "\xff"]).map(
            lambda odd: DEFAULT_CADENCE.replace("three", odd).encode("latin-1", "replace")
        ),
    )  # fmt: skip


def check_cadence_file(path: Path) -> str | None:
    """Load a cadence file: a cadence, or a short error naming the file; never anything else, never slowly."""
    started = time.thread_time()  # this thread's CPU time: the parser's work, not the machine's load
    try:
        load_cadence_file(path)
    except ConfigurationError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message[:500]
        assert len(message) < 600, message[:1000]
        return message
    finally:
        assert time.thread_time() - started < 5, "loading a cadence file took more than 5 seconds of CPU"
    return None


@SOME
@given(hostile_cadence_bytes())
def test_a_hostile_cadence_file_is_refused_with_its_file_and_never_crashes(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "default.yaml"
        path.write_bytes(content)
        message = check_cadence_file(path)
    event("valid" if message is None else "refused")


@pytest.mark.parametrize(
    ("content", "where", "reason"),
    [
        (laughs(9), ":2:", "more than 100,000 values"),  # the line of the anchors
        (SNIPPETS[3], ":2:", "a cycle"),  # the line of the anchor the alias names
        (SNIPPETS[4], ":3:", "a cycle"),
        (SNIPPETS[6], ":3:", "a number too long to read"),
        (SNIPPETS[8], " (line 3)", "a number too large to show"),
        (SNIPPETS[10], ":3:", "'2026-13-45' cannot be read as timestamp (month must be in 1..12)"),
        (SNIPPETS[11], ":3:", "'x' is not a valid timestamp"),
        (SNIPPETS[12], ":3:", "'x' cannot be read as int"),
        (SNIPPETS[15], ":3:", "could not determine a constructor"),
        (SNIPPETS[21], ":3:", "the character U+0000 is not allowed"),
        (DEFAULT_CADENCE.replace("three weeks", "thr\xe9e weeks"), ":1:", "not UTF-8 text"),
    ],
    ids=["billion-laughs", "cycle-list", "cycle-mapping", "huge-int", "huge-binary-int", "bad-date", "bad-timestamp",
         "bad-int-tag", "python-tag", "nul", "latin-1"],
)  # fmt: skip
def test_each_kind_of_broken_cadence_file_is_named_with_its_line_and_reason(
    tmp_path: Path, content: str, where: str, reason: str
) -> None:
    path = tmp_path / "default.yaml"
    path.write_bytes(content.encode("latin-1" if "\xe9" in content else "utf-8"))

    message = check_cadence_file(path)

    assert message is not None
    assert message.startswith(f"{path}{where}") or f"{path}: step 1{where}" in message, message
    assert reason in message


@pytest.fixture
def hostile_templates(tmp_path: Path) -> tuple[Path, Cli]:
    """A copy of the shipped templates folder, and the CLI pointed at it (no database needed)."""
    folder = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", folder)
    cli_env = {"CADENCE_DATABASE_URL": f"sqlite:///{tmp_path}/unused.db", "CADENCE_TEMPLATES_DIR": str(folder)}
    return folder, Cli(cli_env)


def test_the_cli_names_the_broken_cadence_file(hostile_templates: tuple[Path, Cli]) -> None:
    folder, cadence = hostile_templates
    path = folder / "cadences" / "default.yaml"

    @FEW
    @given(hostile_cadence_bytes())
    def check(content: bytes) -> None:
        path.write_bytes(content)
        message = check_cadence_file(path)
        listed = cadence("cadences", "list", expect=None)
        assert_clean(listed, 0 if message is None else 1)
        if message is not None:
            assert listed.stderr == f"error: {message}\n"

    check()


def test_templates_check_reports_the_broken_cadence_file_with_its_line(hostile_templates: tuple[Path, Cli]) -> None:
    folder, cadence = hostile_templates
    path = folder / "cadences" / "default.yaml"

    @settings(max_examples=8, deadline=None, database=None)  # each check renders every template: half a second
    @given(hostile_cadence_bytes())
    def check(content: bytes) -> None:
        path.write_bytes(content)
        message = check_cadence_file(path)
        checked = cadence("templates", "check", str(folder), "--json", expect=None)
        assert_clean(checked, 0, 1, report=True)
        problems = [p for p in checked.json()["problems"] if p["path"] == str(path)]
        if message is None:
            assert problems == []
        else:
            assert problems, checked.stdout[:2000]
            assert all(p["reason"] and (p["line"] is None or p["line"] >= 1) for p in problems)
            match = re.match(re.escape(str(path)) + r":(\d+):", message)
            if match:
                assert problems[0]["line"] == int(match.group(1))

    check()


# --- hostile qualification rules ------------------------------------------------------------------------------

QUALIFICATION = (ROOT / "templates" / "qualification.yaml").read_text(encoding="utf-8")


@SOME
@given(
    st.one_of(
        st.sampled_from(SNIPPETS),
        st.builds(lambda value: yaml.safe_dump({"persona": {"titles": value}}), VALUES),
        st.builds(lambda value: yaml.safe_dump({"classes": [{"name": "a", "priority": value}]}), VALUES),
        st.builds(lambda value: yaml.safe_dump({"source_ranks": value}), VALUES),
        st.sampled_from(["a{4294967296}", "(" * 3000 + ")" * 3000, "(?P<x", "(a+)+$"]).map(
            lambda pattern: yaml.safe_dump({"persona": {"titles": [pattern]}})
        ),
        st.text(max_size=200),
    )
)  # fmt: skip
def test_hostile_qualification_rules_are_refused_with_their_file(content: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "qualification.yaml"
        path.write_text(content, encoding="utf-8")
        started = time.thread_time()  # this thread's CPU time: the parser's work, not the machine's load
        message = ""
        try:
            load_rules(Path(folder))
        except ConfigurationError as exc:
            message = str(exc)
        assert time.thread_time() - started < 5
        if message:
            assert message.startswith(str(path)), message[:500]
            assert len(message) < 600, message[:1000]


# --- hostile command-line arguments ---------------------------------------------------------------------------

HOSTILE_ARGS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "-",
            "--",
            "-1",
            "0",
            "1",
            "-5",
            "2147483648",
            "9223372036854775808",
            "99999999999999999999999",
            "1e309",
            "nan",
            "ann@acme.example",
            "ANN@ACME.EXAMPLE",
            "@acme.example",
            "@",
            "a@b",
            "nobody@nowhere.example",
            "rita@cadence.example",
            "x@y@z",
            "a\nb",
            "a\x00b",
            "\x1b[31mred",
            "=cmd|'/c calc'!A1",
            "é李🚀",
            "2026-11-23",
            "2026-11-23T14:00:00Z",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31",
            "9999-12-31T23:59:59-23:59",
            "2026-02-30",
            "2026-11-23T25:00",
            "1969-12-31T23:59:59Z",
            "Europe/Paris",
            "Mars/Olympus",
            "../../../etc/passwd",
            "/dev/zero",
            "/",
            "email/introduction",
            "meeting_booked",
            "not-interested",
            "default",
            "30m",
            "0s",
            "99999999999999999999d",
            "--bogus",
            "--now",
            "x" * 10_000,
            "é" * 5_000,
        ]
    ),
)
X = "\x00X\x00"  # where the hostile argument goes
COMMANDS = [
    ["due", "--now", X],
    ["due", "--json", "--uncertain", "--now", X],
    ["report", "--since", X],
    ["report", "--until", X],
    ["report", "--csv", "--now", X],
    ["postcards", "export", "--now", X],
    ["plan", "ann@acme.example", "--start", X],
    ["plan", X, "--json"],
    ["plan", "ann@acme.example", "--cadence", X],
    ["leads", "show", X],
    ["leads", "list", "--owner", X],
    ["leads", "list", "--status", X],
    ["reps", "add", X, "--name", "Hostile"],
    ["reps", "add", "hostile@cadence.example", "--name", X],
    ["reps", "add", "tz@cadence.example", "--name", "Tz", "--timezone", X],
    ["reps", "add", "cap@cadence.example", "--name", "Cap", "--daily-email-cap", X],
    ["reps", "add", "sig@cadence.example", "--name", "Sig", "--signature", X, "--now", X],
    ["enroll", X],
    ["enroll", "cid@gamma.example", "--cadence", X, "--now", X],
    ["pause", X, "--now", X],
    ["resume", "ann@acme.example", "--now", X],
    ["decide", X, "--outcome", "not_interested"],
    ["decide", "bob@beta.example", "--outcome", X],
    ["decide", "bob@beta.example", "--outcome", "bad_fit", "--reason", X, "--now", X],
    ["decide", "ann@acme.example", "--outcome", "meeting_booked", "--answers", X],
    ["reply", "ann@acme.example", "--channel", X],
    ["reply", "ann@acme.example", "--note", X, "--now", X],
    ["suppress", "add", X],
    ["suppress", "add", "hostile@acme.example", "--reason", X],
    ["suppress", "remove", X],
    ["tasks", "list", "--due", X],
    ["tasks", "list", "--status", X],
    ["tasks", "list", "--owner", X],
    ["tasks", "done", X, "--outcome", "done"],
    ["tasks", "done", "1", "--outcome", X],
    ["cadences", "show", X],
    ["decisions", "list", "--outcome", X],
    ["templates", "preview", X, "--lead", "ann@acme.example"],
    ["templates", "preview", "email/introduction", "--lead", X],
    ["templates", "preview", "email/introduction", "--lead", "ann@acme.example", "--now", X, "--html", X],
    ["leads", "import", X],
    ["leads", "import", X, "--dry-run", "--owner", X],
    ["leads", "import", X, "--cadence", X],
    ["leads", "import", X, "--rejects", X],
    [X],
    ["leads", X],
    ["due", X],
]


NASTIEST = [
    "",
    "-1",
    "99999999999999999999999",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "a\x00b",
    "x" * 10_000,
    "é李🚀\n=1+1",
]


class QuickCli:
    """The same ``cadence`` command tree as ``Cli``, built once and kept with its context across invocations.

    Rebuilding the typer app and re-reading the templates for every invocation is what makes
    ``Cli`` take a sixth of a second; this one takes a few hundredths, so that every command can
    be tried with every one of the nastiest arguments.
    """

    def __init__(self, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        command = typer.main.get_command(cli.app)
        monkeypatch.setattr(typer.testing, "_get_command", lambda _app: command)
        self.env = cli_env
        self.runner = CliRunner()

    def __call__(self, *args: str) -> CliResult:
        """Run ``cadence ARGS``; any exception escapes (a crash fails the test)."""
        result = self.runner.invoke(cli.app, list(args), env=self.env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def quick_cli(seeded: Cli, monkeypatch: pytest.MonkeyPatch) -> Iterator[QuickCli]:
    """A :class:`QuickCli` on the seeded test database."""
    cli.reset_context()
    yield QuickCli(seeded.env, monkeypatch)
    cli.reset_context()


class CommandTrial:
    """Runs commands with a hostile argument and checks each outcome; a failed command must write nothing."""

    def __init__(self, run: QuickCli, snapshots: Snapshots) -> None:
        self.run = run
        self.snapshots = snapshots
        self.last = snapshots.take()  # the database as the previous command left it

    def __call__(self, command: list[str], value: str) -> CliResult:
        """Run ``command`` with ``value`` in its slots."""
        args = [value if part == X else part for part in command]
        result = self.run(*args)
        assert_clean(result, 0, 1, 2, 3)
        now = self.snapshots.take()
        if result.exit_code not in (0, 3):
            assert differences(self.last, now) == {}, args
        self.last = now
        return result


@pytest.mark.one_database
def test_every_command_survives_the_nastiest_arguments(quick_cli: QuickCli, snapshots: Snapshots) -> None:
    trial = CommandTrial(quick_cli, snapshots)
    for command in COMMANDS:
        for value in NASTIEST:
            trial(command, value)


@pytest.mark.one_database
def test_hostile_arguments_get_a_clear_message_and_a_failed_command_writes_nothing(
    quick_cli: QuickCli, snapshots: Snapshots, tmp_path: Path
) -> None:
    known = import_file(tmp_path, ["argued@acme.example"], "known-file.csv")
    trial = CommandTrial(quick_cli, snapshots)

    @settings(max_examples=100, deadline=None, database=None)
    @given(st.sampled_from(COMMANDS), HOSTILE_ARGS | st.just(str(known)))
    def check(command: list[str], value: str) -> None:
        trial(command, value)

    check()


PREFECT_COMMANDS = [
    ["simulate", "--start", "2026-11-23", "--end", "2026-11-24", "--every", "99999999999999999999d"],
    ["simulate", "--start", "2026-11-23", "--end", "2026-11-24", "--every", "9" * 5000 + "s"],
    ["simulate", "--start", "2026-11-23", "--end", "2026-11-24", "--every", "0s"],
    ["simulate", "--start", "2026-11-23", "--end", "2026-11-24", "--every", "١٢h"],  # Arabic-Indic digits
    ["simulate", "--start", "0001-01-01T00:00:00+23:59", "--end", "2026-11-24"],
    ["simulate", "--start", "2026-11-24", "--end", "2026-11-23"],
    ["simulate", "--start", "1990-01-01", "--end", "2026-11-23"],
    ["run", "--now", "9999-12-31T23:59:59-23:59"],
    ["run", "--batch-size", "99999999999999999999"],
    ["sync-replies", "--now", "x"],
]


def test_the_commands_that_start_prefect_flows_check_their_arguments_first(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They fail before the database: one backend is enough.
    database = tmp_path / "cadence.db"
    shutil.copy(sqlite_template, database)
    run = QuickCli({"CADENCE_DATABASE_URL": f"sqlite:///{database}", "CADENCE_TEMPLATES_DIR": str(ROOT / "templates")},
                   monkeypatch)  # fmt: skip
    snapshots = Snapshots(f"sqlite:///{database}")
    cli.reset_context()
    try:
        trial = CommandTrial(run, snapshots)
        for args in PREFECT_COMMANDS:
            assert trial(args, "").exit_code in (1, 2), args
    finally:
        cli.reset_context()
        snapshots.close()


QUESTION_KEYS = ("committed", "requirement", "desired_solution", "decides", "approves", "expectations", "fit")
ANSWERS = st.one_of(
    st.sampled_from(SNIPPETS),
    st.builds(yaml.safe_dump, st.dictionaries(st.sampled_from(["committed", "requirement", "fit", "x", 7]), VALUES)),
    st.builds(lambda value: yaml.safe_dump(dict.fromkeys(QUESTION_KEYS, value)), VALUES),
    st.text(max_size=100),
)


@pytest.mark.one_database
def test_a_hostile_answers_file_is_refused_with_its_name_and_records_nothing(
    quick_cli: QuickCli, snapshots: Snapshots, tmp_path: Path
) -> None:
    trial = CommandTrial(quick_cli, snapshots)
    answers = tmp_path / "answers.yaml"

    @FEW
    @given(ANSWERS)
    def check(content: str) -> None:
        answers.write_text(content, encoding="utf-8")
        result = trial(["decide", "cid@gamma.example", "--outcome", "meeting_booked", "--answers", X, "--now", NOW],
                       str(answers))  # fmt: skip
        if result.exit_code == 1:
            assert result.stderr.startswith(f"error: {answers}"), result.stderr[:300]
        else:  # seven valid answers: the meeting is recorded
            assert result.exit_code == 0, result.stderr[:300]

    check()


# --- what a user's terminal shows -----------------------------------------------------------------------------


def limit_memory() -> None:
    """Run the child with at most 2 GiB of address space: a "billion laughs" file must not need more."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.slow
def test_the_installed_cadence_shows_one_clear_line_and_no_traceback(sqlite_template: Path, tmp_path: Path) -> None:
    # Every one of these fails before it reaches the database, so one backend is enough (and the
    # in-process tests above try every command on both).
    database = tmp_path / "cadence.db"
    shutil.copy(sqlite_template, database)
    database_url = f"sqlite:///{database}"
    binary = tmp_path / "leads.xlsx.csv"
    binary.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    bomb = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", bomb)
    (bomb / "cadences" / "default.yaml").write_text(laughs(9), encoding="utf-8")
    cases: list[tuple[list[str], dict[str, str], int, str]] = [
        (["due", "--now", "9999-12-31T23:59:59-23:59"], {}, 1, "error: --now '9999-12-31T23:59:59-23:59' is outside"),
        (["leads", "import", str(binary)], {}, 1, f"error: {binary}: the file is a spreadsheet workbook"),
        (["leads", "import", "/dev/zero"], {}, 1, "error: /dev/zero: is a device, not a CSV file"),
        (["tasks", "done", "9" * 30, "--outcome", "done"], {}, 2, "Invalid value for 'task_id'"),
        (["--bogus"], {}, 2, "No such option: --bogus"),
        (["cadences", "list"], {"CADENCE_TEMPLATES_DIR": str(bomb)}, 1,
         f"error: {bomb / 'cadences' / 'default.yaml'}:2: this value repeats others through aliases"),
        # Prefect's own server, not given the time it needs to start; a Prefect server that is not there.
        (["run"], {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1", "PREFECT_HOME": str(tmp_path)}, 1,
         "error: Prefect's own API server (started because PREFECT_API_URL is not set) did not start within 1 s"),
        (["run"], {"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}, 1,
         "/api/' (PREFECT_API_URL) did not answer: start that server"),
    ]  # fmt: skip
    processes = [
        (
            args,
            code,
            expected,
            subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "cadence"), *args],
                cwd=tmp_path,
                env=cadence_env(database_url, **extra),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=limit_memory,
            ),
        )
        for args, extra, code, expected in cases
    ]
    for args, code, expected, process in processes:
        out, err = process.communicate(timeout=120)
        assert "Traceback" not in out + err, (args, err[-2000:])
        assert "internal error" not in err, (args, err[:500])
        assert process.returncode == code, (args[:3], process.returncode, err[:500])
        assert expected in err, (args[:3], err[:500])
        if code == 1:
            assert err.count("\n") == 1, (args[:3], err[:500])  # one line


def test_an_unexpected_exception_is_one_line_naming_a_bug_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("something cadence did not foresee")

    monkeypatch.setattr(cli, "app", broken)

    assert cli.main(["anything"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (RuntimeError: something cadence did not foresee): a bug in cadence")
    assert "Traceback" not in err
