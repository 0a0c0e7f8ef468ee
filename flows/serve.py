"""Serving every deployment on one machine with Prefect's ``serve`` (``cadence serve``)."""

from __future__ import annotations

import asyncio
from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from cadence.services.wake import Listener
from flows.advance import advance_cadences, flow_context, follow_up_lead, rep_digest
from flows.first_touch import first_touch_sla
from flows.replies import sync_replies_flow
from flows.reports import weekly_report
from flows.webhooks import deliver_webhooks

ADVANCE_EVERY_SECONDS = 300
DIGEST_CRON = "5 * * * *"  # hourly: each rep gets theirs when it is their digest hour locally
REPLIES_EVERY_SECONDS = 300
WEEKLY_REPORT_CRON = "0 7 * * 1"  # Mondays 07:00 UTC: the week before
WEBHOOKS_EVERY_SECONDS = 15
FIRST_TOUCH_EVERY_SECONDS = 60


def deployments() -> list[RunnerDeployment]:
    """What ``cadence serve`` serves: advance and sync-replies every 5 minutes, digest hourly, follow-up on demand,
    webhooks every 15 seconds, the first-touch SLA every minute."""
    made = [
        advance_cadences.to_deployment(name="advance", interval=ADVANCE_EVERY_SECONDS),
        rep_digest.to_deployment(name="rep-digest", cron=DIGEST_CRON),
        follow_up_lead.to_deployment(name="follow-up-lead"),
        sync_replies_flow.to_deployment(name="sync-replies", interval=REPLIES_EVERY_SECONDS),
        weekly_report.to_deployment(name="weekly-report", schedules=[Cron(WEEKLY_REPORT_CRON, timezone="UTC")]),
        deliver_webhooks.to_deployment(name="deliver-webhooks", interval=WEBHOOKS_EVERY_SECONDS),
        first_touch_sla.to_deployment(name="first-touch-sla", interval=FIRST_TOUCH_EVERY_SECONDS),
    ]
    return [cast(RunnerDeployment, d) for d in made]


def follow_up_now(email: str) -> None:
    """Run the ``follow-up-lead`` flow for ``email`` in this process, now (speed to lead)."""
    asyncio.run(follow_up_lead(email=email))


def serve_all() -> None:
    """Serve every deployment on this machine until interrupted; a lead the intake enrolls is followed up at once.

    The intake (the API, the contact form, in `cadence web`) announces each enrollment; the
    listener (:mod:`cadence.services.wake`) runs that lead's ``follow-up-lead`` flow in this process
    within seconds, instead of at the next 5-minute advance.
    """
    listener = Listener(flow_context(), follow_up_now)
    listener.start()
    try:
        serve(*deployments())
    finally:
        listener.stop()
