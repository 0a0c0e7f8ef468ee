"""Finding 3 of issue #28: an import must not lock other writers out, nor hold the file in memory.

Between two chunks of an import, another writer that does not wait at all (SQLite's busy timeout
of 0) gets the write lock: each chunk is its own transaction, and the lock is free between them.
Before, one transaction held it for the whole file ("database is locked" for every other writer).
The file is read as a stream: the reader yields its first row before it has read the file's end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import text

from cadence.adapters import csv_leads
from cadence.adapters.db import make_engine
from cadence.services import lead_import
from cadence.services.context import Context
from cadence.services.reps import add_rep

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def leads_file(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,interactions\n")
        for i in range(count):
            out.write(f"p{i}@acme.example,Ann{i},3\n")
    return path


def test_between_two_chunks_of_an_import_another_writer_gets_the_lock_at_once(
    ctx: Context, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.require_schema()
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@cadence.example", "Rita", now=NOW)
    monkeypatch.setattr(lead_import, "FIRST_CHUNK", 10)
    monkeypatch.setattr(lead_import, "MAX_CHUNK", 10)
    monkeypatch.setattr(lead_import, "CHUNK_SECONDS", 1000.0)
    impatient = make_engine(database_url, sqlite_busy_timeout_ms=0)
    wrote: list[int] = []

    def another_writer(progress: lead_import.Progress) -> None:
        with impatient.begin() as connection:  # raises "database is locked" if the import holds the lock
            connection.execute(
                text("INSERT INTO suppressions (value, reason, created_at) VALUES (:v, 'test', :t)"),
                {"v": f"x{progress.done}@blocked.example", "t": NOW.replace(tzinfo=None)},
            )
        wrote.append(progress.done)

    try:
        report = lead_import.run_import(
            ctx, lead_import.FileImport(leads_file(tmp_path / "leads.csv", 35)), now=NOW, progress=another_writer
        )
    finally:
        impatient.dispose()

    assert report.imported == 35
    assert wrote == [10, 20, 30, 35]


@pytest.mark.one_database
def test_the_reader_yields_the_first_row_before_it_reads_the_end_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = leads_file(tmp_path / "big.csv", 30_000)  # about 1 MB: several blocks
    monkeypatch.setattr(csv_leads, "_BLOCK", 4096)
    layout = csv_leads.check_leads_csv(path)
    read: list[int] = []
    original = Path.open

    class Counting:
        """The file, counting the bytes read from it."""

        def __init__(self, stream: BinaryIO) -> None:
            self.stream = stream

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *_exc: object) -> None:
            self.stream.close()

        def read(self, size: int = -1) -> bytes:
            data = self.stream.read(size)
            read.append(len(data))
            return data

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        stream = original(self, *args, **kwargs)
        return Counting(stream) if self == path else stream

    monkeypatch.setattr(Path, "open", counting_open)
    rows = csv_leads.read_leads_csv(path, layout)
    first = next(rows)

    assert first.row == 2
    assert 0 < sum(read) < path.stat().st_size // 10
    assert max(read) <= 4096
    rows.close()
