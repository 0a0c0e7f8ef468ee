"""Importing a CSV file of leads, streamed: read it in chunks, write each chunk in a short transaction.

The file is read twice and never held in memory: :func:`~cadence.adapters.csv_leads.check_leads_csv`
reads it once for its layout (a whole-file problem stops the import before anything is written),
then its rows are validated and written a chunk at a time, each chunk in its own transaction of
a fraction of a second, so that other writers (the web workspace, the advance flow, ``suppress
add``...) wait behind an import for at most one chunk. Memory does not grow with the file.

The import is still one import: an ``imports`` row records the file, who ran it, when, and its
counts, and ``import_changes`` each lead it created or updated (with the fields it had before), so
that :func:`undo_import` (``cadence leads import --undo ID``) can take it back. Rejected rows go to
the rejects file as they come; it is put in place at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cadence.adapters.csv_headers import parse_mapping
from cadence.adapters.csv_leads import (
    CsvLayout,
    ParsedRow,
    RowError,
    check_leads_csv,
    leads_source,
    read_leads_csv,
    same_file,
)
from cadence.adapters.csv_rejects import RejectsFile
from cadence.adapters.db import SQLITE_WRITER_PAUSE_S, long_writer_turn
from cadence.adapters.models import (
    Account,
    AccountChange,
    Decision,
    Enrollment,
    Import,
    ImportChange,
    InboundMessage,
    Lead,
    Response,
    Task,
    Touch,
)
from cadence.errors import CadenceError, NotFound, ValidationError, database_problem
from cadence.services.context import Context
from cadence.services.leads import (
    MAX_LISTED,
    SNAPSHOT,
    ImportAborted,
    ImportReport,
    ImportRow,
    RowsRefused,
    import_leads,
)

CHUNK_SECONDS = 0.25
"""How long one chunk's transaction aims to take on SQLite, where it holds the database's only write lock:
about the longest another writer waits behind an import."""

POSTGRESQL_CHUNK_SECONDS = 1.0
"""The same on PostgreSQL, where a chunk locks only the rows it writes (new ones, mostly): other writers do
not wait behind it, and longer chunks spend less of the import on each chunk's few queries."""

FIRST_CHUNK = 50
"""Rows in the first chunk; later chunks grow or shrink to take about :data:`CHUNK_SECONDS`."""

MAX_CHUNK = 2_000
PAUSE_SECONDS = SQLITE_WRITER_PAUSE_S
"""The pause after each chunk on SQLite, in the import's turn (:func:`cadence.adapters.db.long_writer_turn`),
so that every other writer waiting for the lock takes its turn."""


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
    mapping: tuple[str, ...] = ()
    """``--map "Column Name=field"`` options."""
    by: str | None = None
    """Who runs the import (recorded with it)."""


@dataclass(frozen=True)
class Progress:
    """How far an import is: rows read of the file's rows, and the counts so far."""

    done: int
    total: int
    report: ImportReport


def run_import(
    ctx: Context,
    request: FileImport,
    *,
    now: datetime,
    progress: Callable[[Progress], None] | None = None,
) -> ImportReport:
    """Import ``request.file`` a chunk at a time (Day 0 is ``now``); return what was done, or would be.

    Raises :class:`ValidationError` (naming the file) for a file that cannot be read or parsed as a
    whole, before anything is written, and :class:`ImportAborted` when the database refuses a chunk:
    the chunks before it stay imported (the message says how to undo them), that chunk is not.
    ``progress`` is called after each chunk.
    """
    file, rejects = request.file, request.rejects
    if rejects is not None and same_file(rejects, file):
        raise ValidationError(f"--rejects {rejects} is the file being imported: name another file")
    mapping = parse_mapping(request.mapping)
    ctx.require_schema()
    _check_choices(ctx, request)  # before the import is recorded: a refused command writes nothing
    with leads_source(file) as source:
        try:
            layout = check_leads_csv(source, mapping=mapping)
        except ValidationError as exc:
            raise ValidationError(f"{file}: {exc}") from None
        writer = RejectsFile(rejects, layout) if rejects is not None else None
        try:
            report = _stream(ctx, request, source, layout, writer, now=now, progress=progress)
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        if writer is not None:
            if writer.count:
                writer.commit()
            else:
                writer.discard()
    return report


def _check_choices(ctx: Context, request: FileImport) -> None:
    """Refuse an unknown ``--cadence`` or ``--owner`` (:class:`NotFound`) before anything is written."""
    if request.cadence is not None and request.cadence not in ctx.cadences:
        raise NotFound(f"no cadence named {request.cadence!r}; known: {', '.join(sorted(ctx.cadences))}")
    if request.owner:
        from cadence.services.reps import get_rep

        with ctx.sessions() as session:
            get_rep(session, request.owner)


def _stream(
    ctx: Context,
    request: FileImport,
    source: Path,
    layout: CsvLayout,
    writer: RejectsFile | None,
    *,
    now: datetime,
    progress: Callable[[Progress], None] | None,
) -> ImportReport:
    """Read, validate and write the rows of ``source`` a chunk at a time (see :func:`run_import`)."""
    report = ImportReport(dry_run=request.dry_run, rows=layout.rows)
    report.custom_columns = layout.custom_columns
    report.mapped_columns = layout.mapped_columns
    journal = None if request.dry_run else _open_journal(ctx, request, layout)
    report.import_id = journal
    rejected = 0
    done = 0
    size = [FIRST_CHUNK]
    sqlite = ctx.engine.dialect.name == "sqlite"
    target = CHUNK_SECONDS if sqlite else max(CHUNK_SECONDS, POSTGRESQL_CHUNK_SECONDS)

    def reject(error: RowError) -> None:
        nonlocal rejected
        rejected += 1
        if len(report.errors) < MAX_LISTED:
            report.errors.append({"row": error.row, "reason": error.reason})
        if writer is not None:
            writer.write(error)

    try:
        for chunk in _chunks(read_leads_csv(source, layout), lambda: size[0]):
            rows = [item for item in chunk if isinstance(item, ParsedRow)]
            for item in chunk:
                if isinstance(item, RowError):
                    reject(item)
            for row in rows:
                if row.lead.warnings:
                    report.warned += 1
                    for warning in row.lead.warnings:
                        if len(report.warnings) < MAX_LISTED:
                            report.warnings.append({"row": row.row, "warning": warning})
            with long_writer_turn(ctx.engine, pause=0.0 if request.dry_run else PAUSE_SECONDS):
                started = time.monotonic()
                part = _write_chunk(ctx, request, rows, journal, report, rejected, now=now)
                elapsed = time.monotonic() - started
            report.add(part)
            report.warnings.extend(part.warnings[: max(0, MAX_LISTED - len(report.warnings))])
            raw = {row.row: row.raw for row in rows}
            for error in part.errors:
                reject(RowError(error["row"], error["reason"], raw.get(error["row"], {})))
            done += len(chunk)
            size[0] = _next_size(size[0], elapsed, target)
            if progress is not None:
                progress(Progress(done, layout.rows, report))
    except ImportAborted as exc:
        kept = (
            f"the rows before were imported as import {journal}: "
            f"`cadence leads import --undo {journal}` takes them back"
        )
        message = f"{request.file}: {exc}" + (f"; {kept}" if journal is not None and done else "")
        _close_journal(ctx, journal, report, rejected, state="failed", message=str(exc))
        raise ImportAborted(message) from None
    except BaseException as exc:
        _close_journal(ctx, journal, report, rejected, state="failed", message=str(exc) or type(exc).__name__)
        raise
    report.errors.sort(key=lambda error: error["row"])
    report.rejected_count = rejected
    _close_journal(ctx, journal, report, rejected, state="done", message=None)
    return report


def _chunks(items: Iterator[ParsedRow | RowError], size: Callable[[], int]) -> Iterator[list[ParsedRow | RowError]]:
    """``items`` in lists of ``size()`` (asked before each list)."""
    chunk: list[ParsedRow | RowError] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size():
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _next_size(size: int, elapsed: float, target: float) -> int:
    """The next chunk's size: about ``target`` seconds of writing at the pace the last chunk went."""
    if elapsed <= 0:
        return min(MAX_CHUNK, size * 2)
    wanted = int(size * target / elapsed)
    return max(1, min(MAX_CHUNK, size * 2, wanted))


def _write_chunk(
    ctx: Context,
    request: FileImport,
    rows: list[ParsedRow],
    journal: int | None,
    report: ImportReport,
    rejected: int,
    *,
    now: datetime,
) -> ImportReport:
    """Import ``rows`` in one transaction (rolled back in a dry run) and bring the journal's counts up to date.

    The rows are written together; when the database refuses them, they are imported again one at a
    time in a new transaction, which either names the row it refuses or (a passing problem) imports them.
    """
    try:
        return _write_rows(ctx, request, rows, journal, report, rejected, now=now, flush_each=False)
    except RowsRefused:
        return _write_rows(ctx, request, rows, journal, report, rejected, now=now, flush_each=True)


def _write_rows(
    ctx: Context,
    request: FileImport,
    rows: list[ParsedRow],
    journal: int | None,
    report: ImportReport,
    rejected: int,
    *,
    now: datetime,
    flush_each: bool,
) -> ImportReport:
    """One try of :func:`_write_chunk`: ``flush_each`` writes each row before the next (to name a refused one)."""
    try:
        with ctx.sessions() as s, s.begin():
            part = import_leads(
                s,
                [ImportRow(row=r.row, lead=r.lead) for r in rows],
                now=now,
                settings=ctx.settings,
                rules=ctx.rules,
                cadences=ctx.cadences,
                default_owner=request.owner,
                cadence_override=request.cadence,
                enroll=request.enroll,
                journal=journal,
                flush_each=flush_each,
            )
            if request.dry_run:
                s.rollback()
            elif journal is not None:
                entry = s.get(Import, journal)
                if entry is not None:
                    total = ImportReport(**{name: getattr(report, name) for name in _COUNTED})
                    total.add(part)
                    entry.counts = _counts(total, rejected + len(part.errors))
    except SQLAlchemyError as exc:  # at the commit: no row to name
        first = rows[0].row if rows else 0
        raise ImportAborted(
            f"the database refused the rows from row {first} ({database_problem(exc)}), so they were not imported"
        ) from None
    return part


_COUNTED = ("imported", "updated", "enrolled", "names", "unfit", "suppressed")


def _counts(report: ImportReport, rejected: int) -> dict[str, Any]:
    """The counts an import records."""
    return {**{name: getattr(report, name) for name in _COUNTED}, "rejected": rejected}


def _open_journal(ctx: Context, request: FileImport, layout: CsvLayout) -> int:
    """Record a new running import; its id."""
    with ctx.sessions() as s, s.begin():
        entry = Import(
            file=str(request.file)[:1000],
            imported_by=(request.by or None) and str(request.by)[:320],
            state="running",
            started_at=datetime.now(UTC),
            rows=layout.rows,
            counts={},
        )
        s.add(entry)
        s.flush()
        return entry.id


def _close_journal(
    ctx: Context, journal: int | None, report: ImportReport, rejected: int, *, state: str, message: str | None
) -> None:
    """Record how the import ended (best effort: a database that is down keeps it ``running``)."""
    if journal is None:
        return
    try:
        with ctx.sessions() as s, s.begin():
            entry = s.get(Import, journal)
            if entry is not None:
                entry.state = state
                entry.finished_at = datetime.now(UTC)
                entry.counts = _counts(report, rejected)
                entry.message = message[:2000] if message else None
    except SQLAlchemyError:
        pass


# -- Listing and undoing imports -------------------------------------------------------------------


def list_imports(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    """The latest imports, newest first: id, file, who, state, when, rows and counts."""
    query = select(Import).order_by(Import.id.desc()).limit(limit)
    return [
        {
            "id": entry.id,
            "file": entry.file,
            "by": entry.imported_by,
            "state": entry.state,
            "started_at": entry.started_at.isoformat(),
            "finished_at": entry.finished_at.isoformat() if entry.finished_at else None,
            "undone_at": entry.undone_at.isoformat() if entry.undone_at else None,
            "rows": entry.rows,
            "counts": entry.counts or {},
            "message": entry.message,
        }
        for entry in session.scalars(query)
    ]


@dataclass
class UndoReport:
    """What undoing an import did."""

    import_id: int
    removed: int = 0
    restored: int = 0
    unenrolled: int = 0
    kept: list[dict[str, str]] = field(default_factory=list)
    """Leads left as they are, each with why (``{"email", "reason"}``)."""

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for ``--json``)."""
        return {
            "import_id": self.import_id,
            "removed": self.removed,
            "restored": self.restored,
            "unenrolled": self.unenrolled,
            "kept": self.kept,
        }


def undo_import(ctx: Context, import_id: int, *, force: bool = False, chunk: int = 200) -> UndoReport:
    """Take back import ``import_id``, a chunk of leads per transaction, latest change first.

    - A lead the import **created** is deleted, with the enrollment the import gave it, when nothing
      has happened to it since: no step run (no touch), no task, response, reply read, decision, and
      no later import touched it. Otherwise it is kept, and listed with the reason.
    - A lead the import **updated** gets back the fields it had before (contact and profile fields,
      custom fields, interactions, owner, and its qualification: kind, class, cadence, reasons), unless
      a later import changed it too (it is kept, listed). An enrollment the import started is removed
      when no step of it has run yet (the lead's status goes back too); once a step has run, the
      enrollment and the status are kept and the lead is listed.
    - Suppressions, reps, and what happened to the leads after the import are never undone.

    Raises :class:`NotFound` for an unknown import and :class:`ValidationError` for one undone already
    or still running (an import that stopped part-way is ``failed`` and can be undone; one whose
    process was killed stays ``running``: ``force`` undoes it).
    """
    ctx.require_schema()
    with ctx.sessions() as s:
        entry = s.get(Import, import_id)
        if entry is None:
            raise NotFound(f"no import {import_id} (`cadence leads imports` lists them)")
        if entry.state == "undone":
            raise ValidationError(f"import {import_id} was undone already, at {entry.undone_at}")
        if entry.state == "running" and not force:
            raise ValidationError(
                f"import {import_id} is still running, or its process stopped before it could record that: "
                "when no import is running, undo it with --force"
            )
    return _undo(ctx, import_id, chunk)


def _undo(ctx: Context, import_id: int, chunk: int) -> UndoReport:
    report = UndoReport(import_id)
    last: int | None = None
    try:
        while True:
            with ctx.sessions() as s, s.begin():
                query = select(ImportChange).where(ImportChange.import_id == import_id)
                if last is not None:
                    query = query.where(ImportChange.id < last)
                changes = list(s.scalars(query.order_by(ImportChange.id.desc()).limit(chunk)))
                if not changes:
                    entry = s.get(Import, import_id)
                    if entry is not None:
                        entry.state = "undone"
                        entry.undone_at = datetime.now(UTC)
                        entry.counts = {**(entry.counts or {}), "undo": report.as_dict()}
                    break
                for change in changes:
                    _undo_change(s, change, report)
                last = changes[-1].id
    except SQLAlchemyError as exc:
        raise CadenceError(
            f"the database refused to undo import {import_id} ({database_problem(exc)}): what was undone before "
            "stays undone; run the same command again to finish"
        ) from None
    return report


def _undo_change(s: Session, change: ImportChange, report: UndoReport) -> None:
    """Take back one lead's change (see :func:`undo_import`)."""
    lead = s.get(Lead, change.lead_id)
    if lead is None:  # pragma: no cover - leads are not deleted otherwise
        s.delete(change)
        return
    later = s.scalar(
        select(func.count())
        .select_from(ImportChange)
        .where(ImportChange.lead_id == lead.id, ImportChange.import_id > change.import_id)
    )
    if later:
        report.kept.append({"email": lead.reference, "reason": "a later import changed it"})
        s.delete(change)
        return
    history = _history(s, lead)
    if change.created:
        if history:
            report.kept.append({"email": lead.reference, "reason": f"kept: {history}"})
            s.delete(change)
            return
        account_id = lead.account_id
        s.execute(delete(ImportChange).where(ImportChange.lead_id == lead.id))
        s.execute(delete(Enrollment).where(Enrollment.lead_id == lead.id))
        s.execute(delete(Lead).where(Lead.id == lead.id))
        if account_id is not None:
            _drop_if_empty(s, account_id)
        report.removed += 1
        return
    before = dict(change.before or {})
    status_back = True
    if change.enrolled:
        if history:
            report.kept.append({"email": lead.reference, "reason": f"enrollment kept: {history}"})
            status_back = False
        else:
            s.execute(delete(Enrollment).where(Enrollment.lead_id == lead.id))
            report.unenrolled += 1
    elif lead.status not in ("name", "unfit", "lead"):
        status_back = False
    for name in SNAPSHOT:
        if name == "updated_at" or name not in before or (name == "status" and not status_back):
            continue
        setattr(lead, name, before[name])
    if "updated_at" in before:
        lead.updated_at = datetime.fromisoformat(before["updated_at"])
    s.delete(change)
    report.restored += 1


def _drop_if_empty(s: Session, account_id: int) -> None:
    """Delete the account of a lead just taken back when it has no contact left and no history of its own.

    Accounts are made for the leads that join them: one left with no lead, never merged, split or
    reassigned, is the one the import made for the leads it created.
    """
    used = (
        exists().where(Lead.account_id == account_id),
        exists().where(Account.merged_into_id == account_id),
        exists().where(or_(AccountChange.account_id == account_id, AccountChange.other_account_id == account_id)),
    )
    if not any(s.scalar(select(test)) for test in used):
        s.execute(delete(Account).where(Account.id == account_id))


def _history(s: Session, lead: Lead) -> str:
    """What has happened to ``lead`` that an undo must not erase ('' when nothing)."""
    checks = (
        (Touch, Touch.lead_id, "a step has run"),
        (Task, Task.lead_id, "it has a task"),
        (Response, Response.lead_id, "it has a response"),
        (InboundMessage, InboundMessage.lead_id, "a reply was read"),
        (Decision, Decision.lead_id, "it has a decision"),
        (Lead, Lead.referred_by_id, "it referred another lead"),
    )
    for _model, column, reason in checks:
        if s.scalar(select(exists().where(column == lead.id))):
            return reason
    return ""
