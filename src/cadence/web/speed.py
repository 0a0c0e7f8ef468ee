"""Speed to lead under Prefect deployments: each lead the intake enrolls gets a ``follow-up-lead`` flow run.

``cadence serve`` listens for enrollments itself (:mod:`cadence.services.wake`); with deployments
and workers (``CADENCE_FOLLOW_UP_DEPLOYMENT``), ``cadence web`` asks the Prefect server for a run of
that deployment for the lead, at once, or at its first step's time when that is later (outside its
send window). A worker picks the run up at its next poll (``PREFECT_WORKER_QUERY_SECONDS``, 10 s by
default). The request is made on a thread of its own: the answer to the API's client never waits
for Prefect, and a Prefect server away costs only the speed (the scheduled advance takes the lead).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

logger = logging.getLogger("cadence.web.speed")


def _when(first_step_at: str | None) -> datetime | None:
    """The first step's time if it is later than now, else None (now)."""
    if not first_step_at:
        return None
    try:
        at = datetime.fromisoformat(first_step_at)
    except ValueError:
        return None
    return at if at > datetime.now(UTC) else None


def deployment_waker(name: str) -> Callable[[str, str | None], None]:
    """A waker that starts a run of deployment ``name`` (``flow/deployment``) for each lead enrolled."""

    def start(email: str, first_step_at: str | None) -> None:
        from prefect.deployments import run_deployment

        try:
            run_deployment(
                name,
                parameters={"email": email},
                timeout=0,
                scheduled_time=_when(first_step_at),
                tags=["speed-to-lead"],
            )
        except Exception:  # Prefect away: the scheduled advance takes the lead, a few minutes later
            logger.exception("speed to lead: no %s run could be started for a lead just enrolled", name)

    def wake(email: str, first_step_at: str | None) -> None:
        # The thread runs in a copy of this context: Prefect's settings (its API URL) come along.
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(start, email, first_step_at), name="cadence-follow-up", daemon=True
        )
        thread.start()

    return wake
