"""The deliver-webhooks flow: send the outbox's due deliveries, signed, in order per lead, retried.

Thin on purpose: the work is in :mod:`cadence.services.webhooks.delivery`. Runs overlap safely
(deliveries are claimed with a lease and ``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger

from cadence.services.webhooks.delivery import deliver_due
from flows.advance import flow_context


@flow(name="deliver-webhooks")
def deliver_webhooks(now: datetime | None = None) -> dict[str, Any]:
    """Send every webhook delivery due (at ``now``, default the clock) until none is left; failures wait for a retry."""
    ctx = flow_context()
    ctx.require_schema()
    logger = get_run_logger()
    report = deliver_due(ctx, clock=(lambda: now) if now is not None else (lambda: datetime.now(UTC)))
    logger.info("deliver-webhooks: %s", report.as_dict())
    if report.dead:
        logger.warning("%d delivery(ies) failed for the whole retry window: `cadence webhooks failures`", report.dead)
    return report.as_dict()
