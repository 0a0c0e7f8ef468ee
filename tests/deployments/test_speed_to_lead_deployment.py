"""Speed to lead with deployments: ``cadence web`` asks the Prefect server for a ``follow-up-lead`` run per lead.

Against the session's real Prefect server: a deployment of the ``follow-up-lead`` flow of its own
(deleted at the end, so that the other deployment test sees only ``deployments/prefect.yaml``'s), and
the waker ``cadence web`` uses with ``CADENCE_FOLLOW_UP_DEPLOYMENT``. No worker runs here: what is
checked is the run asked for (its lead, and its time: now, or the first step's when that is later).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from cadence.web.speed import deployment_waker
from flows.advance import follow_up_lead
from tests.support.prefect_server import PrefectStack

NAME = "speed-to-lead-test"


async def runs_of(deployment_id: UUID, count: int) -> list[FlowRun]:
    """The deployment's flow runs, once there are ``count`` of them (or after 60 s)."""
    deadline = time.monotonic() + 60
    async with get_client() as client:
        while True:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
            if len(runs) >= count or time.monotonic() > deadline:
                return runs
            await asyncio.sleep(0.2)


async def delete(deployment_id: UUID) -> None:
    """Remove the test's deployment from the session's server."""
    async with get_client() as client:
        await client.delete_deployment(deployment_id)


@pytest.mark.postgresql
def test_each_lead_enrolled_gets_a_follow_up_lead_run_now_or_at_its_first_step(prefect_server: PrefectStack) -> None:
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        deployment_id = follow_up_lead.to_deployment(name=NAME).apply()
        try:
            wake = deployment_waker(f"follow-up-lead/{NAME}")
            asked = datetime.now(UTC)
            opening = (asked + timedelta(hours=3)).replace(microsecond=0)
            wake("lee@prospect.example", asked.isoformat())  # due already: now
            wake("kim@prospect.example", opening.isoformat())  # outside the window: at its opening
            runs = asyncio.run(runs_of(deployment_id, 2))
        finally:
            asyncio.run(delete(deployment_id))
    by_lead = {run.parameters["email"]: run for run in runs}
    assert sorted(by_lead) == ["kim@prospect.example", "lee@prospect.example"]
    now_run = by_lead["lee@prospect.example"].expected_start_time
    later_run = by_lead["kim@prospect.example"].expected_start_time
    assert now_run is not None
    assert later_run is not None
    assert now_run < opening - timedelta(hours=2)
    assert later_run == opening
