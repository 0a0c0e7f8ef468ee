"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL, and the CLI.

A test with no SQL of its own (a page, an argument, a message, a parser) is marked
``one_database`` and runs on SQLite only; a test of a query, a lock, a claim, a report, a race, a
migration or anything concurrent keeps both.

PostgreSQL is the local server (``CADENCE_TEST_POSTGRESQL_URL``, default
``postgresql+psycopg://127.0.0.1:5432/test`` as the current user). Under ``CI=true`` an unreachable
server fails the run; elsewhere its tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cadence import cli
from cadence.adapters.db import make_engine
from cadence.adapters.models import Base
from cadence.adapters.schema import upgrade
from cadence.services.context import Context
from cadence.settings import Settings

pytest_plugins = ["tests.support.servers"]

# The developer's own cadence settings must not leak into the tests; each test sets what it uses.
for _key in [k for k in os.environ if k.startswith("CADENCE_") and k != "CADENCE_TEST_POSTGRESQL_URL"]:
    del os.environ[_key]

# Prefect (imported later, by the flow tests) must not write to the developer's home or phone home.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="cadence-prefect-")
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

# Run as a shell's background job (`make test &`), the suite starts with ctrl-c ignored, and the
# commands it starts would inherit that: the tests that interrupt one with SIGINT need it delivered.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _websockets_with_their_own_random() -> None:
    """Give the websockets library a random generator of its own, not the process's global one.

    Once a flow test has run, Prefect's events client keeps a websocket open from a background
    thread (``GlobalEventLoopThread``) and pings it every 20 seconds with ``random.getrandbits``.
    Hypothesis compares the global generator's state before and after each draw, to catch strategies
    that use it; a ping that falls in a draw of a later test made Hypothesis fail that test as
    flaky ("Do not use the random module inside strategies"). The pings need no particular
    generator, and Hypothesis's check stays as it is.
    """
    import importlib
    import random

    for name in ("asyncio.connection", "client", "sync.connection", "legacy.protocol", "legacy.client"):
        try:
            module = importlib.import_module(f"websockets.{name}")
        except ImportError:
            continue
        if getattr(module, "random", None) is random:
            module.random = random.Random()  # type: ignore[attr-defined]


_websockets_with_their_own_random()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``one_database`` marker (see :func:`pytest_generate_tests`)."""
    config.addinivalue_line(
        "markers",
        "one_database: the test exercises no SQL of its own (pages, arguments, messages, parsers): "
        "its database is SQLite only, not SQLite and PostgreSQL",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give the tests marked ``one_database`` the SQLite ``database_url`` only.

    A test that runs a query, a lock, a claim, a report, a race, a migration or anything
    concurrent runs on both backends, as the ``database_url`` fixture does by default: that is
    where they differ. A test whose subject is something else (a page, an argument, an error
    message, a parser) would only run the same SQL a second time. The mark is a ``parametrize``
    of the fixture, which takes precedence over the fixture's own parameters.
    """
    if metafunc.definition.get_closest_marker("one_database") and "database_url" in metafunc.fixturenames:
        metafunc.definition.add_marker(pytest.mark.parametrize("database_url", ["sqlite"], indirect=True))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked ``slow`` first, in their usual order, then the rest as collected.

    ``make test`` runs the suite on two processes (pytest-xdist, ``--dist worksteal``): an idle
    process takes tests waiting for the other, but not one already running. Collected in file
    order, the kill -9 and race tests (30-90 s each) came last and one process ran them alone for
    two minutes after the other had finished; started first, the short tests fill in around them.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: False (slow) first


ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
PG_URL = os.environ.get("CADENCE_TEST_POSTGRESQL_URL", "postgresql+psycopg://127.0.0.1:5432/test")


def _pg_admin_url() -> sa.URL:
    url = make_url(PG_URL)
    if url.username is None:
        url = url.set(username=os.environ.get("PGUSER") or ("root" if os.geteuid() == 0 else os.environ["USER"]))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "cadence.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[str]:
    """A migrated database of our own on the local PostgreSQL server, dropped at the end."""
    admin_url = _pg_admin_url()
    name = f"cadence_test_{os.getpid()}"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        from tests.support.servers import unavailable  # a plugin of this file: imported once pytest has it

        unavailable(f"PostgreSQL is not reachable at {admin_url.render_as_string()}: {exc.orig}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


_RESTART_SEQUENCES = sa.text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) FROM pg_sequences"
)


def _truncate_postgresql(url: str) -> None:
    """Empty every table of the cadence database at ``url`` and start its ids at 1 again.

    DELETE, children first, rather than TRUNCATE: on these small tables it takes 15-25 ms against
    100-130 ms (TRUNCATE makes new files for each table), and it runs before most PostgreSQL tests.
    """
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == "audit_log":  # append-only: its trigger refuses DELETE, not TRUNCATE
                if conn.scalar(sa.select(sa.exists().select_from(table))):
                    conn.execute(sa.text("TRUNCATE audit_log"))
            else:
                conn.execute(table.delete())
        conn.execute(_RESTART_SEQUENCES)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated cadence database: the test runs once on SQLite and once on PostgreSQL.

    Marked ``one_database``, the test runs on SQLite only (:func:`pytest_generate_tests`).
    """
    if request.param == "sqlite":
        path = tmp_path / "cadence.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgresql_database")
    _truncate_postgresql(url)
    yield url


@pytest.fixture
def backend(database_url: str) -> str:
    """The name of the database backend under test."""
    return make_url(database_url).get_backend_name()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings pointing at the test database and the shipped templates."""
    return Settings(database_url=database_url, templates_dir=TEMPLATES, default_timezone="UTC")


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    """An application context on the test database."""
    context = Context(settings)
    yield context
    context.close()


@dataclass
class CliResult:
    """What one CLI invocation did."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The standard output parsed as JSON."""
        import json

        return json.loads(self.stdout)


class Cli:
    """Runs ``cadence`` commands in this process against the test database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int | None = 0, stdin: str | None = None) -> CliResult:
        """Run ``cadence ARGS`` with ``stdin`` on standard input; fail unless it exits with ``expect`` (None: any)."""
        cli.reset_context()
        result = self.runner.invoke(cli.app, list(args), input=stdin, env=self.env, catch_exceptions=False)
        cli.reset_context()
        outcome = CliResult(result.exit_code, result.stdout, result.stderr)
        if expect is not None:
            assert outcome.exit_code == expect, (
                f"cadence {' '.join(args)} exited {outcome.exit_code}, expected {expect}\n"
                f"stdout: {outcome.stdout}\nstderr: {outcome.stderr}"
            )
        assert "Traceback" not in outcome.stderr, outcome.stderr
        return outcome


@pytest.fixture
def run_cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """The ``cadence`` CLI on the test database (working directory: a temp dir)."""
    monkeypatch.chdir(tmp_path)
    env = {
        "CADENCE_DATABASE_URL": database_url,
        "CADENCE_TEMPLATES_DIR": str(TEMPLATES),
        "CADENCE_DEFAULT_TIMEZONE": "UTC",
    }
    return Cli(env)


@pytest.fixture
def postgresql_ctx(postgresql_database: str) -> Iterator[Context]:
    """An application context on a fresh PostgreSQL database, for what only PostgreSQL does."""
    _truncate_postgresql(postgresql_database)
    context = Context(Settings(database_url=postgresql_database, templates_dir=TEMPLATES, default_timezone="UTC"))
    yield context
    context.close()
