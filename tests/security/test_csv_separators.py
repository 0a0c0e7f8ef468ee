"""Finding 10 of #28: a cell that a semicolon (or tab) locale splits never starts a formula."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cadence.adapters.csv_leads import ParsedCsv, RowError
from cadence.adapters.csv_rejects import write_rejects
from cadence.adapters.csv_safety import neutralize_formula
from cadence.services.postcards import postcards_csv
from tests.reliability.test_csv_exports import unsafe_cells

FINDING = "x;=cmd|' /C calc'!A0"
SPLIT_CELLS = [
    FINDING,
    "x;+1+cmd|' /C calc'!A0",
    'ACME, =HYPERLINK("http://evil.example")',
    'x;"=1+1"',
    "Paris\t@SUM(A1)",
    "1 Main St\n-2+3",
]


@pytest.mark.parametrize("cell", SPLIT_CELLS)
def test_no_part_of_a_written_cell_is_a_formula_whichever_separator_splits_it(cell: str) -> None:
    written = neutralize_formula(cell)
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(["first", written, "last"])
    assert unsafe_cells(line.getvalue()) == [], written


def test_the_finding_gets_a_quote_where_the_formula_would_start_and_is_otherwise_unchanged() -> None:
    assert neutralize_formula(FINDING) == "x;'=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "cell", ["+1 555 0100", "Paris; France", "a, b; c", "-5;+3", "Müller, Anna", "Q3; 40% done", "1 Main St\nParis"]
)
def test_text_that_no_split_makes_a_formula_is_written_unchanged_or_as_before(cell: str) -> None:
    # Only the start of "+1 555 0100" and "-5;+3" reads as a formula, and they were quoted before (#24 keeps it so).
    assert neutralize_formula(cell) == ("'" + cell if cell.startswith(("+", "-")) else cell)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_rejects_file_is_safe_in_any_locale_whatever_its_own_delimiter(tmp_path: Path, delimiter: str) -> None:
    names = [f"c{i}" for i in range(len(SPLIT_CELLS))]
    parsed = ParsedCsv(
        headers=["email", *names],
        rows=[],
        errors=[RowError(2, f"email {FINDING!r} is not valid", dict(zip(names, SPLIT_CELLS, strict=True)))],
        delimiter=delimiter,
    )
    path = tmp_path / "rejects.csv"

    write_rejects(path, parsed)

    assert unsafe_cells(path.read_bytes().decode("utf-8-sig"), delimiter) == []


def test_the_postcards_export_is_safe_in_any_locale() -> None:
    card = {"task": 1, "email": "a@acme.example", "name": FINDING, "company": SPLIT_CELLS[2],
            "address": SPLIT_CELLS[5], "copy": SPLIT_CELLS[4], "owner": None, "due_at": "2026-12-07"}  # fmt: skip

    assert unsafe_cells(postcards_csv([card])) == []
