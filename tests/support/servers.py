"""Pytest fixtures that run real servers: a private Dovecot (IMAP), the SMTP sink and a Prefect server.

The root conftest registers this module (``pytest_plugins = ["tests.support.servers"]``), so every
test can ask for ``dovecot``, ``smtp_sink``, ``prefect_server`` and ``prefect_harness``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from cadence.adapters.smtp_sink import SmtpSink
from tests.support.dnsmasq import DnsmasqServer
from tests.support.dnsmasq import missing_requirement as dnsmasq_missing
from tests.support.dovecot import DovecotServer, missing_requirement

if TYPE_CHECKING:
    from tests.support.prefect_server import PrefectStack

REPLIES_USER = "replies@cadence.example"
REPLIES_PASSWORD = "secret"


def running_in_ci() -> bool:
    """True under CI (``CI=true``), where a test that could run must not be skipped."""
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(problem: str) -> NoReturn:
    """Skip the test because a server it needs cannot run here; under CI, fail it instead."""
    if not running_in_ci():  # outside CI only; under CI=true the test fails (below)
        pytest.skip(problem)  # guarded: not under CI
    pytest.fail(f"{problem} (CI=true: this test must run, not be skipped)", pytrace=False)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A private Dovecot IMAP server with the user ``replies@cadence.example`` (password ``secret``).

    Shared by the whole session: tests must not expect an empty mailbox (use their own folder, their
    own Message-ID, or ``dovecot.add_user`` for a user of their own). Skipped when Dovecot is not
    installed, except under ``CI=true``, where that is an error.
    """
    problem = missing_requirement()
    if problem is not None:
        unavailable(problem)
    # Not pytest's tmp_path: its base directory is mode 0700, which Dovecot's unprivileged users cannot enter.
    root = Path(tempfile.mkdtemp(prefix="cadence-dovecot-"))
    try:
        server = DovecotServer(root)
        server.add_user(REPLIES_USER, REPLIES_PASSWORD)
        with server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """A running SMTP sink on a free port, storing into the Maildir ``tmp_path / "mail"``."""
    with SmtpSink(tmp_path / "mail") as sink:
        yield sink


DnsServerFactory = Callable[[Mapping[str, Iterable[str | Sequence[str]]]], DnsmasqServer]


@pytest.fixture
def dns_server(tmp_path: Path) -> Iterator[DnsServerFactory]:
    """Starts a private dnsmasq serving the TXT records given (``{name: [record, ...]}``) under .test and .example.

    Call it once per set of records (a start takes milliseconds); each server is stopped after the
    test. Skipped when dnsmasq is not installed, except under ``CI=true``, where that is an error.
    """
    problem = dnsmasq_missing()
    if problem is not None:
        unavailable(problem)
    started = itertools.count()
    with ExitStack() as stack:

        def start(txt: Mapping[str, Iterable[str | Sequence[str]]]) -> DnsmasqServer:
            return stack.enter_context(DnsmasqServer(tmp_path / f"dnsmasq-{next(started)}", txt))

        yield start


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    """One ``prefect server start`` for the whole session, keeping its state on the local PostgreSQL server.

    Starting a Prefect server takes seconds (12 to 20 here), so the flow tests of this process
    (:func:`prefect_harness`) and the advance runs the reliability tests start in processes of their
    own all report to this one. Where PostgreSQL is unreachable it is skipped, except under ``CI=true``.
    """
    import sqlalchemy as sa

    from tests.support.prefect_server import PrefectStack

    with ExitStack() as stack:
        prefect = PrefectStack(tmp_path_factory.mktemp("prefect-server"), stack)
        try:
            prefect.start_server()
        except sa.exc.OperationalError as exc:
            unavailable(f"PostgreSQL, where the Prefect server keeps its state, is not reachable: {exc.orig}")
        prefect.wait_for_server()
        yield prefect


@pytest.fixture(scope="session")
def prefect_harness(request: pytest.FixtureRequest) -> Iterator[None]:
    """Flows run by this process's tests report to the session's Prefect server.

    Outside CI, where PostgreSQL is unreachable, they report to Prefect's own test harness instead
    (a server on SQLite of its own), so the SQLite flow tests still run.
    """
    from tests.support.prefect_server import pointed_at

    try:
        server: PrefectStack = request.getfixturevalue("prefect_server")
    except pytest.skip.Exception:
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            yield
        return
    with pointed_at(server.api_url):
        yield
