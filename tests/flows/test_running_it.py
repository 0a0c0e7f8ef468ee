"""Running cadence as ops do: the run artifact, `cadence run`, `cadence simulate`, and the demo."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from cadence.adapters.smtp_sink import SmtpSink
from flows.advance import advance_cadences, flow_context
from tests.conftest import TEMPLATES, Cli
from tests.flows.conftest import lead_row, seed

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
SEND = MONDAY + timedelta(days=1, hours=1)


async def latest_table(key: str) -> list[dict[str, object]]:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), limit=50
        )
    newest = max(artifacts, key=lambda a: a.created or datetime.min.replace(tzinfo=UTC))
    data = newest.data
    rows = json.loads(data) if isinstance(data, str) else data
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
    from cadence.demo import run_demo

    lines: list[str] = []
    monkeypatch.chdir(tmp_path)
    for key in ("CADENCE_DATABASE_URL", "CADENCE_SMTP_HOST", "CADENCE_SMTP_PORT", "CADENCE_TEMPLATES_DIR"):
        monkeypatch.delenv(key, raising=False)
    ctx = run_demo(tmp_path / "var" / "demo", TEMPLATES, lines.append, days=12)
    ctx.close()
    text = "\n".join(lines)
    assert "imported 25 sample people" in text
    assert "day-by-day" in text
    assert "decision meeting_booked for ada.lovelace@analytical.example" in text
    assert "emails sent:" in text
    mail = list((tmp_path / "var" / "demo" / "mail" / "new").iterdir())
    sent_line = next(line for line in lines if "emails sent:" in line)
    assert f"the SMTP sink received {len(mail)}" in sent_line
    assert len(mail) > 20
