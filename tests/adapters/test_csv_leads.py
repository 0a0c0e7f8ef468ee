"""Tests for the leads CSV adapter: parsing ``cadence leads import`` files and writing rejects."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadence.adapters import csv_leads
from cadence.adapters.csv_headers import normalize_header
from cadence.adapters.csv_leads import ParsedCsv, RowError, parse_leads_csv
from cadence.adapters.csv_rejects import write_rejects
from cadence.adapters.csv_safety import neutralize_formula
from cadence.core.leads import LEAD_FIELDS
from cadence.errors import CadenceError, ValidationError

BOM = codecs.BOM_UTF8


def csv_bytes(*lines: str, delimiter: str = ",", bom: bool = False) -> bytes:
    """Lines joined with CRLF (as spreadsheets write them), the delimiter swapped in for ``|``."""
    text = "".join(line.replace("|", delimiter) + "\r\n" for line in lines)
    return (BOM if bom else b"") + text.encode("utf-8")


def read_rejects(path: Path, delimiter: str = ",") -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    return list(csv.reader(io.StringIO(raw[len(BOM) :].decode("utf-8"), newline=""), delimiter=delimiter))


def reasons_by_row(parsed: ParsedCsv) -> dict[int, str]:
    return {error.row: error.reason for error in parsed.errors}


# --- good and bad rows ---------------------------------------------------------------------------------------


def test_only_a_row_without_a_usable_email_is_rejected_other_fields_are_normalized_or_left_empty() -> None:
    data = csv_bytes(
        "email|first_name|timezone|interactions|country",
        "ann@acme.example|Ann|Europe/Paris|2|fr",
        "bob@|Bob|||",
        "cid@acme.example|Cid|Mars/Olympus||",
        "dee@acme.example|Dee||lots|",
        "eve@acme.example|Eve|Eastern Time||France",
        'fay@acme.example|Fay|America/New_York|"1,200"|usa',
    )

    parsed = parse_leads_csv(data)

    assert [row.row for row in parsed.rows] == [2, 4, 5, 6, 7]
    reasons = reasons_by_row(parsed)
    assert sorted(reasons) == [3]
    assert reasons[3].startswith("email 'bob@' is not valid")
    assert parsed.errors[0].raw == {
        "email": "bob@",
        "first_name": "Bob",
        "timezone": "",
        "interactions": "",
        "country": "",
    }
    leads = {row.row: row.lead for row in parsed.rows}
    assert leads[2].warnings == ()
    assert (leads[4].timezone, leads[4].warnings) == (
        None,
        ("unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Paris): timezone left empty",),
    )
    assert (leads[5].interactions, leads[5].warnings) == (
        0,
        ("interactions must be a whole number, not 'lots': interactions set to 0",),
    )
    assert (leads[6].timezone, leads[6].address.country) == ("America/New_York", "FR")
    assert leads[6].warnings == ("country 'France' read as FR", "time zone 'Eastern Time' read as America/New_York")
    assert (leads[7].interactions, leads[7].address.country) == (1200, "US")


def test_every_standard_column_is_validated_into_the_lead() -> None:
    header = "|".join(LEAD_FIELDS)
    row = "|".join(
        [
            " Ann@Acme.Example ",
            "Ann",
            "Lee",
            "CTO",
            "Acme",
            "Robotics",
            '"1,200"',
            "+1 555 0100",
            "https://www.linkedin.com/in/annlee",
            "1 Main St",
            "Suite 2",
            "Springfield",
            "IL",
            "62701",
            "us",
            "America/Chicago",
            "Form Fill",
            "3",
            "Rep@Acme.Example",
        ]
    )

    lead = parse_leads_csv(csv_bytes(header, row)).rows[0].lead

    assert lead.email == "ann@acme.example"
    assert (lead.first_name, lead.last_name, lead.title, lead.company) == ("Ann", "Lee", "CTO", "Acme")
    assert (lead.industry, lead.company_size, lead.phone) == ("Robotics", 1200, "+1 555 0100")
    assert lead.linkedin_url == "https://www.linkedin.com/in/annlee"
    assert lead.address.lines() == ["1 Main St", "Suite 2", "62701 Springfield, IL", "US"]
    assert (lead.timezone, lead.source, lead.interactions) == ("America/Chicago", "form_fill", 3)
    assert lead.owner == "rep@acme.example"
    assert lead.custom == {}


def test_raw_cells_are_kept_unchanged_and_keyed_by_the_original_header_text() -> None:
    parsed = parse_leads_csv(csv_bytes(" E-Mail |First Name", "  ann@acme.example | Ann "))

    assert parsed.headers == [" E-Mail ", "First Name"]
    assert parsed.rows[0].raw == {" E-Mail ": "  ann@acme.example ", "First Name": " Ann "}
    assert parsed.rows[0].lead.first_name == "Ann"


# --- encodings, line endings, quoting --------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_stripped_before_the_first_header() -> None:
    parsed = parse_leads_csv(csv_bytes("Email|first_name", "ann@acme.example|Ann", bom=True))

    assert parsed.headers == ["Email", "first_name"]
    assert parsed.rows[0].lead.email == "ann@acme.example"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_unix_windows_and_old_mac_line_endings_all_work(newline: str) -> None:
    data = newline.join(["email,first_name", "ann@acme.example,Ann", "bob@acme.example,Bob", ""]).encode()

    parsed = parse_leads_csv(data)

    assert [(row.row, row.lead.first_name) for row in parsed.rows] == [(2, "Ann"), (3, "Bob")]


def test_a_file_without_a_final_newline_still_has_its_last_row() -> None:
    parsed = parse_leads_csv(b"email,first_name\nann@acme.example,Ann")

    assert [row.lead.first_name for row in parsed.rows] == ["Ann"]


def test_quoted_newlines_do_not_shift_the_row_numbers_of_later_rows() -> None:
    data = (
        b"email,company,notes\r\n"
        b'ann@acme.example,"Acme, Inc.","met at\r\nthe fair"\r\n'
        b'"bob@\nacme.example",Bobco,\r\n'
        b'cid@acme.example,"Cid ""The Kid"" Co",\r\n'
        b'dee@acme.example,"Dee\nCo","three\nline\nnote"\r\n'
        b"eve@acme.example,Eveco,\r\n"
    )

    parsed = parse_leads_csv(data)

    assert [(row.row, row.lead.email) for row in parsed.rows] == [
        (2, "ann@acme.example"),
        (4, "cid@acme.example"),
        (5, "dee@acme.example"),
        (6, "eve@acme.example"),
    ]
    assert [row.lead.company for row in parsed.rows] == ["Acme, Inc.", 'Cid "The Kid" Co', "Dee Co", "Eveco"]
    assert parsed.rows[0].raw["notes"] == "met at\r\nthe fair"
    assert parsed.rows[2].lead.warnings == ("company had line breaks: joined as 'Dee Co'",)
    assert parsed.rows[2].lead.custom["notes"] == "three\nline\nnote"
    reasons = reasons_by_row(parsed)
    assert sorted(reasons) == [3]  # a line break in an email is refused: only the email can reject a row
    assert "email" in reasons[3]


def test_unicode_names_with_accents_cjk_and_emoji_survive_intact() -> None:
    data = csv_bytes(
        "email|first_name|last_name|company",
        "zoe@acme.example|Zoë|Łukasiewicz-Ñúñez|Crème Brûlée SARL",
        "li@acme.example|李|小龙|株式会社テスト",
        "sam@acme.example|Sam 🚀|O'Brien|🍕 Pizza GmbH",
        bom=True,
    )

    leads = [row.lead for row in parse_leads_csv(data).rows]

    assert [(lead.first_name, lead.last_name, lead.company) for lead in leads] == [
        ("Zoë", "Łukasiewicz-Ñúñez", "Crème Brûlée SARL"),
        ("李", "小龙", "株式会社テスト"),
        ("Sam 🚀", "O'Brien", "🍕 Pizza GmbH"),
    ]


# --- headers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("email", "email"),
        ("EMAIL", "email"),
        ("  Email  ", "email"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("e-mail address", "email"),
        ("First Name", "first_name"),
        ("first-name", "first_name"),
        ("FIRST_NAME", "first_name"),
        ("First  -  Name", "first_name"),
        ("Time Zone", "timezone"),
        ("Address Line 1", "address_line1"),
        ("address_line2", "address_line2"),
        ("Favourite Colour", "favourite_colour"),
        ("\ufeffEmail", "email"),
    ],
)
def test_headers_are_normalised_case_and_space_insensitively(header: str, key: str) -> None:
    assert normalize_header(header) == key


def test_header_variants_map_to_the_standard_fields() -> None:
    data = csv_bytes(
        "E-Mail|FIRST NAME|last-name|Time Zone|Postal Code", "ann@acme.example|Ann|Lee|Asia/Tokyo|100-0001"
    )

    lead = parse_leads_csv(data).rows[0].lead

    assert (lead.email, lead.first_name, lead.last_name) == ("ann@acme.example", "Ann", "Lee")
    assert (lead.timezone, lead.address.postal_code, lead.custom) == ("Asia/Tokyo", "100-0001", {})


def test_empty_header_cells_at_the_end_of_the_header_are_ignored() -> None:
    parsed = parse_leads_csv(b"email,first_name,,\nann@acme.example,Ann,,\n")

    assert parsed.headers == ["email", "first_name"]
    assert parsed.rows[0].raw == {"email": "ann@acme.example", "first_name": "Ann"}


# --- delimiters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_comma_semicolon_and_tab_files_are_detected(delimiter: str) -> None:
    data = csv_bytes("email|first_name|company", 'ann@acme.example|Ann|"Acme, Inc.; Paris"', delimiter=delimiter)

    parsed = parse_leads_csv(data)

    assert parsed.delimiter == delimiter
    assert parsed.rows[0].lead.company == "Acme, Inc.; Paris"


def test_a_comma_file_with_semicolons_in_its_cells_stays_a_comma_file() -> None:
    data = csv_bytes("email,first_name,notes", "ann@acme.example,Ann,a;b;c;d", "bob@acme.example,Bob,e;f;g;h")

    parsed = parse_leads_csv(data)

    assert parsed.delimiter == ","
    assert [row.lead.custom["notes"] for row in parsed.rows] == ["a;b;c;d", "e;f;g;h"]


def test_a_semicolon_file_with_quoted_commas_in_its_cells_stays_a_semicolon_file() -> None:
    data = csv_bytes("email;company;city", 'ann@acme.example;"Acme, Inc.";Paris', 'bob@acme.example;"B, C";Lyon')

    parsed = parse_leads_csv(data)

    assert parsed.delimiter == ";"
    assert [row.lead.company for row in parsed.rows] == ["Acme, Inc.", "B, C"]


def test_a_single_column_file_uses_the_comma() -> None:
    parsed = parse_leads_csv(b"email\nann@acme.example\nbob@acme.example\n")

    assert parsed.delimiter == ","
    assert len(parsed.rows) == 2


# --- custom fields, duplicates, formulas ------------------------------------------------------------------------


def test_unknown_columns_become_custom_fields_and_empty_custom_cells_are_left_out() -> None:
    data = csv_bytes("email|Favourite Colour|Lead Score|notes", "ann@acme.example|Blue|42|", "bob@acme.example|||")

    leads = [row.lead for row in parse_leads_csv(data).rows]

    assert leads[0].custom == {"favourite_colour": "Blue", "lead_score": "42"}
    assert leads[1].custom == {}


def test_a_repeated_email_returns_both_rows_in_file_order_for_the_importer_to_treat_as_an_update() -> None:
    data = csv_bytes("email|title", "ann@acme.example|CTO", "ANN@acme.example|CEO")

    parsed = parse_leads_csv(data)

    assert [(row.row, row.lead.email, row.lead.title) for row in parsed.rows] == [
        (2, "ann@acme.example", "CTO"),
        (3, "ann@acme.example", "CEO"),
    ]
    assert parsed.errors == []


def test_cells_that_look_like_formulas_are_kept_as_plain_data_in_the_lead() -> None:
    data = csv_bytes("email|company|notes", 'ann@acme.example|=HYPERLINK("http://evil.example")|@SUM(A1)')

    lead = parse_leads_csv(data).rows[0].lead

    assert lead.company == '=HYPERLINK("http://evil.example")'
    assert lead.custom == {"notes": "@SUM(A1)"}


def test_a_formula_in_the_email_column_is_rejected_by_validation() -> None:
    parsed = parse_leads_csv(b"email\n=cmd|' /C calc'!A0\n")

    assert parsed.rows == []
    assert parsed.errors[0].raw == {"email": "=cmd|' /C calc'!A0"}
    assert "is not valid" in parsed.errors[0].reason


# --- row shapes and sizes ----------------------------------------------------------------------------------------


def test_a_row_with_more_cells_than_headers_is_rejected_and_keeps_the_extra_cells() -> None:
    parsed = parse_leads_csv(csv_bytes("email|first_name", "ann@acme.example|Ann|surprise|", "bob@acme.example|Bob"))

    assert [row.row for row in parsed.rows] == [3]
    error = parsed.errors[0]
    assert error.row == 2
    assert error.reason == "the row has 4 cells but the header has 2 columns"
    assert error.raw == {"email": "ann@acme.example", "first_name": "Ann", "extra_1": "surprise", "extra_2": ""}


def test_extra_cells_that_are_empty_are_trailing_separators_not_an_error() -> None:
    parsed = parse_leads_csv(csv_bytes("email|first_name", "ann@acme.example|Ann||  |"))

    assert parsed.errors == []
    assert parsed.rows[0].raw == {"email": "ann@acme.example", "first_name": "Ann"}


def test_a_row_with_fewer_cells_than_headers_is_padded_with_empty_cells() -> None:
    parsed = parse_leads_csv(csv_bytes("email|first_name|title|notes", "ann@acme.example|Ann"))

    row = parsed.rows[0]
    assert row.raw == {"email": "ann@acme.example", "first_name": "Ann", "title": "", "notes": ""}
    assert (row.lead.title, row.lead.custom) == (None, {})


def test_empty_rows_are_skipped_silently_but_still_count_for_row_numbers() -> None:
    data = csv_bytes("email|first_name", "", "ann@acme.example|Ann", "|", "  |  ", "bob@acme.example|Bob", "")

    parsed = parse_leads_csv(data)

    assert [(row.row, row.lead.first_name) for row in parsed.rows] == [(3, "Ann"), (6, "Bob")]
    assert parsed.errors == []


def test_empty_lines_before_the_header_are_skipped_and_counted() -> None:
    parsed = parse_leads_csv(b"\n\nemail\nann@acme.example\n")

    assert [row.row for row in parsed.rows] == [4]


def test_a_cell_larger_than_100_kb_rejects_only_its_row() -> None:
    big_ascii = "x" * (csv_leads.MAX_CELL_BYTES + 1)
    big_emoji = "🚀" * 30_000  # 30,000 characters but 120,000 UTF-8 bytes
    just_fits = "é" * (csv_leads.MAX_CELL_BYTES // 2)
    data = csv_bytes(
        "email|notes",
        f"ann@acme.example|{big_ascii}",
        f"bob@acme.example|{big_emoji}",
        f"cid@acme.example|{just_fits}",
    )

    parsed = parse_leads_csv(data)

    reasons = reasons_by_row(parsed)
    assert reasons[2] == "the cell in column 'notes' is 100,001 bytes; the limit is 100,000 (100 kB)"
    assert "120,000 bytes" in reasons[3]
    assert 4 not in reasons  # within 100 kB: the lead validation decides, and leaves the custom field empty
    assert parsed.rows[0].lead.warnings == (
        "custom field notes is longer than 2000 characters: custom field notes left empty",
    )
    assert parsed.errors[0].raw["notes"] == big_ascii
    assert [row.row for row in parsed.rows] == [4]


def test_a_csv_module_error_becomes_a_row_error_with_its_row_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_leads, "_field_limit_for", lambda _length: 50)
    data = csv_bytes("email|notes", "ann@acme.example|short", f"bob@acme.example|{'y' * 60}", "cid@acme.example|ok")

    parsed = parse_leads_csv(data)

    assert [row.row for row in parsed.rows] == [2, 4]
    assert parsed.errors[0].row == 3
    assert parsed.errors[0].reason.startswith("the CSV cannot be read here (field larger than field limit")


def test_parsing_leaves_the_csv_field_size_limit_as_it_found_it() -> None:
    before = csv.field_size_limit()

    parse_leads_csv(csv_bytes("email|notes", f"ann@acme.example|{'z' * 200_000}"))

    assert csv.field_size_limit() == before


def test_more_data_rows_than_max_rows_is_a_whole_file_error() -> None:
    data = csv_bytes("email", "a@acme.example", "", "b@acme.example", "c@acme.example")

    assert len(parse_leads_csv(data, max_rows=3).rows) == 3
    with pytest.raises(ValidationError, match="more than 2 data rows"):
        parse_leads_csv(data, max_rows=2)


# --- whole-file errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param(BOM, "the file is empty", id="bom-only"),
        pytest.param(b" \r\n\r\n\t\n", "the file is empty", id="blank-lines"),
        pytest.param(b",,,\n , \n", "the file is empty", id="empty-cells-only"),
        pytest.param(b"email,first_name\r\n", "a header row but no data rows", id="header-only"),
        pytest.param(b"email,first_name\n,\n\n", "a header row but no data rows", id="header-and-empty-rows"),
        pytest.param(b"name,phone\nAnn,555\n", "no email column (its columns are 'name', 'phone')", id="no-email"),
        pytest.param(
            b"Email, EMAIL\na@acme.example,b@acme.example\n", "'Email' and ' EMAIL' both mean 'email'", id="dup"
        ),
        pytest.param(b"email,,notes\na@acme.example,,x\n", "column 2 (B) has no header", id="blank-header"),
        pytest.param(b"email," + b"n" * 101 + b"\na@acme.example,x\n", "custom field name is longer", id="long-header"),
        pytest.param(b"email,\x01\x02\na@acme.example,x\n", "control characters", id="control-header"),
        pytest.param(b"\xff\xfee\x00m\x00", "UTF-16", id="utf16"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet workbook", id="xlsx"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "byte 0x89 at byte offset 0 (line 1)", id="png"),
        pytest.param(b"email\x00\x01\x02\n\x00", "binary, not CSV text: it contains a NUL byte (line 1)", id="nul"),
        pytest.param(
            b'email,notes\nann@acme.example,"ok"\nbob@acme.example,"never closed\ncid@acme.example,x\n',
            "row 3 (line 3) opens a quoted cell that is never closed",
            id="unclosed-quote",
        ),
    ],
)
def test_whole_file_problems_raise_a_validation_error_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        parse_leads_csv(data)


def test_a_latin1_file_is_refused_with_the_byte_offset_and_line_of_the_first_bad_byte() -> None:
    data = BOM + "email,first_name\nann@acme.example,Ann\nzoe@acme.example,Zoë\n".encode("latin-1")

    with pytest.raises(ValidationError) as caught:
        parse_leads_csv(data)

    offset = data.index(b"\xeb")
    assert f"byte 0xeb at byte offset {offset} (line 3)" in str(caught.value)
    assert "CSV UTF-8" in str(caught.value)


def test_random_binary_garbage_is_refused_as_a_whole_file_error() -> None:
    garbage = bytes((i * 197 + 13) % 256 for i in range(4096))

    with pytest.raises(ValidationError):
        parse_leads_csv(garbage)


# --- write_rejects ------------------------------------------------------------------------------------------------


def test_write_rejects_writes_row_and_reason_then_the_original_headers_in_row_order(tmp_path: Path) -> None:
    parsed = parse_leads_csv(csv_bytes("Email|First Name|owner", "bad@|Ann|", "ok@acme.example|Bob|rep@acme.example"))
    later = RowError(row=3, reason="unknown owner 'rep@acme.example'", raw=parsed.rows[0].raw)
    path = tmp_path / "rejects.csv"

    write_rejects(path, parsed, [later])

    assert read_rejects(path) == [
        ["row", "reason", "Email", "First Name", "owner"],
        ["2", parsed.errors[0].reason, "bad@", "Ann", ""],
        ["3", "unknown owner 'rep@acme.example'", "ok@acme.example", "Bob", "rep@acme.example"],
    ]


def test_write_rejects_neutralises_formulas_in_cells_and_headers(tmp_path: Path) -> None:
    cells = ["=1+1", "+33 1 23", "-2", "@SUM(A1)", "\tx", "\rx", "plain", " =not-at-start"]
    names = [f"c{i}" for i in range(len(cells))]
    parsed = ParsedCsv(
        headers=["email", "=BAD()", *names],
        rows=[],
        errors=[RowError(2, "email '=cmd' is not valid", dict(zip(names, cells, strict=True)))],
    )
    path = tmp_path / "rejects.csv"

    write_rejects(path, parsed)

    header, row = read_rejects(path)
    assert header[3] == "'=BAD()"
    assert row[2:4] == ["", ""]
    # "-2" is a plain number (a spreadsheet reads it as -2, not a formula); " =x" would run once spaces are trimmed.
    assert row[4:] == ["'=1+1", "'+33 1 23", "-2", "'@SUM(A1)", "'\tx", "'\rx", "plain", "' =not-at-start"]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=A1", "'=A1"),
        ("+1+A1", "'+1+A1"),
        ("-1-A1", "'-1-A1"),
        ("-1", "-1"),  # a plain number stays a number
        ("@x", "'@x"),
        ("\t=A1", "'\t'=A1"),
        ("\r=A1", "'\r'=A1"),
        ("a=b", "a=b"),
    ],
)
def test_neutralize_formula_prefixes_only_cells_that_start_like_a_formula(cell: str, written: str) -> None:
    assert neutralize_formula(cell) == written


def test_write_rejects_keeps_cells_beyond_the_header_as_extra_columns(tmp_path: Path) -> None:
    parsed = parse_leads_csv(csv_bytes("email|extra_1", "a@acme.example|x|y|z", "b@|q"))
    path = tmp_path / "rejects.csv"

    write_rejects(path, parsed)

    assert read_rejects(path) == [
        ["row", "reason", "email", "extra_1", "extra_1_2", "extra_2"],
        ["2", "the row has 4 cells but the header has 2 columns", "a@acme.example", "x", "y", "z"],
        ["3", parsed.errors[1].reason, "b@", "q", "", ""],
    ]


def test_write_rejects_renames_its_own_columns_when_the_file_has_row_and_reason_columns(tmp_path: Path) -> None:
    parsed = parse_leads_csv(csv_bytes("email|Row|REASON", "bad@|7|because"))
    path = tmp_path / "rejects.csv"

    write_rejects(path, parsed)

    assert read_rejects(path)[0] == ["row_2", "reason_2", "email", "Row", "REASON"]


def test_write_rejects_uses_the_delimiter_of_the_imported_file(tmp_path: Path) -> None:
    parsed = parse_leads_csv(csv_bytes("email|company", "bad@|Acme, Inc.", delimiter=";"))
    path = tmp_path / "rejects.csv"

    write_rejects(path, parsed)

    assert read_rejects(path, ";")[1][2:] == ["bad@", "Acme, Inc."]


def test_a_rejects_file_parses_back_with_the_same_cells(tmp_path: Path) -> None:
    parsed = parse_leads_csv(csv_bytes("email|first_name", "bad@|Zoë 🚀", "also bad|李"))
    path = tmp_path / "rejects.csv"
    write_rejects(path, parsed)

    again = parse_leads_csv(path.read_bytes())

    assert again.headers == ["email", "first_name"]  # its row and reason columns are not read again
    assert [error.raw for error in again.errors] == [
        {"email": "bad@", "first_name": "Zoë 🚀"},
        {"email": "also bad", "first_name": "李"},
    ]
    assert [error.row for error in again.errors] == [2, 3]


def test_write_rejects_replaces_an_existing_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    path.write_text("old content\n")
    parsed = parse_leads_csv(csv_bytes("email", "bad@"))

    write_rejects(path, parsed)

    assert read_rejects(path)[1][0] == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]


def test_write_rejects_with_no_errors_writes_just_the_header(tmp_path: Path) -> None:
    parsed = parse_leads_csv(csv_bytes("email", "ann@acme.example"))
    path = tmp_path / "rejects.csv"

    write_rejects(path, parsed)

    assert read_rejects(path) == [["row", "reason", "email"]]


def test_write_rejects_into_a_missing_folder_raises_a_cadence_error(tmp_path: Path) -> None:
    parsed = parse_leads_csv(csv_bytes("email", "bad@"))

    with pytest.raises(CadenceError, match="cannot write the rejects file"):
        write_rejects(tmp_path / "missing" / "rejects.csv", parsed)


def test_write_rejects_over_a_folder_raises_a_cadence_error_and_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "rejects.csv").mkdir()
    parsed = parse_leads_csv(csv_bytes("email", "bad@"))

    with pytest.raises(CadenceError, match="cannot write the rejects file"):
        write_rejects(tmp_path / "rejects.csv", parsed)
    assert [p.name for p in tmp_path.iterdir()] == ["rejects.csv"]


# --- properties -------------------------------------------------------------------------------------------------


def non_empty_data_records(data: bytes, delimiter: str) -> list[int]:
    """Row numbers of the non-empty records after the header (the first non-empty record)."""
    text = data.removeprefix(BOM).decode("utf-8")
    rows = [
        number
        for number, record in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1)
        if any(cell.strip() for cell in record)
    ]
    return rows[1:]


def check_accounts_for_every_record(data: bytes) -> None:
    try:
        parsed = parse_leads_csv(data)
    except ValidationError:
        return
    numbers = sorted([row.row for row in parsed.rows] + [error.row for error in parsed.errors])
    assert numbers == non_empty_data_records(data, parsed.delimiter)


CSVISH = st.text(alphabet=st.sampled_from(list(',;\t"\r\n =+-@xé李🚀\x00')), max_size=300)
PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_raise_a_validation_error_and_never_anything_else(data: bytes) -> None:
    check_accounts_for_every_record(data)


@PROPERTY
@given(
    st.sampled_from([b"", BOM]),
    st.sampled_from(["", "email,", "email;", "email\t", "Email,notes\n", "email;x\n"]),
    CSVISH,
)
def test_csv_like_text_parses_or_raises_a_validation_error_and_never_anything_else(
    bom: bytes, start: str, body: str
) -> None:
    check_accounts_for_every_record(bom + (start + body).encode("utf-8"))


CELLS = st.one_of(
    st.sampled_from(["", " ", "ann@acme.example", "Bob@Acme.Example", "=1+1", "Europe/Paris", '"', "a,b;c\td"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20),
)


@PROPERTY
@given(
    st.sampled_from([",", ";", "\t"]),
    st.booleans(),
    st.lists(st.lists(CELLS, max_size=5), max_size=12),
)
def test_text_made_csvs_account_for_every_non_empty_row_with_its_row_number(
    delimiter: str, bom: bool, rows: list[list[str]]
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["email", "first_name", "Notes"])
    writer.writerows(rows)
    data = (BOM if bom else b"") + buffer.getvalue().encode("utf-8")
    expected = [number for number, row in enumerate(rows, start=2) if any(cell.strip() for cell in row)]

    if not expected:
        with pytest.raises(ValidationError, match="no data rows"):
            parse_leads_csv(data)
        return
    parsed = parse_leads_csv(data)

    assert parsed.delimiter == delimiter
    assert [row.row for row in parsed.rows] == [n for n in expected if n not in {e.row for e in parsed.errors}]
    assert sorted([row.row for row in parsed.rows] + [error.row for error in parsed.errors]) == expected


def test_one_row_dict_is_validated_as_an_import_row() -> None:
    lead = csv_leads.lead_from_row(
        {"E-mail Address": "Ann@Acme.example", "Job Title": "VP", "Time Zone": "Pacific Time", "Topic": "pricing"}
    )
    assert (lead.email, lead.title, lead.timezone) == ("ann@acme.example", "VP", "America/Los_Angeles")
    assert lead.custom == {"topic": "pricing"}
    assert lead.warnings == ("time zone 'Pacific Time' read as America/Los_Angeles",)
    with pytest.raises(ValidationError, match="no email column"):
        csv_leads.lead_from_row({"name": "Ann"})
