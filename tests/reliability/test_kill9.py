"""kill -9: advance runs killed with SIGKILL at random moments, then started again, until the work is done.

Nothing is lost and nothing is sent twice; at most one email per SMTP connection per kill ends
``uncertain`` (a kill between handing it to SMTP and recording the reply, on each connection);
claims orphaned by a kill are taken up by the next run, one lease later; and leads decided while
their claims were orphaned are never emailed. ``benchmarks/chaos.py --kills 200`` plays the same
scenario longer.
"""

from __future__ import annotations

import pytest

from cadence.adapters.smtp_sink import SmtpSink
from tests.reliability.scenarios import KillNine, TouchLog
from tests.support.prefect_server import PrefectStack

KILLS = 20


@pytest.mark.slow
@pytest.mark.postgresql
def test_runs_killed_at_random_moments_lose_nothing_and_send_nothing_twice(
    clean_postgresql: str,
    logging_sink: SmtpSink,
    touch_log: TouchLog,
    prefect_server: PrefectStack,
    tmp_path: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = KillNine(
        database_url=clean_postgresql,
        sink_port=logging_sink.port,
        log=touch_log,
        environment=prefect_server.environment(),
        work_dir=tmp_path,  # type: ignore[arg-type]
        kills=KILLS,
        seed=20261201,
    )
    result = scenario.play()
    with capsys.disabled():
        print(f"\nkill -9 on PostgreSQL: {result.json()}")
    assert result.kills == KILLS
    assert result.duplicates == 0
    assert result.lost == 0
    assert result.uncertain <= result.kills * result.connections
    assert result.sent_after_decision == 0
    assert result.sent + result.uncertain + result.extra["decisions"] >= result.steps
    assert result.sent > result.steps // 2  # the runs did real work between the kills
