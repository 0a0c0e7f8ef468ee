"""Serving every deployment on one machine with Prefect's ``serve`` (``cadence serve``)."""

from __future__ import annotations

from typing import cast

from prefect import serve
from prefect.deployments.runner import RunnerDeployment

from flows.advance import advance_cadences, follow_up_lead, rep_digest

ADVANCE_EVERY_SECONDS = 300
DIGEST_CRON = "5 * * * *"  # hourly: each rep gets theirs when it is their digest hour locally


def deployments() -> list[RunnerDeployment]:
    """The deployments ``cadence serve`` serves: advance every 5 minutes, rep digest hourly, follow-up on demand."""
    made = [
        advance_cadences.to_deployment(name="advance", interval=ADVANCE_EVERY_SECONDS),
        rep_digest.to_deployment(name="rep-digest", cron=DIGEST_CRON),
        follow_up_lead.to_deployment(name="follow-up-lead"),
    ]
    return [cast(RunnerDeployment, d) for d in made]


def serve_all() -> None:
    """Serve every deployment on this machine until interrupted."""
    serve(*deployments())
