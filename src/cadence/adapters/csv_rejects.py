"""The rejects file of an import: the rows it refused, with their row number and reason, in the
imported file's own columns and delimiter, written atomically; cells a spreadsheet would run as a
formula are neutralised."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cadence.adapters.csv_headers import normalize_header, unique_name
from cadence.adapters.csv_leads import DELIMITERS, CsvLayout, ParsedCsv, RowError
from cadence.adapters.csv_safety import neutralize_formula
from cadence.errors import CadenceError


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
    row_column = unique_name("row", taken)
    reason_column = unique_name("reason", taken)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=parsed.delimiter if parsed.delimiter in DELIMITERS else ",")
    writer.writerow([neutralize_formula(cell) for cell in (row_column, reason_column, *columns)])
    for error in errors:
        cells = [str(error.row), error.reason, *(error.raw.get(column, "") for column in columns)]
        writer.writerow([neutralize_formula(cell) for cell in cells])
    _atomic_write(path, buffer.getvalue().encode("utf-8-sig"))


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


class RejectsFile:
    """A rejects file written row by row as an import streams, in place only when :meth:`commit` is called.

    Its columns are those of :func:`write_rejects`: ``row``, ``reason``, the file's headers, and
    ``extra_N`` for cells beyond them. Until :meth:`commit`, the rows go to a temporary file next to
    ``path`` (so a file that cannot be written fails before the import starts).
    """

    def __init__(self, path: Path, layout: CsvLayout) -> None:
        """Open the temporary file and write the header row; :class:`CadenceError` if it cannot be written."""
        self.path = path
        self.columns = [*layout.headers, *layout.extra_names]
        taken = {normalize_header(column) for column in self.columns}
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise CadenceError(f"{path}: cannot write the rejects file ({exc.strerror or exc})") from None
        self._temporary = temporary
        self._stream = os.fdopen(handle, "w", encoding="utf-8-sig", newline="")
        delimiter = layout.delimiter if layout.delimiter in DELIMITERS else ","
        self._writer = csv.writer(self._stream, delimiter=delimiter)
        head = [unique_name("row", taken), unique_name("reason", taken), *self.columns]
        self._write([neutralize_formula(cell) for cell in head])
        self.count = 0

    def write(self, error: RowError) -> None:
        """Add one rejected row."""
        cells = [str(error.row), error.reason, *(error.raw.get(column, "") for column in self.columns)]
        self._write([neutralize_formula(cell) for cell in cells])
        self.count += 1

    def commit(self) -> None:
        """Put the file in place (replacing ``path`` atomically); :class:`CadenceError` if that fails."""
        try:
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._stream.close()
            os.replace(self._temporary, self.path)
        except OSError as exc:
            self.discard()
            raise CadenceError(f"{self.path}: cannot write the rejects file ({exc.strerror or exc})") from None

    def discard(self) -> None:
        """Remove the temporary file (nothing is written to ``path``)."""
        with contextlib.suppress(OSError):
            self._stream.close()
        with contextlib.suppress(OSError):
            os.unlink(self._temporary)

    def _write(self, cells: list[str]) -> None:
        try:
            self._writer.writerow(cells)
        except OSError as exc:
            self.discard()
            raise CadenceError(f"{self.path}: cannot write the rejects file ({exc.strerror or exc})") from None
