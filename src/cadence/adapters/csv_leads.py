"""Reading a leads CSV file (``cadence leads import FILE.csv``) and writing its rejects file.

No database. :func:`read_leads_file` reads a file (refusing folders, devices and files over
1 GiB); :func:`parse_leads_csv` turns its bytes into validated leads (:class:`ParsedRow`) and
rejected rows (:class:`RowError`); :func:`write_rejects` writes the rejected rows back out so that
the user can fix them in a spreadsheet.

The rules, in the words a spreadsheet user would use:

- The file is UTF-8 text, with or without a byte-order mark. Comma, semicolon and tab files are
  accepted (the delimiter is detected); the rejects file uses the same delimiter.
- The first non-empty row is the header. Headers match case- and space-insensitively:
  ``"First Name"``, ``"first-name"`` and ``"first_name"`` are the same column (see
  :func:`normalize_header`, and :data:`HEADER_ALIASES` for the few alternative names).
  Empty header cells at the end of the header row (trailing separators) are ignored.
- Any column that is not one of :data:`~cadence.core.leads.LEAD_FIELDS` is a custom field, keyed by
  its normalised header; empty custom cells are left out.
- Row numbers are the ones a spreadsheet shows: the header is row 1 (when it is the first
  record) and each CSV record is one row, even when a quoted cell spans several lines.
- Entirely empty rows are skipped silently (they still count for row numbers). A row with more
  cells than the header is rejected, unless the extra cells are all empty (trailing separators);
  a row with fewer cells is padded with empty cells.
- Cells are data, never formulas: ``=1+1`` is kept as-is in the lead (and then validated like any
  other value); :func:`write_rejects` prefixes cells that a spreadsheet would run as a formula
  with ``'`` (:func:`~cadence.adapters.csv_safety.neutralize_formula`, shared by every CSV cadence writes).
- Whole-file problems (not UTF-8, binary, empty, no ``email`` column, duplicate columns, an unclosed
  quote, too many rows) raise :class:`~cadence.errors.ValidationError`; every other problem is a
  :class:`RowError` and the valid rows are still returned.
- A repeated email inside one file is **not** an error here: both rows are returned, in file
  order, and the importer treats the later one as an update of the earlier one.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cadence.adapters.csv_safety import neutralize_formula
from cadence.core.leads import LEAD_FIELDS, LeadData, clean_text, make_lead
from cadence.errors import CadenceError, ValidationError

MAX_FILE_BYTES = 1 << 30
"""The largest file :func:`read_leads_file` reads (1 GiB): far more than the most rows an import takes."""

MAX_CELL_BYTES = 100_000
"""The largest cell accepted, in UTF-8 bytes (100 kB); a larger cell makes its row a :class:`RowError`."""

HEADER_ALIASES: dict[str, str] = {
    "e_mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "address_line_1": "address_line1",
    "address_line_2": "address_line2",
    "time_zone": "timezone",
}
"""Alternative (already normalised) header names and the standard column each one means."""

DELIMITERS = ",;\t"
"""The delimiters that :func:`parse_leads_csv` recognises; comma when in doubt."""

_STANDARD = frozenset(LEAD_FIELDS)
_SEPARATORS = re.compile(r"[\s\-_]+")
_SNIFF_LINES = 50
_SNIFF_CHARS = 4_000
_MAX_FIELD_LIMIT = 2**31 - 1  # csv.field_size_limit takes a C long, which is 32 bits on Windows
_FIELD_LIMIT_LOCK = threading.Lock()
_MAX_LISTED_HEADERS = 10
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # .xlsx/.ods (zip), .xls (OLE2)


@dataclass(frozen=True)
class RowError:
    """A rejected row: its spreadsheet row number, why it was rejected, and its original cells.

    ``raw`` is keyed by the original header text. Cells beyond the last header (a row with too
    many cells) are kept under made-up keys ``extra_1``, ``extra_2``... so that the rejects file
    loses nothing.
    """

    row: int
    reason: str
    raw: dict[str, str]


@dataclass(frozen=True)
class ParsedRow:
    """A valid row: its spreadsheet row number, the validated lead, and its original cells."""

    row: int
    lead: LeadData
    raw: dict[str, str]


@dataclass(frozen=True)
class ParsedCsv:
    """The result of parsing a leads CSV file.

    ``headers`` are the original header texts, in file order; ``rows`` and ``errors`` are in file
    order; ``delimiter`` is the detected delimiter (:func:`write_rejects` writes with it).
    """

    headers: list[str]
    rows: list[ParsedRow]
    errors: list[RowError]
    delimiter: str = ","


@dataclass(frozen=True)
class _Record:
    """One CSV record: ``cells`` is None when the csv module could not read it (``error`` says why)."""

    row: int
    line: int
    cells: list[str] | None
    error: str = ""

    @property
    def blank(self) -> bool:
        return self.cells is not None and not any(cell.strip() for cell in self.cells)


def normalize_header(text: str) -> str:
    """The column key for a header text: trimmed, lower-cased, runs of spaces/hyphens/underscores as ``_``.

    ``" First  Name "`` and ``"first-name"`` give ``first_name``; the aliases in
    :data:`HEADER_ALIASES` are then applied (``"E-mail"`` gives ``email``).
    """
    key = _SEPARATORS.sub("_", text.replace("\ufeff", "").strip().lower()).strip("_")
    return HEADER_ALIASES.get(key, key)


def read_leads_file(path: Path) -> bytes:
    """The bytes of the leads file at ``path`` (a file, or a pipe such as ``/dev/stdin``).

    Raises :class:`ValidationError`, naming the path, for a missing or unreadable file, a folder,
    a device (a terminal, ``/dev/zero``...) and anything larger than :data:`MAX_FILE_BYTES`.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a path the system cannot even look up (an embedded NUL)
        raise ValidationError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValidationError(f"{path}: is a folder, not a CSV file")
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
        raise ValidationError(f"{path}: is a device, not a CSV file")
    too_large = f"{path}: the file is larger than {MAX_FILE_BYTES >> 30} GiB: split it into smaller files"
    if info.st_size > MAX_FILE_BYTES:
        raise ValidationError(too_large)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:  # a pipe, or a file that grew while we read it
        raise ValidationError(too_large)
    return data


def same_file(first: Path, second: Path) -> bool:
    """Whether both paths name one existing file (so that writing the one would overwrite the other)."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):  # one of them does not exist, or cannot be looked up
        return False


def parse_leads_csv(data: bytes, *, max_rows: int = 1_000_000) -> ParsedCsv:
    """Parse the bytes of a leads CSV file into valid rows and row errors.

    Raises :class:`ValidationError` for a problem with the whole file (see the module
    documentation); never raises anything else, whatever the bytes.
    """
    text = _decode(bytes(data))
    lines = io.StringIO(text, newline="").readlines()
    delimiter = _detect_delimiter(lines)
    records = _read_records(lines, delimiter, len(text), max_rows)
    non_blank = [record for record in records if not record.blank]
    if not non_blank:
        raise ValidationError("the file is empty")
    header = non_blank[0]
    if header.cells is None:
        raise ValidationError(f"the header row (row {header.row}) cannot be read: {header.error}")
    headers, keys = _read_header(header.cells)
    data_records = non_blank[1:]
    if not data_records:
        raise ValidationError("the file has a header row but no data rows")
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    for record in data_records:
        result = _parse_record(record, headers, keys)
        if isinstance(result, RowError):
            errors.append(result)
        else:
            rows.append(result)
    return ParsedCsv(headers=headers, rows=rows, errors=errors, delimiter=delimiter)


def write_rejects(path: Path, parsed: ParsedCsv, extra: Sequence[RowError] = ()) -> None:
    """Write the rejected rows (``parsed.errors`` and ``extra``, by row number) to a CSV file at ``path``.

    The columns are ``row`` and ``reason`` followed by the original headers (and ``extra_N`` columns
    for rows that had too many cells). The file is UTF-8 with a byte-order mark (so that Excel
    reads accents correctly), uses the delimiter of the imported file, and replaces ``path``
    atomically. Cells that a spreadsheet would run as a formula are prefixed with ``'``
    (:func:`~cadence.adapters.csv_safety.neutralize_formula`).
    ``extra`` is for rows that the importer rejected later (for example an unknown owner).

    Raises :class:`CadenceError` if the file cannot be written.
    """
    errors = sorted([*parsed.errors, *extra], key=lambda error: error.row)
    columns = list(parsed.headers)
    known = set(columns)
    for error in errors:
        for key in error.raw:
            if key not in known:
                known.add(key)
                columns.append(key)
    taken = {normalize_header(column) for column in columns}
    row_column = _unique_name("row", taken)
    reason_column = _unique_name("reason", taken)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=parsed.delimiter if parsed.delimiter in DELIMITERS else ",")
    writer.writerow([neutralize_formula(cell) for cell in (row_column, reason_column, *columns)])
    for error in errors:
        cells = [str(error.row), error.reason, *(error.raw.get(column, "") for column in columns)]
        writer.writerow([neutralize_formula(cell) for cell in cells])
    _atomic_write(path, buffer.getvalue().encode("utf-8-sig"))


def _decode(data: bytes) -> str:
    """The text of the file, without its byte-order mark, or a ValidationError saying why not."""
    if not data:
        raise ValidationError("the file is empty")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValidationError("the file is UTF-16 text, not UTF-8: save it as 'CSV UTF-8' and try again")
    if data.startswith(_WORKBOOK_MAGIC):
        raise ValidationError(
            "the file is a spreadsheet workbook (such as .xlsx, .xls or .ods), not CSV: "
            "save it as 'CSV UTF-8' and try again"
        )
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line = data.count(b"\n", 0, offset) + 1
        raise ValidationError(
            f"the file is not UTF-8 text: byte 0x{data[offset]:02x} at byte offset {offset} (line {line}) "
            "is not valid UTF-8 (the file may be in Windows-1252 or Latin-1): save it as 'CSV UTF-8' and try again"
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ValidationError(f"the file is binary, not CSV text: it contains a NUL byte (line {line})")
    if not text.strip():
        raise ValidationError("the file is empty")
    return text


def _detect_delimiter(lines: list[str]) -> str:
    """Comma, semicolon or tab, as the header row shows; the csv.Sniffer decides when it has several.

    The header row decides the columns, so a delimiter it does not contain is never chosen; with
    none of them, the file has one column and the comma is as good as any. The Sniffer only sees
    a small sample: its regular expressions take quadratic time on some inputs.
    """
    header = next((line for line in lines if line.strip()), "")
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    present = [delimiter for delimiter in DELIMITERS if counts[delimiter] > 0]
    if len(present) <= 1:
        return present[0] if present else ","
    sample = "".join(lines[:_SNIFF_LINES])[:_SNIFF_CHARS]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except Exception:  # a heuristic: it gives up (csv.Error) on plenty of valid files
        sniffed = ""
    if sniffed in present:
        return sniffed
    return max(present, key=lambda delimiter: counts[delimiter])  # ties go to the comma, then the semicolon


@contextlib.contextmanager
def _field_size_limit(limit: int) -> Iterator[None]:
    """Set the csv module's (process-wide) field size limit for a while, then restore it."""
    with _FIELD_LIMIT_LOCK:
        previous = csv.field_size_limit(limit)
        try:
            yield
        finally:
            csv.field_size_limit(previous)


def _field_limit_for(text_length: int) -> int:
    """A field size limit that no field of a text this long can reach (cells are checked against MAX_CELL_BYTES)."""
    return min(text_length + 1, _MAX_FIELD_LIMIT)


def _read_records(lines: list[str], delimiter: str, text_length: int, max_rows: int) -> list[_Record]:
    """Every CSV record, numbered as spreadsheet rows; raises ValidationError beyond ``max_rows`` data rows."""
    records: list[_Record] = []
    non_blank = 0
    reader = csv.reader(lines, delimiter=delimiter)
    last_start = 0
    with _field_size_limit(_field_limit_for(text_length)):
        while True:
            start = reader.line_num
            row = len(records) + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                record = _Record(row, start + 1, None, f"the CSV cannot be read here ({exc})")
            else:
                record = _Record(row, start + 1, cells)
            records.append(record)
            last_start = start
            if not record.blank:
                non_blank += 1
                if non_blank > max_rows + 1:  # the header is not a data row
                    raise ValidationError(f"the file has more than {max_rows:,} data rows: split it into smaller files")
    if records and _unclosed_quote(lines[last_start:], delimiter):
        last = records[-1]
        raise ValidationError(
            f"row {last.row} (line {last.line}) opens a quoted cell that is never closed, so the rest of the file "
            'would be read as that one cell: check the quotes (") on that line'
        )
    return records


def _unclosed_quote(lines: list[str], delimiter: str) -> bool:
    """Whether the record made of ``lines`` (the last one of the file) ends inside a quoted cell.

    Adds a line after it: a closed record leaves that line as a record of its own, an open one
    swallows it.
    """
    text = "".join(lines)
    if not text.endswith(("\n", "\r")):
        text += "\n"
    with _field_size_limit(_field_limit_for(len(text) + 1)):
        try:
            return sum(1 for _ in csv.reader(io.StringIO(text + "x", newline=""), delimiter=delimiter)) < 2
        except csv.Error:
            return False


def _read_header(cells: list[str]) -> tuple[list[str], list[str]]:
    """The original header texts and their column keys; raises ValidationError for an unusable header."""
    headers = list(cells)
    while headers and not headers[-1].strip():
        headers.pop()
    keys: list[str] = []
    seen: dict[str, str] = {}
    for index, original in enumerate(headers, start=1):
        column = f"column {index} ({_column_letter(index)})"
        key = normalize_header(original)
        if not key:
            raise ValidationError(f"{column} has no header: name it or delete the column")
        if key in seen:
            raise ValidationError(
                f"the columns {_shorten(seen[key])!r} and {_shorten(original)!r} both mean {_shorten(key)!r}: keep one"
            )
        if key not in _STANDARD:
            try:
                clean_text("custom field name", key, max_length=100)
            except ValidationError as exc:
                raise ValidationError(f"{column} cannot be a custom field: {exc}") from None
        seen[key] = original
        keys.append(key)
    if "email" not in seen:
        listed = ", ".join(repr(_shorten(header)) for header in headers[:_MAX_LISTED_HEADERS])
        more = ", ..." if len(headers) > _MAX_LISTED_HEADERS else ""
        raise ValidationError(f"the file has no email column (its columns are {listed}{more})")
    return headers, keys


def _parse_record(record: _Record, headers: list[str], keys: list[str]) -> ParsedRow | RowError:
    """Validate one data record into a ParsedRow, or say why it is rejected."""
    if record.cells is None:
        return RowError(record.row, record.error, {})
    cells = record.cells
    raw = {header: cells[index] if index < len(cells) else "" for index, header in enumerate(headers)}
    overflow = cells[len(headers) :]
    if any(cell.strip() for cell in overflow):
        raw.update(zip(_extra_names(headers, len(overflow)), overflow, strict=True))
        return RowError(record.row, f"the row has {len(cells)} cells but the header has {len(headers)} columns", raw)
    for header, cell in raw.items():
        size = _utf8_size(cell)
        if size > MAX_CELL_BYTES:
            return RowError(
                record.row,
                f"the cell in column {_shorten(header)!r} is {size:,} bytes; the limit is {MAX_CELL_BYTES:,} (100 kB)",
                raw,
            )
    values: dict[str, str] = {}
    custom: dict[str, str] = {}
    for key, header in zip(keys, headers, strict=True):
        cell = raw[header]
        if key in _STANDARD:
            values[key] = cell
        elif cell.strip():
            custom[key] = cell
    try:
        lead = make_lead(values, custom)
    except ValidationError as exc:
        return RowError(record.row, str(exc), raw)
    return ParsedRow(record.row, lead, raw)


def _utf8_size(cell: str) -> int:
    """The size of ``cell`` in UTF-8 bytes (without encoding the small cells, which cannot be too big)."""
    if len(cell) * 4 <= MAX_CELL_BYTES:
        return len(cell)
    return len(cell.encode("utf-8", "surrogatepass"))


def _extra_names(headers: list[str], count: int) -> list[str]:
    """Keys for the cells beyond the last header: ``extra_1``... unlike any header (same for every row)."""
    taken = {normalize_header(header) for header in headers}
    return [_unique_name(f"extra_{index}", taken) for index in range(1, count + 1)]


def _unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever does not normalise to a name in ``taken``; adds it there."""
    name, number = base, 1
    while normalize_header(name) in taken:
        number += 1
        name = f"{base}_{number}"
    taken.add(normalize_header(name))
    return name


def _column_letter(index: int) -> str:
    """The spreadsheet letter of a 1-based column number: 1 is A, 27 is AA."""
    letters = ""
    while index > 0:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _shorten(text: str, limit: int = 60) -> str:
    """``text``, cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _atomic_write(path: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file next to ``path``, then rename it over ``path``."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise CadenceError(f"{path}: cannot write the rejects file ({exc.strerror or exc})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise CadenceError(f"{path}: cannot write the rejects file ({exc.strerror or exc})") from None
        raise
