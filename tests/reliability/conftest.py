"""Fixtures of the reliability tests: a sink that logs every touch, an emptied PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cadence.adapters.smtp_sink import SmtpSink
from tests.conftest import _truncate_postgresql
from tests.reliability.scenarios import TouchLog


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
