"""Pytest fixtures that run real servers: a private Dovecot (IMAP) and the SMTP sink.

The root conftest registers this module (``pytest_plugins = ["tests.support.servers"]``), so every
test can ask for ``dovecot`` and ``smtp_sink``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from cadence.adapters.smtp_sink import SmtpSink
from tests.support.dovecot import DovecotServer, missing_requirement

REPLIES_USER = "replies@cadence.example"
REPLIES_PASSWORD = "secret"


def running_in_ci() -> bool:
    """True under CI (``CI=true``), where a test that could run must not be skipped."""
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(problem: str) -> NoReturn:
    """Skip the test because a server it needs cannot run here; under CI, fail it instead."""
    if running_in_ci():
        pytest.fail(f"{problem} (CI=true: this test must run, not be skipped)", pytrace=False)
    pytest.skip(problem)


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
