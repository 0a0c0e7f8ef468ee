"""Running cadence as ops do: the run artifact, `cadence run`, `cadence simulate`, and the demo."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from cadence.adapters.db import make_engine
from cadence.adapters.models import User, WebSession
from cadence.adapters.smtp_sink import SmtpSink
from flows.advance import advance_cadences, flow_context
from tests.conftest import TEMPLATES, Cli
from tests.flows.conftest import lead_row, seed
from tests.support.ports import free_port

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
SEND = MONDAY + timedelta(days=1, hours=1)


async def latest_table(key: str) -> list[dict[str, object]]:
    # The newest by the server's sort: its default (by id, random UUIDs) with a limit left out the
    # newest run's table once more than the limit had been published in the session.
    async with get_client() as client:
        [newest] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    rows = json.loads(newest.data) if isinstance(newest.data, str) else newest.data
    assert isinstance(rows, list)
    return rows


def test_each_run_publishes_a_table_of_what_it_did(flow_env: SmtpSink) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    asyncio.run(advance_cadences(now=SEND))
    rows = {str(r["what"]): r["count"] for r in asyncio.run(latest_table("advance-report"))}
    assert rows["emails sent"] == 2
    assert rows["claimed"] == 2
    assert rows["uncertain (possibly sent, never re-sent)"] == 0


def test_cadence_run_and_simulate_drive_the_flows_from_the_command_line(flow_env: SmtpSink, run_cli: Cli) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    run_cli.env.update({"CADENCE_SMTP_HOST": flow_env.host, "CADENCE_SMTP_PORT": str(flow_env.port)})
    ran = run_cli("run", "--now", SEND.isoformat()).json()
    assert ran["emails_sent"] == 1
    simulated = run_cli("simulate", "--start", SEND.isoformat(), "--end", (SEND + timedelta(days=30)).isoformat(),
                        "--every", "12h").json()  # fmt: skip
    assert simulated["emails_sent"] == 2  # nurture's day 7 and day 21 emails
    assert simulated["tasks_created"] == {"linkedin": 1}
    assert simulated["completed_no_response"] == 1
    assert flow_env.count() == 3
    assert "duration" in run_cli("simulate", "--start", "2026-01-01", "--end", "2026-01-02", "--every", "soon",
                                 expect=1).stderr  # fmt: skip
    assert "before" in run_cli("simulate", "--start", "2026-01-02", "--end", "2026-01-01", expect=1).stderr


@pytest.mark.slow
def test_the_demo_runs_on_a_fresh_folder_and_tells_what_happened(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadence.demo import DEMO_START, run_demo

    lines: list[str] = []
    monkeypatch.chdir(tmp_path)
    for key in ("CADENCE_DATABASE_URL", "CADENCE_SMTP_HOST", "CADENCE_SMTP_PORT", "CADENCE_SMTP_TLS",
                "CADENCE_TEMPLATES_DIR"):  # fmt: skip
        monkeypatch.setenv(key, "")  # so that what the demo sets is undone after the test
        monkeypatch.delenv(key)
    ctx = run_demo(tmp_path / "var" / "demo", TEMPLATES, lines.append, days=12)
    ctx.close()
    text = "\n".join(lines)
    assert "imported 25 sample people" in text
    assert "day-by-day" in text
    assert "decision meeting_booked for ada.lovelace@analytical.example" in text
    assert "new contact_request: mary.jackson@windtunnel.example" in text  # the arrivals left for the workspace
    assert "emails sent:" in text
    mail = list((tmp_path / "var" / "demo" / "mail" / "new").iterdir())
    sent_line = next(line for line in lines if "emails sent:" in line)
    assert f"the SMTP sink received {len(mail)}" in sent_line
    assert len(mail) > 20
    assert_the_demo_ends_with_how_to_open_the_workspace(lines, tmp_path, end=DEMO_START + timedelta(days=12))


DEMO_LOGINS = [
    ("rita.rep@cadence.example", "rep", "/tasks"),
    ("mia.marketer@cadence.example", "marketer", "/cadences"),
    ("max.manager@cadence.example", "manager", "/dashboard"),
]


def assert_the_demo_ends_with_how_to_open_the_workspace(lines: list[str], folder: Path, *, end: datetime) -> None:
    """The demo's last lines: the exact ``cadence web`` command, the URL, the accounts and their password.

    The command is run as printed (on a free port) and every account logs in over HTTP.
    """
    start = lines.index("open the workspace on the demo data (run this from this folder; Ctrl-C stops it):")
    assert len(lines) - start == 8, "the workspace instructions end the demo"
    command = lines[start + 1].strip()
    login = r"then go to http://127\.0\.0\.1:8000/login and log in with the password (\S+) as"
    found = re.fullmatch(login, lines[start + 2])
    assert found is not None, lines[start + 2]
    password = found.group(1)
    assert len(password) >= 12
    assert [tuple(line.split()[:2]) for line in lines[start + 3 : start + 6]] == [(e, r) for e, r, _ in DEMO_LOGINS]
    assert "cadence users set-password EMAIL" in lines[start + 6]
    words = shlex.split(command)
    assignments = {key: value for key, _, value in (w.partition("=") for w in words if re.match(r"^[A-Z_]+=", w))}
    argv = [word for word in words if not re.match(r"^[A-Z_]+=", word)]
    assert assignments["CADENCE_DATABASE_URL"] == "sqlite:///var/demo/cadence.db"  # relative to where it ran
    assert argv[1:] == ["web", "--now", end.isoformat()]

    engine = make_engine(f"sqlite:///{folder / 'var' / 'demo' / 'cadence.db'}")
    try:
        check_the_accounts_log_in(engine, argv, assignments, password, folder, end)
    finally:
        engine.dispose()


def check_the_accounts_log_in(
    engine: Engine, argv: list[str], assignments: dict[str, str], password: str, folder: Path, end: datetime
) -> None:
    """The demo's accounts exist, and log in to the app served by the demo's command."""
    with sessionmaker(engine)() as s:
        stored = s.execute(select(User.email, User.role, User.password_hash).order_by(User.id)).all()
    assert [(email, role) for email, role, _ in stored] == [(e, r) for e, r, _ in DEMO_LOGINS]
    assert all(hashed.startswith("$argon2id$") and password not in hashed for _, _, hashed in stored)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")} | assignments
    server = subprocess.Popen(
        [*argv, "--port", str(port)], env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, base)
        for email, _, landing in DEMO_LOGINS:
            with httpx.Client(base_url=base, timeout=30) as http:
                form = http.get("/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert token is not None
                data = {"email": email, "password": password, "csrf_token": token.group(1), "next": ""}
                response = http.post("/login", data=data)
                assert (response.status_code, response.headers.get("location")) == (303, landing), response.text
                page = http.get(landing)
                assert page.status_code == 200
                if landing == "/tasks":  # the arrivals' tasks, left for the rep, overdue at the demo's end
                    overdue = page.text.split('id="heading-overdue"', 1)[1].split('id="heading-today"', 1)[0]
                    assert "Call Mary Jackson" in overdue
                    assert "Tommy Flowers" not in page.text  # Sam's
        with sessionmaker(engine)() as s:
            opened = s.scalars(select(WebSession.created_at)).all()
        assert len(opened) == 3
        assert all(end <= at < end + timedelta(minutes=5) for at in opened)  # the app's clock started at --now
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output


def wait_until_up(server: subprocess.Popen[str], base: str) -> None:
    """Wait for the server's health check to answer (fail if the process ends first)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"cadence web exited with {server.returncode}: {server.communicate()[0]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("cadence web did not start within 90 seconds")
