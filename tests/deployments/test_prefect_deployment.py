"""The deployments are real: ``deployments/prefect.yaml`` applied to a Prefect server and run by a process worker.

Everything runs on this machine, as an operator would run it: ``prefect server start`` (the
session's, with its own home and its own database on the local PostgreSQL server), ``prefect
work-pool create``, ``prefect deploy --all``, ``prefect worker start``, then a run of the advance
deployment asked for through the API, as ``prefect deployment run`` does. The worker's flow run
sends its emails to the SMTP sink and records its touches in the PostgreSQL test database.

The Prefect server keeps its state in PostgreSQL, not SQLite: on SQLite, Prefect 3.8's server can
stall for a minute on "database is locked" while a worker polls (PrefectHQ/prefect#23051). Its
scheduler is off, so the only flow run is the one the test starts (the deployments' own schedules
would otherwise add runs, at the real time, while the test runs). No other test deploys to it.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.responses import DeploymentResponse
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import select

from cadence.adapters.models import Lead, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.advance import next_due, run_until_idle
from cadence.services.context import Context
from cadence.settings import Settings
from tests.conftest import TEMPLATES, _truncate_postgresql
from tests.flows.conftest import lead_row, seed
from tests.support.prefect_server import PrefectStack

ROOT = Path(__file__).resolve().parents[2]
PREFECT_FILE = ROOT / "deployments" / "prefect.yaml"

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York: the leads' enrollment
AS_OF = MONDAY + timedelta(days=2, hours=1)  # Wednesday 10:00 in New York: the day-2 emails are due by then
LEADS = 3
MAIL_DOMAIN = "deployed.cadence.example"

FLOW_RUN_SECONDS = 120


async def start_a_run(api_url: str, deployment_id: UUID, parameters: dict[str, Any]) -> None:
    """Ask for a run of the deployment now, as `prefect deployment run` does."""
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            await client.create_flow_run_from_deployment(deployment_id, parameters=parameters)


async def wait_for_the_run(api_url: str, deployment_id: UUID) -> FlowRun:
    """The deployment's only flow run, once it is final (or when the time is up)."""
    deadline = time.monotonic() + FLOW_RUN_SECONDS
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            while True:
                runs = await client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
                )
                assert len(runs) <= 1, [r.name for r in runs]
                if runs and runs[0].state is not None and runs[0].state.is_final():
                    return runs[0]
                if time.monotonic() > deadline:
                    pytest.fail(f"the advance flow run is not done after {FLOW_RUN_SECONDS}s: {runs}")
                await asyncio.sleep(0.5)


async def read_deployments(api_url: str) -> dict[str, DeploymentResponse]:
    """Every deployment on the server, by its full name (``flow/deployment``)."""
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            found: dict[str, DeploymentResponse] = {}
            for deployment in await client.read_deployments():
                flow = await client.read_flow(deployment.flow_id)
                found[f"{flow.name}/{deployment.name}"] = deployment
            return found


def addressee(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec)


@pytest.mark.slow
@pytest.mark.postgresql
def test_the_advance_deployment_run_by_a_worker_sends_the_due_emails_and_records_the_touches(
    postgresql_database: str, smtp_sink: SmtpSink, prefect_server: PrefectStack
) -> None:
    prefect = prefect_server
    with ExitStack() as stack:
        try:
            leads = seed_leads_whose_introduction_is_due(postgresql_database, smtp_sink)
            prefect.run("work-pool", "create", "cadence", "--type", "process")
            worker_env = prefect.environment(
                PREFECT_WORKER_QUERY_SECONDS="1",
                CADENCE_DATABASE_URL=postgresql_database,
                CADENCE_TEMPLATES_DIR=str(TEMPLATES),
                CADENCE_DEFAULT_TIMEZONE="UTC",
                CADENCE_SMTP_HOST=smtp_sink.host,
                CADENCE_SMTP_PORT=str(smtp_sink.port),
                CADENCE_MAIL_DOMAIN=MAIL_DOMAIN,
                CADENCE_PROJECT_DIR=str(ROOT),
            )
            # The worker starts (it takes seconds) while the deployments are applied. It runs elsewhere than the
            # project's root: its flow runs get there by the deployments' pull step, from CADENCE_PROJECT_DIR.
            worker = prefect.start(
                "prefect worker",
                ["prefect", "worker", "start", "--pool", "cadence", "--name", "test-worker"],
                worker_env,
                cwd=prefect.root,
            )
            stack.callback(worker.stop)  # at the end of this test, not of the session's server
            # Deployed without CADENCE_PROJECT_DIR (none of our CADENCE_* variables): set there, its value would
            # be written into the deployments, and each worker's own would be ignored.
            prefect.run("--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_FILE.relative_to(ROOT)))
            deployments = asyncio.run(read_deployments(prefect.api_url))
            assert sorted(deployments) == ["advance-cadences/advance", "deliver-webhooks/deliver-webhooks",
                                           "first-touch-sla/first-touch-sla", "follow-up-lead/follow-up-lead",
                                           "rep-digest/rep-digest", "sync-replies/sync-replies",
                                           "weekly-report/weekly-report"]  # fmt: skip
            assert {d.work_pool_name for d in deployments.values()} == {"cadence"}
            advance = deployments["advance-cadences/advance"]
            assert advance.pull_steps == [
                {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $CADENCE_PROJECT_DIR }}"}}
            ]
            assert [getattr(s.schedule, "interval", None) for s in advance.schedules] == [timedelta(seconds=300)]
            digest = deployments["rep-digest/rep-digest"]
            assert [getattr(s.schedule, "cron", None) for s in digest.schedules] == ["5 * * * *"]
            assert deployments["follow-up-lead/follow-up-lead"].schedules == []

            asyncio.run(start_a_run(prefect.api_url, advance.id, {"now": AS_OF.isoformat()}))
            run = asyncio.run(wait_for_the_run(prefect.api_url, advance.id))
            assert run.state is not None
            assert run.state.type == StateType.COMPLETED, f"the flow run ended {run.state!r}"
            assert run.parameters == {"now": AS_OF.isoformat()}
            assert worker.running()

            messages = smtp_sink.wait_for(len(leads), timeout=5)
            assert len(messages) == len(leads)  # one introduction per lead, and nothing else
            assert sorted(addressee(m) for m in messages) == leads
            assert {m["From"] for m in messages} == {"Rita Alvarez <rita@cadence.example>"}
            received = {addressee(m): m["Message-ID"] for m in messages}
            assert all(i.endswith(f"@{MAIL_DOMAIN}>") for i in received.values())  # the worker's settings
            assert email_touches(postgresql_database) == {lead: ("sent", received[lead]) for lead in leads}
        except BaseException:
            print(prefect.report())
            raise


def seed_leads_whose_introduction_is_due(database_url: str, sink: SmtpSink) -> list[str]:
    """Leads enrolled on MONDAY whose day-1 research was done on time: their day-2 email is due at AS_OF."""
    _truncate_postgresql(database_url)
    settings = Settings(
        database_url=database_url,
        templates_dir=TEMPLATES,
        default_timezone="UTC",
        smtp_host=sink.host,
        smtp_port=sink.port,
    )
    ctx = Context(settings)
    try:
        seed(ctx, [lead_row(i) for i in range(LEADS)], now=MONDAY)
        research = asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=1)))  # Tuesday 09:00 in New York
        assert research.tasks == {"research": LEADS}
        assert research.emails_sent == 0
        assert next_due(ctx) == datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # Wednesday 08:00 in New York
    finally:
        ctx.close()
    assert sink.count() == 0
    return sorted(f"lead{i}@acme.example" for i in range(LEADS))


def email_touches(database_url: str) -> dict[str, tuple[str, str | None]]:
    """Each lead's email touch: its state and Message-ID."""
    ctx = Context(Settings(database_url=database_url, templates_dir=TEMPLATES))
    try:
        with ctx.sessions() as s:
            rows = s.execute(
                select(Lead.email, Touch.state, Touch.message_id)
                .join(Lead, Lead.id == Touch.lead_id)
                .where(Touch.channel == "email")
            ).all()
    finally:
        ctx.close()
    touches = {email: (state, message_id) for email, state, message_id in rows}
    assert len(touches) == len(rows), rows  # one email touch per lead
    return touches
