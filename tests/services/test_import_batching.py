"""An import's chunk asks the database the same few questions however many rows it holds (issue #27).

Its rows' suppressions and accounts are read in a few queries, and its leads, accounts and
enrollments are written together; a refused chunk is written again row by row, to name the row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from cadence.adapters.models import Account, Enrollment, ImportChange, Lead
from cadence.services import lead_import
from cadence.services.context import Context
from cadence.services.reps import add_rep
from cadence.services.suppression import suppress

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def leads_file(path: Path, prefix: str, count: int) -> Path:
    """Lead-class rows at ``count`` companies of their own, every fifth one at a suppressed domain."""
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,title,company,industry,company_size,country,source,interactions\n")
        for i in range(count):
            domain = "blocked.example" if i % 5 == 4 else f"{prefix}{i}.example"
            out.write(f"{prefix}{i}@{domain},Ann{i},VP Engineering,{prefix} {i},Software,500,US,webinar,3\n")
    return path


def statements_of_import(ctx: Context, source: Path) -> tuple[int, lead_import.ImportReport]:
    """How many statements importing ``source`` (in one chunk) sends, and its report.

    On SQLite, queries only: SQLAlchemy inserts rows there one statement each (in-process calls, no
    round trip), as it cannot match RETURNING rows to the objects otherwise. On PostgreSQL every
    statement is a round trip to the server, and all of them count.
    """
    sent: list[str] = []

    def count(*args: Any) -> None:
        if ctx.engine.dialect.name == "postgresql" or args[2].lstrip().upper().startswith("SELECT"):
            sent.append(args[2])

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        report = lead_import.run_import(ctx, lead_import.FileImport(source), now=NOW)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    return len(sent), report


def test_a_chunk_sends_as_many_statements_for_eighty_rows_as_for_twenty(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.require_schema()
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@cadence.example", "Rita", now=NOW)
        add_rep(s, "sam@cadence.example", "Sam", now=NOW)
        suppress(s, "@blocked.example", now=NOW)
    monkeypatch.setattr(lead_import, "FIRST_CHUNK", 100)
    monkeypatch.setattr(lead_import, "MAX_CHUNK", 100)
    monkeypatch.setattr(lead_import, "PAUSE_SECONDS", 0.0)

    statements_of_import(ctx, leads_file(tmp_path / "first.csv", "first", 5))  # pins the cadence, reads the schema

    few, small = statements_of_import(ctx, leads_file(tmp_path / "few.csv", "few", 20))
    many, large = statements_of_import(ctx, leads_file(tmp_path / "many.csv", "many", 80))

    assert (small.imported, small.enrolled, small.suppressed) == (20, 16, 4)
    assert (large.imported, large.enrolled, large.suppressed) == (80, 64, 16)
    assert many == few, f"{few} statements for 20 rows, {many} for 80"
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 105
        assert s.scalar(select(func.count()).select_from(Enrollment)) == 84
        assert s.scalar(select(func.count()).select_from(ImportChange)) == 105
        # one account per company domain; the suppressed domain's leads share theirs
        assert s.scalar(select(func.count()).select_from(Account)) == 4 + 16 + 64 + 1
        assert s.scalar(select(func.count()).select_from(Lead).where(Lead.account_id.is_(None))) == 0


def test_a_file_repeating_an_address_in_one_chunk_enrolls_the_lead_once(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.require_schema()
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@cadence.example", "Rita", now=NOW)
    monkeypatch.setattr(lead_import, "PAUSE_SECONDS", 0.0)
    source = tmp_path / "twice.csv"
    source.write_text(
        "email,first_name,title,company,industry,company_size,country,source,interactions\n"
        "ann@acme.example,Ann,VP Engineering,Acme,Software,500,US,webinar,3\n"
        "bob@acme.example,Bob,VP Engineering,Acme,Software,500,US,webinar,3\n"
        "ann@acme.example,Annie,VP Engineering,Acme,Software,500,US,webinar,4\n",
        encoding="utf-8",
    )

    report = lead_import.run_import(ctx, lead_import.FileImport(source), now=NOW)

    assert (report.imported, report.updated, report.enrolled) == (2, 1, 2)
    with ctx.sessions() as s:
        ann = s.scalars(select(Lead).where(Lead.email == "ann@acme.example")).one()
        assert (ann.first_name, ann.interactions) == ("Annie", 4)
        assert s.scalar(select(func.count()).select_from(Enrollment).where(Enrollment.lead_id == ann.id)) == 1
        assert s.scalar(select(func.count()).select_from(Account)) == 1
