"""The first-touch-sla flow: leads not touched within their class's first-touch time are escalated, once.

Thin on purpose: the work is in :mod:`cadence.services.first_touch`. The manager is emailed only when
``CADENCE_MANAGER_EMAIL`` is set; the breaches are recorded (and reassigned when
``CADENCE_FIRST_TOUCH_REASSIGN`` is set) either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger

from cadence.adapters.mail import SmtpSender
from cadence.services.advance import smtp_config
from cadence.services.first_touch import check_first_touch
from flows.advance import flow_context, smtp_password


@flow(name="first-touch-sla")
async def first_touch_sla(now: datetime | None = None) -> dict[str, Any]:
    """Escalate the leads whose first-touch SLA passed without a touch (at ``now``, default the clock)."""
    ctx = flow_context()
    ctx.require_schema()
    at = now or datetime.now(UTC)
    if ctx.settings.manager_email:
        async with SmtpSender(smtp_config(ctx, await smtp_password(ctx))) as sender:
            report = await check_first_touch(ctx, sender, now=at)
    else:
        report = await check_first_touch(ctx, None, now=at)
    if report.breaches:
        get_run_logger().warning("first touch late: %s", report.as_dict())
    return report.as_dict()
