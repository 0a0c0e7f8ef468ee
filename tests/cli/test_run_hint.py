"""``cadence run`` without a Prefect server says, in one line, how to avoid the temporary one."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from cadence.cli.runs import TEMPORARY_SERVER_HINT, hint_temporary_server


def test_a_run_without_a_prefect_server_says_how_to_skip_the_temporary_one(capsys: pytest.CaptureFixture[str]) -> None:
    with temporary_settings(updates={PREFECT_API_URL: None}):
        hint_temporary_server()
    captured = capsys.readouterr()
    assert captured.err == TEMPORARY_SERVER_HINT + "\n"
    assert captured.out == ""
    assert "prefect server start" in captured.err
    assert "PREFECT_API_URL=" in captured.err


def test_a_run_with_a_prefect_server_says_nothing_of_it(capsys: pytest.CaptureFixture[str]) -> None:
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        hint_temporary_server()
    assert capsys.readouterr().err == ""
