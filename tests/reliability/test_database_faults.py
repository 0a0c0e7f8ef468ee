"""Database faults: PostgreSQL restarted and crashed mid-run, SQLite locked by another writer, concurrent use.

A run rides out a short outage (it waits for PostgreSQL, for up to ``CADENCE_DB_RETRY_SECONDS``,
and carries on), or stops cleanly (one line, exit code 1, no traceback); either way nothing is sent
twice and nothing is lost, and at most the one email each stopped runner had in flight on each of
its SMTP connections ends ``uncertain``. SQLite makes a writer wait for another for up to
``CADENCE_SQLITE_BUSY_TIMEOUT_MS``; normal concurrent use never shows "database is locked".
``benchmarks/chaos.py`` plays the PostgreSQL scenario longer (``PostgresRestarts(..., restarts=N).play()``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cadence.adapters.db import (
    DatabaseUnavailable,
    conflicted,
    locked,
    make_engine,
    retry_while_unavailable,
    unavailable,
)
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.context import Context
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.reliability.db_faults import (
    PostgresRestarts,
    RunOutcome,
    SqliteConcurrentUse,
    SqliteLocked,
    judge_cli,
    migrated_postgresql,
    run_environment,
)
from tests.reliability.scenarios import CADENCE, ROOT, SEND, TouchLog
from tests.support.postgresql_cluster import PostgresCluster, missing_requirement
from tests.support.prefect_server import PrefectStack
from tests.support.servers import unavailable as cannot_run

RESTARTS = 4


@pytest.fixture(scope="session")
def private_postgresql() -> Iterator[PostgresCluster]:
    """A PostgreSQL server of our own (Debian's binaries), which the tests may restart and crash at will."""
    problem = missing_requirement()
    if problem is not None:
        cannot_run(problem)
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def restartable_database(private_postgresql: PostgresCluster) -> Iterator[str]:
    """A migrated cadence database on the private server, dropped at the end; the server is running again after."""
    url = migrated_postgresql(private_postgresql, "cadence_faults")
    yield url
    if not private_postgresql.running():
        private_postgresql.start()


@pytest.fixture
def sqlite_file(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database (a copy of the session's template)."""
    path = tmp_path / "cadence.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def problems(outcomes: list[RunOutcome]) -> str:
    """The runs that did not end as they must, for an assertion's message."""
    return "\n\n".join(f"{o.runner} as of {o.now} (hit by {o.hit}): {o.problem}" for o in outcomes if o.problem)


# -- PostgreSQL restarted mid-run ----------------------------------------------------------------------


@pytest.mark.slow
def test_postgresql_restarted_and_crashed_mid_run_is_ridden_out_or_stops_runs_cleanly_and_loses_nothing(
    private_postgresql: PostgresCluster,
    restartable_database: str,
    logging_sink: SmtpSink,
    touch_log: TouchLog,
    prefect_server: PrefectStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = PostgresRestarts(
        cluster=private_postgresql,
        database_url=restartable_database,
        sink_port=logging_sink.port,
        log=touch_log,
        environment=prefect_server.environment(),
        work_dir=tmp_path,
        restarts=RESTARTS,
        seed=20261201,
    )
    result = scenario.play()
    with capsys.disabled():
        print(f"\nPostgreSQL restarts: {result.json()}")
    extra = result.extra
    assert extra["problems"] == 0, problems(scenario.outcomes)
    assert extra["restarts"] == RESTARTS
    assert (extra["fast"], extra["immediate"]) >= (1, 1)
    assert extra["outages"] >= 1
    assert result.duplicates == 0
    assert result.lost == 0
    assert result.sent + result.uncertain == result.steps
    # Each runner a restart stopped may leave its one email in flight per SMTP connection uncertain; a
    # restart ridden out, none.
    assert result.uncertain <= 2 * extra["restarts"] * result.connections
    assert result.uncertain <= extra["stopped_cleanly"] * result.connections
    # Both ways of ending were seen: runs carried on through restarts, and stopped cleanly in outages,
    # `cadence run` among them (its terminal showed one line and no traceback: see judge_cli).
    assert extra["carried_on"] >= 2
    stopped = [o for o in scenario.outcomes if o.stopped is not None]
    assert any(o.runner == "cadence run" for o in stopped)
    for outcome in stopped:
        assert outcome.hit == "outage"
        assert "the database did not answer for 5 s (CADENCE_DB_RETRY_SECONDS)" in (outcome.stopped or "")
        assert "nothing is lost" in (outcome.stopped or "")


def test_a_lost_postgresql_is_told_from_errors_that_are_not_worth_retrying(
    private_postgresql: PostgresCluster, restartable_database: str, tmp_path: Path
) -> None:
    engine = make_engine(restartable_database)
    stranger = make_engine(private_postgresql.url("cadence_faults").replace("postgres@", "nobody@"))
    sqlite = make_engine(f"sqlite:///{tmp_path / 'locked.db'}", sqlite_busy_timeout_ms=50)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            with pytest.raises(sa.exc.DBAPIError) as bad_sql:
                conn.execute(sa.text("SELECT no_such_column FROM touches"))
        with pytest.raises(sa.exc.DBAPIError) as refused_login:
            stranger.connect()
        with engine.connect() as conn:
            private_postgresql.restart("fast")
            with pytest.raises(sa.exc.DBAPIError) as dropped:  # the pooled connection's server went away
                conn.execute(sa.text("SELECT 1"))
        private_postgresql.stop("immediate")
        with pytest.raises(sa.exc.DBAPIError) as refused:
            engine.connect()
        private_postgresql.start()
        with sqlite.begin() as writer:
            writer.execute(sa.text("CREATE TABLE t (x int)"))
        with sqlite.begin() as holder:
            holder.execute(sa.text("INSERT INTO t VALUES (1)"))
            other = make_engine(f"sqlite:///{tmp_path / 'locked.db'}", sqlite_busy_timeout_ms=50)
            with other.connect() as conn, pytest.raises(sa.exc.DBAPIError) as busy:
                conn.execute(sa.text("SELECT 1"))
            other.dispose()
    finally:
        engine.dispose()
        stranger.dispose()
        sqlite.dispose()
        if not private_postgresql.running():
            private_postgresql.start()
    assert unavailable(dropped.value)
    assert unavailable(refused.value)
    assert not unavailable(refused_login.value)  # role "nobody" does not exist: waiting will not help
    assert not unavailable(bad_sql.value)
    assert not unavailable(busy.value)
    assert locked(busy.value)
    assert not locked(refused.value)


def test_a_transaction_waits_for_a_restarting_postgresql_and_gives_up_after_the_retry_time(
    private_postgresql: PostgresCluster, restartable_database: str
) -> None:
    engine = make_engine(restartable_database)
    calls: list[float] = []

    def read() -> int:
        calls.append(time.monotonic())
        with engine.begin() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM touches")).scalar_one())

    try:
        private_postgresql.stop("immediate")
        restarter = threading.Timer(1.0, private_postgresql.start)
        restarter.start()
        assert retry_while_unavailable(read, engine=engine, seconds=30) == 0  # it waited for the server
        restarter.join()
        assert len(calls) == 2 and calls[1] - calls[0] >= 0.9  # noqa: PT018
        private_postgresql.stop("fast")
        pauses: list[float] = []

        def pause(seconds: float) -> None:
            pauses.append(seconds)
            time.sleep(seconds)

        with pytest.raises(DatabaseUnavailable, match=r"did not answer for 1\.5 s \(CADENCE_DB_RETRY_SECONDS\)"):
            retry_while_unavailable(read, engine=engine, seconds=1.5, sleep=pause)
        # It waited for the server, doubling its pauses (0.2, 0.4, 0.8 s, then what was left), and gave up
        # once the retry time was spent, not before.
        assert pauses[:3] == [0.2, 0.4, 0.8]
        assert sum(pauses) <= 1.5
        assert len(pauses) >= 3
    finally:
        if not private_postgresql.running():
            private_postgresql.start()
        engine.dispose()


def test_a_transaction_postgresql_aborts_to_break_a_deadlock_is_run_again(clean_postgresql: str) -> None:
    # Two transactions lock two rows in opposite orders. Ours waits first, so PostgreSQL's deadlock
    # check (deadlock_timeout after the wait began) fires in ours: it is the one aborted, and is run again.
    engine = make_engine(clean_postgresql)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE deadlock_rows (id int PRIMARY KEY, n int)"))
        conn.execute(sa.text("INSERT INTO deadlock_rows VALUES (1, 0), (2, 0)"))
    ours_holds, other_holds, other_done = threading.Event(), threading.Event(), threading.Event()
    attempts: list[BaseException | None] = []

    def other() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE deadlock_rows SET n = n + 10 WHERE id = 2"))
            other_holds.set()
            ours_holds.wait(10)
            time.sleep(0.3)  # ours is waiting for row 2 by now
            conn.execute(sa.text("UPDATE deadlock_rows SET n = n + 10 WHERE id = 1"))
        other_done.set()

    def ours() -> int:
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("SET LOCAL deadlock_timeout = '1s'"))
                conn.execute(sa.text("UPDATE deadlock_rows SET n = n + 1 WHERE id = 1"))
                if not attempts:
                    other_holds.wait(10)
                    ours_holds.set()
                conn.execute(sa.text("UPDATE deadlock_rows SET n = n + 1 WHERE id = 2"))
                total = int(conn.execute(sa.text("SELECT sum(n) FROM deadlock_rows")).scalar_one())
        except sa.exc.DBAPIError as exc:
            attempts.append(exc)
            raise
        attempts.append(None)
        return total

    thread = threading.Thread(target=other)
    thread.start()
    try:
        total = retry_while_unavailable(ours, engine=engine, seconds=5)
    finally:
        thread.join(30)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE deadlock_rows"))
        engine.dispose()
    assert other_done.is_set()
    assert len(attempts) == 2
    assert attempts[1] is None
    assert attempts[0] is not None
    assert conflicted(attempts[0])
    assert total == 22  # both transactions committed, each once


def test_a_postgresql_server_that_never_answers_fails_a_connection_in_seconds_not_minutes() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever says a word
    url = f"postgresql://cadence@127.0.0.1:{silent.getsockname()[1]}/cadence"
    asked: list[object] = []
    engine = make_engine(url)
    own = make_engine(url + "?connect_timeout=3")

    def shorten(_dialect: object, _record: object, _args: object, params: dict[str, object]) -> None:
        asked.append(params["connect_timeout"])
        params["connect_timeout"] = 2  # what a run waits (10 s) is longer than this test wants to

    sa.event.listen(engine, "do_connect", shorten)
    sa.event.listen(own, "do_connect", shorten)

    began = time.monotonic()
    try:
        with pytest.raises(sa.exc.DBAPIError) as timed_out:
            engine.connect()
        with pytest.raises(sa.exc.DBAPIError):
            own.connect()
    finally:
        engine.dispose()
        own.dispose()
        silent.close()
    assert asked == [10, "3"]  # ours by default; the URL's own when it says
    assert time.monotonic() - began < 15
    assert unavailable(timed_out.value)  # a server that may come back: worth waiting for


def test_cadence_run_on_an_unreachable_postgresql_says_so_in_one_line(
    private_postgresql: PostgresCluster, restartable_database: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=restartable_database, templates_dir=TEMPLATES)
    env = run_environment(settings, {"PREFECT_HOME": tempfile.mkdtemp(dir=tmp_path)})
    private_postgresql.stop("fast")
    try:
        done = subprocess.run([str(CADENCE), "run", "--now", SEND.isoformat()], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    finally:
        private_postgresql.start()
    outcome = judge_cli("cadence run", SEND, done.returncode, done.stdout, done.stderr)
    assert outcome.problem is None, outcome.problem
    assert done.stderr.strip().count("\n") == 0, done.stderr  # one line, the whole of it
    assert outcome.stopped is not None
    assert outcome.stopped.startswith(f"error: cannot open the database postgresql+psycopg://postgres@127.0.0.1:"
                                      f"{private_postgresql.port}/cadence_faults: connection failed")  # fmt: skip


# -- SQLite locked by another writer -------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_waits_for_another_sqlite_writer_within_the_busy_timeout_and_stops_cleanly_beyond_it(
    sqlite_file: str,
    logging_sink: SmtpSink,
    touch_log: TouchLog,
    prefect_server: PrefectStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = SqliteLocked(
        database_url=sqlite_file,
        sink_port=logging_sink.port,
        log=touch_log,
        environment=prefect_server.environment(),
        work_dir=tmp_path,
        # The scenario's own busy timeout, 1.5 s: the short locks (half of it) leave the run's own writers
        # (claims, a chunk's mark, settling, the hand-offs) 0.75 s to go one after the other once a lock ends. With
        # 1 s (0.5 s of room) a hand-off in a full suite run once waited it out.
        seed=7,
    )
    result = scenario.play()
    with capsys.disabled():
        print(f"\nSQLite locked: {result.json()}")
    assert result.extra["problems"] == 0, problems(scenario.outcomes)
    assert result.extra["locks"] == 4
    assert result.duplicates == 0
    assert result.lost == 0
    assert result.sent + result.uncertain == result.steps
    assert result.uncertain <= result.connections  # in flight (one per connection) when the long lock stopped the run
    # The long lock stopped `cadence run` with one line (a batch's hand-offs wait the busy timeout once,
    # not once per message: else the run would have outlasted the lock and finished), and only it.
    [stopped] = [o for o in scenario.outcomes if o.stopped is not None]
    assert stopped.runner == "cadence run"
    assert "stayed locked by another writer for longer than the busy timeout (CADENCE_SQLITE_BUSY_TIMEOUT_MS)" in (
        stopped.stopped or ""
    )
    assert all(o.finished for o in scenario.outcomes if o is not stopped)


def test_the_sqlite_busy_timeout_is_a_setting(sqlite_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    default = Context(Settings(database_url=sqlite_file.replace("cadence.db", "other.db"), templates_dir=TEMPLATES))
    monkeypatch.setenv("CADENCE_SQLITE_BUSY_TIMEOUT_MS", "1234")
    ctx = Context(Settings(database_url=sqlite_file, templates_dir=TEMPLATES))
    try:
        with ctx.engine.connect() as conn, default.engine.connect() as other:
            assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar_one() == 1234
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert other.execute(sa.text("PRAGMA busy_timeout")).scalar_one() == 30_000
    finally:
        ctx.close()
        default.close()


def test_an_autocommitted_statement_on_sqlite_is_committed_at_once_and_keeps_no_lock(sqlite_file: str) -> None:
    engine = make_engine(sqlite_file, sqlite_busy_timeout_ms=100)
    other = make_engine(sqlite_file, sqlite_busy_timeout_ms=100)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as journal:
            journal.execute(sa.text("UPDATE reps SET name = 'x'"))  # no rep: what matters is the write lock
            journal.execute(sa.text("INSERT INTO suppressions (value, reason, created_at) "
                                    "VALUES ('a@b.example', 'test', '2026-12-01')"))  # fmt: skip
            with other.begin() as writer:  # another writer gets the lock, and sees the row, while it is open
                assert writer.execute(sa.text("SELECT count(*) FROM suppressions")).scalar_one() == 1
        with other.connect() as reader:  # and closing the connection rolled nothing back
            assert reader.execute(sa.text("SELECT count(*) FROM suppressions")).scalar_one() == 1
    finally:
        engine.dispose()
        other.dispose()


def test_a_command_that_finds_sqlite_locked_past_the_busy_timeout_says_so_in_one_line(
    sqlite_file: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=sqlite_file, templates_dir=TEMPLATES, sqlite_busy_timeout_ms=300)
    env = run_environment(settings, {"PREFECT_HOME": tempfile.mkdtemp(dir=tmp_path)})
    holder = make_engine(sqlite_file)
    try:
        with holder.begin() as conn:
            conn.execute(sa.text("UPDATE reps SET name = name"))
            done = subprocess.run([str(CADENCE), "leads", "list"], env=env, cwd=ROOT, capture_output=True,
                                  text=True, timeout=120, check=False)  # fmt: skip
    finally:
        holder.dispose()
    outcome = judge_cli("cadence leads list", None, done.returncode, done.stdout, done.stderr)
    assert outcome.problem is None, outcome.problem
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert outcome.stopped == (
        f"error: the database {sqlite_file.removeprefix('sqlite:///')} stayed locked by another writer for longer "
        "than the busy timeout (CADENCE_SQLITE_BUSY_TIMEOUT_MS): database is locked"
    )


# -- normal concurrent use on SQLite -------------------------------------------------------------------


@pytest.mark.slow
def test_normal_concurrent_use_of_sqlite_never_says_database_is_locked(
    sqlite_file: str,
    logging_sink: SmtpSink,
    touch_log: TouchLog,
    prefect_server: PrefectStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = SqliteConcurrentUse(
        database_url=sqlite_file,
        sink_port=logging_sink.port,
        log=touch_log,
        environment=prefect_server.environment(),
        work_dir=tmp_path,
        seed=3,
    )
    result = scenario.play()
    with capsys.disabled():
        print(f"\nSQLite concurrent use: {result.json()}")
    failed = [f"cadence {' '.join(c.args)}: {c.outcome.problem}" for c in scenario.commands
              if c.outcome is not None and c.outcome.problem]  # fmt: skip
    failed += [f"{what}: {problem}" for what, _status, problem in scenario.requests if problem]
    assert result.extra["problems"] == 0, "\n\n".join(failed)
    assert result.extra["commands"] >= 8
    assert result.extra["requests"] >= 9
    # At the same time: the commands and requests ran while `cadence run` was sending.
    assert result.extra["commands_during_run"] >= 7
    assert result.extra["requests_during_run"] >= 9
    assert result.duplicates == 0
    assert result.lost == 0
    assert result.sent_after_decision == 0
    assert result.uncertain == 0
    assert result.extra["decisions"] >= 3  # decided at the terminal and in the workspace, during the run
