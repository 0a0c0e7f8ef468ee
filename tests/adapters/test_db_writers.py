"""Writers on SQLite: the long-running ones take turns and pause in theirs; each write transaction can be traced."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from cadence.adapters.db import SQLITE_TRACE_ENV, long_writer_turn, make_engine


def test_long_writers_take_turns_on_sqlite_and_not_on_postgresql(database_url: str, backend: str) -> None:
    engine = make_engine(database_url)
    entered = threading.Event()
    inside: list[str] = []

    def second() -> None:
        with long_writer_turn(engine, pause=0.0):
            inside.append("second")
            entered.set()

    with long_writer_turn(engine, pause=0.0):
        inside.append("first")
        waiting = threading.Thread(target=second)
        waiting.start()
        entered.wait(timeout=1.0)
        during = list(inside)
    waiting.join(timeout=30)
    engine.dispose()
    if backend == "sqlite":
        assert during == ["first"]  # the second waited for the first's turn to end
    else:
        assert during == ["first", "second"]  # PostgreSQL's writers lock only their rows: no turns
    assert inside == ["first", "second"]


@pytest.mark.one_database
def test_a_long_writer_pauses_in_its_turn_with_the_lock_free(database_url: str) -> None:
    engine = make_engine(database_url)
    pause = 0.3
    marks: dict[str, float] = {}

    def next_long_writer() -> None:
        with long_writer_turn(engine, pause=0.0):
            marks["next"] = time.monotonic()

    waiting = threading.Thread(target=next_long_writer)
    with long_writer_turn(engine, pause=pause):
        with engine.begin() as connection:
            connection.execute(text("UPDATE suppressions SET reason = reason WHERE 1 = 0"))
        waiting.start()
        marks["committed"] = time.monotonic()
    # In the pause the turn is still held, and SQLite's lock is free: a short writer gets it at once.
    with make_engine(database_url, sqlite_busy_timeout_ms=0).begin() as other:
        other.execute(text("UPDATE suppressions SET reason = reason WHERE 1 = 0"))
    waiting.join(timeout=30)
    engine.dispose()
    assert marks["next"] - marks["committed"] >= pause  # a lower bound: sleep() never returns early


def test_each_sqlite_write_transaction_is_traced_when_asked(
    database_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = tmp_path / "transactions.jsonl"
    monkeypatch.setenv(SQLITE_TRACE_ENV, str(trace))
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("SELECT 1"))
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(text("SELECT 1"))
        transaction.rollback()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SELECT 1"))  # no transaction of ours: nothing traced
    engine.dispose()
    if backend != "sqlite":
        assert not trace.exists()
        return
    lines = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines()]
    assert [line["end"] for line in lines] == ["commit", "rollback"]
    for line in lines:
        assert line["held_s"] >= 0
        assert line["waited_s"] >= 0
        assert line["where"].split(" > ")[-1].startswith("tests/adapters/test_db_writers.py:")  # who opened it
        assert set(line) == {"pid", "command", "held_s", "waited_s", "end", "at", "where"}


@pytest.mark.one_database
def test_a_turn_not_given_back_is_not_waited_for_past_wait(database_url: str) -> None:
    engine = make_engine(database_url)
    # The second cannot have the turn (held by the first, never given back meanwhile): it goes on.
    with (
        long_writer_turn(engine, pause=0.0),
        long_writer_turn(engine, pause=0.0, wait=0.0),
        engine.begin() as connection,
    ):
        connection.execute(text("UPDATE suppressions SET reason = reason WHERE 1 = 0"))
    engine.dispose()
