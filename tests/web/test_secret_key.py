"""The public demo key: fine on this machine, refused by `cadence web` and warned of by the runs beyond it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from cadence.adapters.smtp_sink import SmtpSink
from cadence.errors import ConfigurationError
from cadence.settings import Settings
from cadence.web import server
from flows.advance import advance_cadences

KEY = "a-long-random-key-for-these-tests-0123456789"


@pytest.mark.parametrize(
    ("base_url", "key", "listen", "exposed"),
    [
        ("http://127.0.0.1:8000", None, None, False),  # the defaults: the demo, on this machine
        ("http://localhost:8000", None, "127.0.0.1", False),
        ("http://[::1]:8000", None, "::1", False),
        ("http://127.8.9.10", None, "localhost", False),
        ("https://cadence.example", None, None, True),  # links in emails point elsewhere
        ("http://192.0.2.10:8000", None, None, True),
        ("http://127.0.0.1:8000", None, "0.0.0.0", True),  # listening beyond this machine
        ("http://127.0.0.1:8000", None, "192.0.2.10", True),
        ("https://cadence.example", KEY, "0.0.0.0", False),  # a key of one's own
        ("http://127.0.0.1:8000", KEY, None, False),
    ],
)
def test_the_demo_key_is_exposed_only_where_links_or_the_server_reach_beyond_this_machine(
    base_url: str, key: str | None, listen: str | None, exposed: bool
) -> None:
    settings = Settings(base_url=base_url, **({"secret_key": key} if key else {}))
    assert settings.demo_key_exposed(listen_host=listen) is exposed


@pytest.mark.parametrize(
    ("base_url", "host"), [("https://cadence.example", "127.0.0.1"), ("http://127.0.0.1:8000", "0.0.0.0")]
)
def test_cadence_web_refuses_to_serve_with_the_demo_key_beyond_this_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str, host: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CADENCE_SECRET_KEY", raising=False)
    monkeypatch.setenv("CADENCE_BASE_URL", base_url)
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    with pytest.raises(ConfigurationError, match=r"CADENCE_SECRET_KEY is not set.*forge an unsubscribe link"):
        server.serve(host=host)


def run_logged(caplog: pytest.LogCaptureFixture, **flow_args: Any) -> list[str]:
    """Run the advance flow; the warnings of its run logger."""
    with caplog.at_level(logging.WARNING, logger="prefect.flow_runs"):
        asyncio.run(advance_cadences(**flow_args))
    return [r.getMessage() for r in caplog.records if r.name == "prefect.flow_runs" and r.levelno == logging.WARNING]


@pytest.mark.one_database
def test_a_run_signing_links_with_the_demo_key_for_elsewhere_warns_in_its_log(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CADENCE_SECRET_KEY", raising=False)
    monkeypatch.setenv("CADENCE_BASE_URL", "https://cadence.example")
    [warning] = [w for w in run_logged(caplog) if "CADENCE_SECRET_KEY" in w]
    assert "https://cadence.example" in warning
    assert "anyone could forge one for any lead" in warning
    caplog.clear()
    monkeypatch.setenv("CADENCE_SECRET_KEY", KEY)
    assert not [w for w in run_logged(caplog) if "CADENCE_SECRET_KEY" in w]
