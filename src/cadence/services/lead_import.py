"""Importing a CSV file of leads: read it, import its valid rows, and write the rejected rows back out.

The rows the CSV reader rejects and the rows the import rejects are reported together, in file
order; with ``rejects``, they are written to that file, with their reasons, before the commit, so
that a rejects file that cannot be written leaves the database as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from cadence.adapters.csv_leads import ParsedCsv, RowError, parse_leads_csv, read_leads_file, same_file, write_rejects
from cadence.errors import ValidationError, database_problem
from cadence.services.context import Context
from cadence.services.leads import ImportAborted, ImportReport, ImportRow, import_leads


@dataclass(frozen=True)
class FileImport:
    """What to import and how: the CSV file and the choices of ``cadence leads import``."""

    file: Path
    owner: str | None = None
    """Owner of rows that name none (None: round-robin)."""
    cadence: str | None = None
    """Enroll every lead in this cadence instead of its class's."""
    enroll: bool = True
    dry_run: bool = False
    """Report what would happen, and write nothing to the database (the rejects file is still written)."""
    rejects: Path | None = None
    """Write the rejected rows, with their reasons, to this CSV file."""


def read_import(request: FileImport) -> ParsedCsv:
    """Read and parse ``request.file``; nothing is written yet.

    Raises :class:`ValidationError` (naming the file) for a file that cannot be read or parsed, and
    for a rejects file that is the file being imported.
    """
    file, rejects = request.file, request.rejects
    if rejects is not None and same_file(rejects, file):
        raise ValidationError(f"--rejects {rejects} is the file being imported: name another file")
    data = read_leads_file(file)
    try:
        return parse_leads_csv(data)
    except ValidationError as exc:
        raise ValidationError(f"{file}: {exc}") from None


def import_parsed(ctx: Context, request: FileImport, parsed: ParsedCsv, *, now: datetime) -> ImportReport:
    """Import the rows :func:`read_import` read (Day 0 is ``now``); return what was done, or would be.

    ``report.errors`` holds every rejected row, the reader's and the import's, sorted by row; with
    ``request.rejects`` they are written there before the commit. Raises :class:`ImportAborted` when
    the database refuses the import, and :class:`CadenceError` when the rejects file cannot be written:
    nothing is imported then.
    """
    file, rejects = request.file, request.rejects
    ctx.require_schema()
    try:
        with ctx.sessions() as s, s.begin():
            report = import_leads(
                s,
                [ImportRow(row=r.row, lead=r.lead) for r in parsed.rows],
                now=now,
                settings=ctx.settings,
                rules=ctx.rules,
                cadences=ctx.cadences,
                default_owner=request.owner,
                cadence_override=request.cadence,
                enroll=request.enroll,
            )
            report.dry_run = request.dry_run
            raw_by_row = {r.row: r.raw for r in parsed.rows}
            late = [RowError(e["row"], e["reason"], raw_by_row.get(e["row"], {})) for e in report.errors]
            report.errors = sorted(
                [{"row": e.row, "reason": e.reason} for e in parsed.errors] + report.errors, key=lambda e: e["row"]
            )
            if rejects is not None and report.errors:
                write_rejects(rejects, parsed, late)  # before the commit: unwritable, nothing is imported
            if request.dry_run:
                s.rollback()
    except ImportAborted as exc:
        raise ImportAborted(f"{file}: {exc}") from None
    except SQLAlchemyError as exc:  # at the commit: no row to name
        raise ImportAborted(
            f"{file}: the database refused the import ({database_problem(exc)}), so nothing was imported"
        ) from None
    return report
