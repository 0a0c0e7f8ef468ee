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
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from cadence.adapters.csv_leads import parse_leads_csv
from cadence.errors import ValidationError
from tests.conftest import Cli, CliResult
from tests.reliability.snapshots import Snapshot, Snapshots, differences
from tests.reliability.test_csv_exports import HOSTILE_CELLS, unsafe_cells

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


def assert_clean(result: CliResult, *codes: int) -> None:
    """The command exited with one of ``codes``, and nothing in its output is a traceback."""
    output = result.stdout + result.stderr
    assert result.exit_code in codes, (result.exit_code, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in output
    assert "internal error" not in output
    if result.exit_code == 1:
        assert result.stderr.startswith("error: "), result.stderr[:2000]
        assert len(result.stderr) < 2000, result.stderr[:3000]
    if result.exit_code == 2:
        assert "Error" in result.stderr or "Usage" in result.stderr, result.stderr[:2000]


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
    rejected = {int(n): reason for n, reason in re.findall(r"^  row (\d+): (.*)$", result.stderr, re.MULTILINE)}
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
        elif table in ("enrollments", "touches", "tasks"):
            assert {row["lead_id"] for row in gone + came} <= touched, table
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


def edge_text(limit: int) -> st.SearchStrategy[str]:
    """Text of up to ``limit`` characters, often exactly ``limit``, now and then one more."""
    return st.one_of(
        st.text(PRINTABLE, min_size=limit, max_size=limit),
        st.text(PRINTABLE, min_size=1, max_size=limit),
        st.text(PRINTABLE, min_size=1, max_size=limit),
        st.text(PRINTABLE, min_size=limit + 1, max_size=limit + 1),
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

        result = seeded("leads", "import", str(source), "--json", "--now", NOW, expect=None)

        assert_clean(result, 0, 3)  # a row the parser accepted never fails the import as a whole
        assert {error["row"] for error in result.json()["errors"]}.isdisjoint(accepted)
        stored = {lead["email"]: lead for lead in snapshots.take()["leads"].values()}
        for number, lead in accepted.items():
            row, kept = rows[number - 2], stored[lead.email]
            assert {field: kept[field] for field in LIMITS} == {field: row[field] for field in LIMITS}
            assert kept["company_size"] == int(row["company_size"])
            assert kept["interactions"] >= int(row["interactions"])  # interactions only grow
            assert kept["custom"] == {"notes": row["notes"]}

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


def test_a_database_error_in_the_middle_of_an_import_leaves_the_database_exactly_as_it_was(
    refusing_database: str, seeded: Cli, snapshots: Snapshots, tmp_path: Path
) -> None:
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
    assert "nothing was imported" in result.stderr
    assert differences(before, snapshots.take()) == {}
    assert not rejects.exists()
    without = import_file(tmp_path, [e for e in emails if e != REFUSED], "without.csv")
    assert seeded("leads", "import", str(without), "--json", "--now", NOW, expect=3).json()["imported"] == 26


def test_an_unwritable_rejects_file_fails_the_import_before_anything_is_kept(
    seeded: Cli, snapshots: Snapshots, tmp_path: Path
) -> None:
    source = import_file(tmp_path, ["new1@acme.example", "new2@acme.example"])
    before = snapshots.take()

    result = seeded("leads", "import", str(source), "--rejects", str(tmp_path / "no" / "r.csv"), "--now", NOW, expect=1)

    assert_clean(result, 1)
    assert f"{tmp_path / 'no' / 'r.csv'}: cannot write the rejects file" in result.stderr
    assert differences(before, snapshots.take()) == {}


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


def writing(database_url: str, snapshots: Snapshots) -> bool:
    """Whether the import process has an open transaction that has written something."""
    if snapshots.engine.dialect.name == "postgresql":
        with snapshots.engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cadence-import-under-test' "
                "AND backend_xid IS NOT NULL"
            ).scalar()
        return bool(found)
    probe = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")  # refused while another connection holds the write lock
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        probe.close()


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_an_import_interrupted_while_it_writes_leaves_the_database_as_it_was(
    signal_number: int, seeded: Cli, database_url: str, snapshots: Snapshots, tmp_path: Path
) -> None:
    source = import_file(tmp_path, [f"many{i}@acme.example" for i in range(400)])
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
        deadline = time.monotonic() + 60
        while not writing(database_url, snapshots):
            assert process.poll() is None, ("the import ended before it was interrupted", process.communicate())
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.01)
        time.sleep(random.uniform(0.0, 0.5))  # somewhere in the middle of its rows
        assert process.poll() is None, "the import ended before it was interrupted"
        process.send_signal(signal_number)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == (-signal.SIGKILL if signal_number == signal.SIGKILL else 130), (out, err)
    assert "Traceback" not in out + err
    assert differences(before, snapshots.take()) == {}
    again = seeded("leads", "import", str(import_file(tmp_path, ["after@acme.example"], "after.csv")), "--json",
                   "--now", NOW, expect=3)  # fmt: skip
    assert again.json()["imported"] == 1  # the database is neither locked nor damaged
