"""Database engines and sessions: SQLite by default, PostgreSQL when the URL names it.

And what a database outage means to a run (:func:`unavailable`, :func:`locked`,
:func:`retry_while_unavailable`): PostgreSQL restarting, failing over or dropping connections is
away *for now*, and a transaction that found it so is worth running again once it answers; SQLite
locked by another writer past its busy timeout has been waited for already, and is reported.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cadence.errors import CadenceError, ConfigurationError, database_problem

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WRITER_PAUSE_S = 0.15
"""The pause a long-running writer (an import, the advance run) leaves after each of its batch-sized write
transactions on SQLite, in its turn (:func:`long_writer_turn`): longer than the longest sleep of SQLite's
busy handler (100 ms), so that every other writer waiting for the lock wakes in it and takes its turn."""
SQLITE_TRACE_ENV = "CADENCE_SQLITE_TRACE"
"""A debugging aid, off by default: the path of a file to which every SQLite write transaction of every
cadence process appends one JSON line (who held the write lock, how long, for what: see :func:`make_engine`)."""
POSTGRESQL_CONNECT_TIMEOUT_S = 10  # an unreachable host fails a connection in seconds, not a TCP timeout

T = TypeVar("T")


class DatabaseUnavailable(CadenceError):
    """The database could not be reached, or stayed locked by another writer: the run stopped."""


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_postgresql(engine: Engine) -> bool:
    """True when ``engine`` talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def _sqlite_begin(connection: Any) -> None:
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        # Each statement is a transaction of its own, as asked: a BEGIN here would open one that
        # nothing commits, holding the write lock until the connection is closed and then rolled back.
        return
    # Take the write lock at BEGIN: two writers then queue on busy_timeout instead of failing
    # with "database is locked" when a reader upgrades to a writer mid-transaction.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class _SqliteTrace:
    """Appends one JSON line per write transaction to ``path``: its hold time (BEGIN IMMEDIATE returned to
    COMMIT or ROLLBACK), how long BEGIN waited for the lock, the process and the code that opened it."""

    _lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        program = Path(sys.argv[0]).name if sys.argv else "?"
        words = [word for word in sys.argv[1:3] if not word.startswith("-")]
        self.command = " ".join(["cadence" if program == "__main__.py" else program, *words])

    def begin(self, connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        asked = time.perf_counter()
        _sqlite_begin(connection)
        got = time.perf_counter()
        connection.info["cadence_trace"] = (asked, got, _caller())

    def end(self, connection: Any, how: str) -> None:
        began = connection.info.pop("cadence_trace", None)
        if began is None:
            return
        asked, got, where = began
        line = {
            "pid": os.getpid(),
            "command": self.command,
            "held_s": round(time.perf_counter() - got, 4),
            "waited_s": round(got - asked, 4),
            "end": how,
            "at": round(time.time(), 3),
            "where": where,
        }
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


def _caller() -> str:
    """The innermost frames of our own code (not this module's, the standard library's or an installed
    package's) that opened the transaction: ``path:line function``, innermost last."""
    frames = [
        f"{'/'.join(Path(frame.filename).parts[-3:])}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_stack()
        if not frame.filename.startswith(_LIBRARIES) and frame.filename != __file__
    ]
    return " > ".join(frames[-4:])


_LIBRARIES = tuple(
    {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    | {sys.prefix + os.sep, sys.base_prefix + os.sep, "<"}
)


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    """Build an engine for ``url``; for SQLite, create the file's folder and use WAL with a busy timeout.

    A writer that finds SQLite locked by another waits up to ``sqlite_busy_timeout_ms`` for it. A
    PostgreSQL connection that cannot be made within a few seconds fails (unless the URL sets its
    own ``connect_timeout``), and a pooled connection is checked before use, so that a restarted
    server is reconnected to.

    With ``CADENCE_SQLITE_TRACE`` set to a file's path (a debugging aid, off by default), each SQLite
    write transaction appends a JSON line to it: ``held_s`` (from BEGIN IMMEDIATE's return to COMMIT or
    ROLLBACK), ``waited_s`` (BEGIN IMMEDIATE waiting for the lock), ``pid``, ``command`` and ``where``
    (the innermost cadence frames that opened it). ``benchmarks/import_contention.py`` reads it.
    """
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError as exc:
        raise ConfigurationError(f"CADENCE_DATABASE_URL {url!r} is not a database URL") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": sqlite_busy_timeout_ms / 1000}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(sqlite_busy_timeout_ms))
        # pysqlite's own transaction handling is turned off so that BEGIN IMMEDIATE is ours.
        event.listen(engine, "connect", lambda conn, _rec: setattr(conn, "isolation_level", None))
        trace_path = os.environ.get(SQLITE_TRACE_ENV)
        if trace_path:
            trace = _SqliteTrace(trace_path)
            event.listen(engine, "begin", trace.begin)
            event.listen(engine, "commit", lambda conn: trace.end(conn, "commit"))
            event.listen(engine, "rollback", lambda conn: trace.end(conn, "rollback"))
        else:
            event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": POSTGRESQL_CONNECT_TIMEOUT_S, **kwargs.get("connect_args", {})}
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    raise ConfigurationError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")


@dataclass
class Turn:
    """A long-running writer's turn (:func:`long_writer_turn`): ``pause`` is how long it keeps the turn after
    its transaction; a transaction that wrote nothing sets it to 0 (no other writer needs the gap then)."""

    pause: float


@contextmanager
def long_writer_turn(
    engine: Engine, *, pause: float = SQLITE_WRITER_PAUSE_S, wait: float = SQLITE_BUSY_TIMEOUT_MS / 1000
) -> Iterator[Turn]:
    """Around one batch-sized write transaction of a long-running writer (an import's chunk, the advance run's
    claim or settlement of a batch) on SQLite: wait for the turn, then, after the transaction, pause ``pause``
    seconds still holding it. On PostgreSQL, or a SQLite database that is not a file, it does nothing.

    SQLite does not queue writers: one waiting for the lock sleeps (1, 2, 5... then 100 ms at a time) and
    tries again, so a writer that has waited a while wakes only now and then, while one that has just
    started waiting tries again within milliseconds. Two long-running writers at once (an import and
    ``cadence run``) each began their next transaction the moment the other committed, and between them
    kept the lock ~95% of the time: an unsubscribe or ``suppress add`` waited behind transaction after
    transaction, for seconds, though none was longer than a second. The turn is an exclusive ``flock`` on
    the file ``<database>-writers`` beside the database, held through the transaction and the pause after
    it: another long-running writer waits for it, not for SQLite's lock, so the pause leaves the lock free
    for the short writers (which do not take turns), and each of them waiting gets it. The kernel drops
    the lock of a process that dies; a turn not given back within ``wait`` seconds (a process stuck in
    its transaction) is not waited for longer: the transaction goes on to wait for SQLite's lock, and
    its busy timeout decides.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:") or os.name != "posix":
        yield Turn(pause=0.0)
        return
    import fcntl

    turn = Turn(pause=pause)
    with open(f"{Path(database).expanduser()}-writers", "a+b") as held:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:  # the holder is stuck: go on, SQLite's busy timeout decides
                    yield turn
                    return
                time.sleep(0.01)
        try:
            yield turn
            time.sleep(turn.pause)
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with factory() as session, session.begin():
        yield session


# -- database outages ----------------------------------------------------------------------------------

# PostgreSQL's SQLSTATEs for a server that is going away or not ready: class 08 (connection
# exception), admin_shutdown (a restart or `pg_ctl stop -m fast`), crash_shutdown (another backend
# crashed), cannot_connect_now (starting up, in recovery), too_many_connections.
_AWAY_SQLSTATES = ("57P01", "57P02", "57P03", "53300")
# A connection refused by a server that is there names a reason (FATAL: ...); these are the ones
# that pass. Refused, reset or closed connections have no FATAL at all.
_AWAY_FATALS = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "the database system is not accepting connections",
    "terminating connection due to administrator command",
    "sorry, too many clients already",
)


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says PostgreSQL is away for now: refused or lost connections, a server shutting
    down, restarting or recovering. The transaction it broke is worth running again once the server answers.

    A refused login, a missing database, a bad statement or SQLite's "database is locked" are not.
    """
    if not isinstance(exc, DBAPIError) or exc.orig is None or type(exc.orig).__module__.split(".")[0] != "psycopg":
        return False
    if exc.connection_invalidated:
        return True
    import psycopg

    orig = exc.orig
    if isinstance(orig, psycopg.InterfaceError):  # "the connection is closed", "the connection is lost"
        return True
    if not isinstance(orig, psycopg.OperationalError):
        return False
    sqlstate = orig.sqlstate
    if sqlstate is not None:
        return sqlstate.startswith("08") or sqlstate in _AWAY_SQLSTATES
    message = str(orig)
    return "FATAL:" not in message or any(reason in message for reason in _AWAY_FATALS)


_CONFLICT_SQLSTATES = ("40P01", "40001")  # deadlock_detected, serialization_failure
CONFLICT_RETRIES = 8
"""How many times a transaction that PostgreSQL aborted to break a deadlock is run again."""


def conflicted(exc: BaseException) -> bool:
    """True when PostgreSQL aborted the transaction to break a deadlock (or a serialization conflict).

    The other transaction went on; running this one again from the start is what PostgreSQL advises.
    """
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    return getattr(exc.orig, "sqlstate", None) in _CONFLICT_SQLSTATES


def locked(exc: BaseException) -> bool:
    """True when ``exc`` is SQLite's "database is locked": another writer held it past the busy timeout."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    import sqlite3

    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig).lower()


def answers(engine: Engine) -> bool:
    """True when the database answers a ``SELECT 1`` now."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError:
        return False
    return True


def retry_while_unavailable(
    fn: Callable[[], T],
    *,
    engine: Engine,
    seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``fn()`` (a whole transaction); while it fails because PostgreSQL is away (:func:`unavailable`), wait
    for the server to answer and call it again, for up to ``seconds`` in all (waits of 0.2 s doubling to 5 s).

    Raises :class:`DatabaseUnavailable` when the server is still away after that, or at once when
    SQLite stays locked past its busy timeout (:func:`locked`: that wait is over already). A
    transaction PostgreSQL aborted to break a deadlock (:func:`conflicted`) is run again at once, up
    to :data:`CONFLICT_RETRIES` times. Any other error is raised as it is. ``fn`` must leave nothing
    behind when it fails: each call starts afresh.
    """
    deadline = clock() + seconds
    pause = 0.2
    conflicts = 0
    while True:
        try:
            return fn()
        except DBAPIError as exc:
            if locked(exc):
                raise DatabaseUnavailable(busy_message(engine, exc)) from exc
            if conflicted(exc) and conflicts < CONFLICT_RETRIES:
                conflicts += 1
                sleep(0.01 * conflicts)  # the transaction that won goes on meanwhile
                continue
            if not unavailable(exc):
                raise
            while True:
                if clock() >= deadline:
                    raise DatabaseUnavailable(away_message(exc, seconds)) from exc
                sleep(min(pause, max(0.0, deadline - clock())))
                pause = min(pause * 2, 5.0)
                if answers(engine):
                    break


def away_message(exc: BaseException, seconds: float) -> str:
    """The one line for PostgreSQL still away after ``seconds`` of waiting for it."""
    return f"the database did not answer for {seconds:g} s (CADENCE_DB_RETRY_SECONDS): {database_problem(exc)}"


def busy_message(engine: Engine, exc: BaseException) -> str:
    """The one line for SQLite locked by another writer for longer than the busy timeout."""
    return (
        f"the database {engine.url.database} stayed locked by another writer for longer than the busy timeout "
        f"(CADENCE_SQLITE_BUSY_TIMEOUT_MS): {database_problem(exc)}"
    )
