"""Reading a leads CSV file (``cadence leads import FILE.csv``).

No database. :func:`read_leads_file` reads a file (refusing folders, devices and files over
1 GiB); :func:`parse_leads_csv` turns its bytes into validated leads (:class:`ParsedRow`) and
rejected rows (:class:`RowError`); :func:`~.csv_rejects.write_rejects` writes the rejected rows
back out so that the user can fix them in a spreadsheet.

The rules, in the words a spreadsheet user would use:

- The file is UTF-8 text, with or without a byte-order mark. Comma, semicolon and tab files are
  accepted (the delimiter is detected); the rejects file uses the same delimiter.
- The first non-empty row is the header. Headers match case- and space-insensitively:
  ``"First Name"``, ``"first-name"`` and ``"first_name"`` are the same column (see
  :func:`~.csv_headers.normalize_header`, and :data:`~.csv_headers.HEADER_ALIASES` for the few alternative names).
  Empty header cells at the end of the header row (trailing separators) are ignored.
- Any column that is not one of :data:`~cadence.core.leads.LEAD_FIELDS` is a custom field, keyed by
  its normalised header; empty custom cells are left out.
- Row numbers are the ones a spreadsheet shows: the header is row 1 (when it is the first
  record) and each CSV record is one row, even when a quoted cell spans several lines.
- Entirely empty rows are skipped silently (they still count for row numbers). A row with more
  cells than the header is rejected, unless the extra cells are all empty (trailing separators);
  a row with fewer cells is padded with empty cells.
- Cells are data, never formulas: ``=1+1`` is kept as-is in the lead (and then validated like any
  other value); :func:`~.csv_rejects.write_rejects` prefixes cells that a spreadsheet would run as a formula
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
import itertools
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cadence.adapters.csv_headers import HEADER_ALIASES, normalize_header, plain_key, unique_name
from cadence.adapters.csv_safety import unneutralize_formula
from cadence.core.leads import LEAD_FIELDS, LeadData, clean_text, make_lead
from cadence.errors import ValidationError

MAX_FILE_BYTES = 1 << 30
"""The largest file :func:`read_leads_file` reads (1 GiB): far more than the most rows an import takes."""

MAX_ROWS = 1_000_000
"""The most data rows one file may have."""

MAX_CELL_BYTES = 100_000
"""The largest cell accepted, in UTF-8 bytes (100 kB); a larger cell makes its row a :class:`RowError`."""


DELIMITERS = ",;\t"
"""The delimiters that :func:`parse_leads_csv` recognises; comma when in doubt."""

_STANDARD = frozenset(LEAD_FIELDS)
_SNIFF_LINES = 50
_SNIFF_CHARS = 4_000
_BLOCK = 1 << 20  # bytes read at a time
_RUNAWAY_CELL = 4 * MAX_CELL_BYTES + 4  # characters: any cell this long is over MAX_CELL_BYTES anyway
_REJECTS_ROW = re.compile(r"row(_[0-9]+)?")
_REJECTS_REASON = re.compile(r"reason(_[0-9]+)?")
_IGNORED = "ignore"
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
    order; ``delimiter`` is the detected delimiter (:func:`~.csv_rejects.write_rejects` writes with it).
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


def read_leads_file(path: Path) -> bytes:
    """The bytes of the leads file at ``path`` (a file, or a pipe such as ``/dev/stdin``).

    Raises :class:`ValidationError`, naming the path, for a missing or unreadable file, a folder,
    a device (a terminal, ``/dev/zero``...) and anything larger than :data:`MAX_FILE_BYTES`.
    Reads the whole file into memory: an import streams it instead (:func:`leads_source`).
    """
    with leads_source(path) as source, source.open("rb") as stream:
        return stream.read()


@contextlib.contextmanager
def leads_source(path: Path) -> Iterator[Path]:
    """A regular file holding the leads file at ``path``: ``path`` itself, or a copy of a pipe's bytes.

    An import reads its file twice (:func:`check_leads_csv`, then :func:`read_leads_csv`), which a
    pipe cannot give; its bytes are copied to a temporary file, removed afterwards. Raises
    :class:`ValidationError`, naming the path, as :func:`read_leads_file` says.
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
    if stat.S_ISREG(info.st_mode):
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            raise ValidationError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="cadence-import-") as folder:
        copy = Path(folder) / "leads.csv"
        try:
            with path.open("rb") as stream, copy.open("wb") as out:
                total = 0
                while block := stream.read(_BLOCK):
                    total += len(block)
                    if total > MAX_FILE_BYTES:
                        raise ValidationError(too_large)
                    out.write(block)
        except OSError as exc:
            raise ValidationError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        yield copy


def same_file(first: Path, second: Path) -> bool:
    """Whether both paths name one existing file (so that writing the one would overwrite the other)."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):  # one of them does not exist, or cannot be looked up
        return False


@dataclass(frozen=True)
class CsvLayout:
    """What :func:`check_leads_csv` learnt of a whole file: enough to read its rows one at a time.

    ``headers`` are the original header texts of the data columns, in file order (a rejects file's
    ``row`` and ``reason`` columns left out); ``keys`` the field or custom-field key of each;
    ``skip`` how many leading columns are ignored (2 for a rejects file, else 0); ``rows`` how many
    data rows the file has; ``widest`` the most cells a row has beyond the header.
    """

    headers: list[str]
    keys: list[str]
    delimiter: str
    rows: int
    skip: int = 0
    widest: int = 0
    size: int = 0

    @property
    def custom_columns(self) -> list[str]:
        """The headers of the columns that become custom fields (no standard field matches them)."""
        return [header for header, key in zip(self.headers, self.keys, strict=True) if key not in _STANDARD]

    @property
    def mapped_columns(self) -> dict[str, str]:
        """Each header that is not already a field's own name, and the standard field it fills."""
        return {
            header: key
            for header, key in zip(self.headers, self.keys, strict=True)
            if key in _STANDARD and plain_key(header) != key
        }

    @property
    def extra_names(self) -> list[str]:
        """The rejects file's names for cells beyond the last header (``extra_1``...)."""
        return _extra_names(self.headers, self.widest)


def check_leads_csv(path: Path, *, mapping: dict[str, str] | None = None, max_rows: int = MAX_ROWS) -> CsvLayout:
    """Read the whole file at ``path`` once, keeping nothing but its layout; raise for a whole-file problem.

    Raises :class:`ValidationError` for what :func:`parse_leads_csv` refuses as a whole (not UTF-8,
    binary, empty, no email column, duplicate columns, an unclosed quote, more than ``max_rows``
    data rows), before anything is imported. Memory does not grow with the file.
    """
    with path.open("rb") as stream:
        return _layout(stream, mapping or {}, max_rows, path.stat().st_size)


def read_leads_csv(path: Path, layout: CsvLayout) -> Iterator[ParsedRow | RowError]:
    """The data rows of the file at ``path``, one at a time, valid or not, as ``layout`` says to read them."""
    with path.open("rb") as stream:
        yield from _rows(stream, layout)


def parse_leads_csv(data: bytes, *, max_rows: int = MAX_ROWS, mapping: dict[str, str] | None = None) -> ParsedCsv:
    """Parse the bytes of a leads CSV file into valid rows and row errors (all in memory: a small file).

    Raises :class:`ValidationError` for a problem with the whole file (see the module
    documentation); never raises anything else, whatever the bytes.
    """
    data = bytes(data)
    layout = _layout(io.BytesIO(data), mapping or {}, max_rows, len(data))
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    for result in _rows(io.BytesIO(data), layout):
        (errors if isinstance(result, RowError) else rows).append(result)  # type: ignore[arg-type]
    return ParsedCsv(headers=layout.headers, rows=rows, errors=errors, delimiter=layout.delimiter)


def lead_from_row(row: dict[str, Any], mapping: dict[str, str] | None = None) -> LeadData:
    """One row given as {column name: value} (a CSV row, a form, an API body) validated into a lead.

    The same rules as an import row: column names as :func:`~.csv_headers.normalize_header` reads them (aliases and
    ``mapping`` included), other columns as custom fields, optional fields normalized or left empty
    with a warning (``LeadData.warnings``). Raises :class:`ValidationError` for a row without an email
    column or without a usable email.
    """
    headers = [str(name) for name in row]
    _headers, keys, _skip = _read_header(headers, mapping or {})
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for key, header in zip(keys, headers, strict=True):
        cell = row[header]
        if key in _STANDARD:
            values[key] = cell
        elif key != _IGNORED and cell is not None and str(cell).strip():
            custom[key] = cell
    return make_lead(values, custom, lenient=True)


def _layout(stream: BinaryIO, mapping: dict[str, str], max_rows: int, size: int) -> CsvLayout:
    """The layout of the file in ``stream`` (see :func:`check_leads_csv`)."""
    delimiter = _detect_delimiter(list(itertools.islice(_lines(stream), _SNIFF_LINES)))
    stream.seek(0)
    header: _Record | None = None
    count = widest = 0
    width = 0
    for record in _records(stream, delimiter, size):
        if record.blank:
            continue
        if header is None:
            header = record
            if header.cells is None:
                raise ValidationError(f"the header row (row {header.row}) cannot be read: {header.error}")
            width = len(_trim(header.cells))
            continue
        count += 1
        if count > max_rows:
            raise ValidationError(f"the file has more than {max_rows:,} data rows: split it into smaller files")
        if record.cells is not None and len(record.cells) > width:
            overflow = record.cells[width:]
            if any(cell.strip() for cell in overflow):
                widest = max(widest, len(overflow))
    if header is None or header.cells is None:
        raise ValidationError("the file is empty")
    headers, keys, skip = _read_header(header.cells, mapping)
    if count == 0:
        raise ValidationError("the file has a header row but no data rows")
    return CsvLayout(headers, keys, delimiter, count, skip, widest, size)


def _rows(stream: BinaryIO, layout: CsvLayout) -> Iterator[ParsedRow | RowError]:
    """Every data row of ``stream`` validated (the header and blank rows left out)."""
    seen_header = False
    for record in _records(stream, layout.delimiter, layout.size):
        if record.blank:
            continue
        if not seen_header:
            seen_header = True
            continue
        if record.cells is not None and layout.skip:
            record = _Record(record.row, record.line, record.cells[layout.skip :])
        yield _parse_record(record, layout.headers, layout.keys)


def _lines(stream: BinaryIO) -> Iterator[str]:
    """The text lines of ``stream`` (line ends kept), checked as UTF-8 text block by block.

    Raises ValidationError for a file that is empty, UTF-16, a workbook, not UTF-8 or binary,
    naming the byte offset and line of the first bad byte. A line feed byte is never part of
    a multi-byte UTF-8 character, so cutting blocks after one keeps every character whole.
    """
    first = stream.read(_BLOCK)
    if not first:
        raise ValidationError("the file is empty")
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValidationError("the file is UTF-16 text, not UTF-8: save it as 'CSV UTF-8' and try again")
    if first.startswith(_WORKBOOK_MAGIC):
        raise ValidationError(
            "the file is a spreadsheet workbook (such as .xlsx, .xls or .ods), not CSV: "
            "save it as 'CSV UTF-8' and try again"
        )
    offset = len(codecs.BOM_UTF8) if first.startswith(codecs.BOM_UTF8) else 0
    pending = first[offset:]
    line = 1
    done = False
    while not done:
        block = stream.read(_BLOCK)
        done = not block
        pending += block
        cut = len(pending) if done else pending.rfind(b"\n") + 1
        if cut == 0:
            continue
        part, pending = pending[:cut], pending[cut:]
        try:
            text = part.decode("utf-8")
        except UnicodeDecodeError as exc:
            at = offset + exc.start
            where = line + part.count(b"\n", 0, exc.start)
            raise ValidationError(
                f"the file is not UTF-8 text: byte 0x{part[exc.start]:02x} at byte offset {at} (line {where}) "
                "is not valid UTF-8 (the file may be in Windows-1252 or Latin-1): save it as 'CSV UTF-8' and try again"
            ) from None
        if "\x00" in text:
            where = line + text.count("\n", 0, text.index("\x00"))
            raise ValidationError(f"the file is binary, not CSV text: it contains a NUL byte (line {where})")
        offset += cut
        line += part.count(b"\n")
        yield from io.StringIO(text, newline="").readlines()


def _records(stream: BinaryIO, delimiter: str, size: int) -> Iterator[_Record]:
    """Every CSV record of ``stream``, numbered as spreadsheet rows; ValidationError for an unclosed last quote."""
    current: list[list[str]] = [[]]

    def feed() -> Iterator[str]:
        for text in _lines(stream):
            current[0].append(text)
            yield text

    reader = csv.reader(feed(), delimiter=delimiter)
    limit = _field_limit_for(min(size, _RUNAWAY_CELL))
    row = 0
    last: list[str] = []
    while True:
        start = reader.line_num
        current[0] = []
        row += 1
        try:
            with _field_size_limit(limit):
                cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            record = _Record(row, start + 1, None, f"the CSV cannot be read here ({exc})")
        else:
            record = _Record(row, start + 1, cells)
        last = current[0]
        yield record
        last_row, last_line = record.row, record.line
    if last and _unclosed_quote(last, delimiter):
        raise ValidationError(
            f"row {last_row} (line {last_line}) opens a quoted cell that is never closed, so the rest of the file "
            'would be read as that one cell: check the quotes (") on that line'
        )


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


def _trim(cells: list[str]) -> list[str]:
    """The header cells without the empty ones at the end (trailing separators)."""
    headers = list(cells)
    while headers and not headers[-1].strip():
        headers.pop()
    return headers


def _read_header(cells: list[str], mapping: dict[str, str]) -> tuple[list[str], list[str], int]:
    """The original header texts, their column keys and how many leading columns to skip.

    A rejects file's first two columns (``row`` and ``reason``, or ``row_2``... when the imported
    file had columns of those names) are skipped. A column named like a standard field takes it;
    an alias (:data:`~.csv_headers.HEADER_ALIASES`) or a ``--map`` fills a field no other column fills, else the
    column is a custom field under its own name (HubSpot's ``Phone Number`` and ``Mobile Phone
    Number`` are a phone and a custom field). Raises ValidationError for an unusable header.
    """
    headers = _trim(cells)
    skip = (
        2
        if len(headers) > 2
        and _REJECTS_ROW.fullmatch(plain_key(headers[0]))
        and _REJECTS_REASON.fullmatch(plain_key(headers[1]))
        else 0
    )
    headers = headers[skip:]
    plain = [plain_key(header) for header in headers]
    unknown = [key for key in mapping if key not in plain]
    if unknown:  # a misspelt column would otherwise be read as it is, in silence
        listed = ", ".join(repr(_shorten(header)) for header in headers[:_MAX_LISTED_HEADERS])
        more = ", ..." if len(headers) > _MAX_LISTED_HEADERS else ""
        raise ValidationError(
            f"--map {_shorten(unknown[0])!r}: the file has no such column (its columns are {listed}{more}; "
            "case, spaces and dashes do not matter)"
        )
    wanted = [mapping.get(key, HEADER_ALIASES.get(key, key)) for key in plain]
    taken = {key for key, want in zip(plain, wanted, strict=True) if key == want and key in _STANDARD}
    keys: list[str] = []
    seen: dict[str, str] = {}
    for index, (original, key, want) in enumerate(zip(headers, plain, wanted, strict=True), start=1 + skip):
        column = f"column {index} ({_column_letter(index)})"
        if not key:
            raise ValidationError(f"{column} has no header: name it or delete the column")
        if want != key and want in _STANDARD:
            if want in taken and key not in mapping:
                want = key  # the field has its own column: this one is kept as a custom field
            taken.add(want)
        if want in seen:
            first, second, meaning = _shorten(seen[want]), _shorten(original), _shorten(want)
            raise ValidationError(f"the columns {first!r} and {second!r} both mean {meaning!r}: keep one")
        if want not in _STANDARD and want != _IGNORED:
            try:
                clean_text("custom field name", want, max_length=100)
            except ValidationError as exc:
                raise ValidationError(f"{column} cannot be a custom field: {exc}") from None
        if want != _IGNORED:
            seen[want] = original
        keys.append(want)
    if "email" not in seen:
        listed = ", ".join(repr(_shorten(header)) for header in headers[:_MAX_LISTED_HEADERS])
        more = ", ..." if len(headers) > _MAX_LISTED_HEADERS else ""
        raise ValidationError(f"the file has no email column (its columns are {listed}{more})")
    return headers, keys, skip


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
        cell = unneutralize_formula(raw[header])
        if key in _STANDARD:
            values[key] = cell
        elif key != _IGNORED and cell.strip():
            custom[key] = cell
    try:
        lead = make_lead(values, custom, lenient=True)
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
    return [unique_name(f"extra_{index}", taken) for index in range(1, count + 1)]


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
