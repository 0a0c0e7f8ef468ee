"""Fixtures of the reliability tests: a Prefect server the advance runs report to, a sink that logs every touch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from cadence.adapters.smtp_sink import SmtpSink
from tests.conftest import _truncate_postgresql
from tests.reliability.scenarios import TouchLog
from tests.support.prefect_server import PrefectStack


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    """``prefect server start`` on a database of its own: runs in processes of their own report to it."""
    with ExitStack() as stack:
        prefect = PrefectStack(tmp_path_factory.mktemp("prefect-server"), stack)
        prefect.start_server()
        prefect.wait_for_server()
        yield prefect


@pytest.fixture
def touch_log() -> TouchLog:
    """Every message the sink receives, by its X-Cadence-Touch header."""
    return TouchLog()


@pytest.fixture
def logging_sink(tmp_path: Path, touch_log: TouchLog) -> Iterator[SmtpSink]:
    """The SMTP sink (in memory), logging each message into ``touch_log``."""
    with SmtpSink(on_message=touch_log) as sink:
        yield sink


@pytest.fixture
def clean_postgresql(postgresql_database: str) -> str:
    """The PostgreSQL test database, emptied."""
    _truncate_postgresql(postgresql_database)
    return postgresql_database
