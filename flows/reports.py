"""The weekly-report flow: the results report of the last days, published and emailed to the managers.

The report (:mod:`cadence.services.reports`) is published as a Prefect markdown artifact
(key ``weekly-report``) and emailed to every address in ``CADENCE_REPORT_RECIPIENTS``
(comma-separated): the plain-text report as the body, the markdown attached as ``weekly-report.md``.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from cadence.adapters.mail import SmtpSender, build_message
from cadence.errors import ConfigurationError, ValidationError
from cadence.services.advance import smtp_config
from cadence.services.context import Context
from cadence.services.reports import generate_report, render_markdown, render_text
from flows.advance import flow_context, smtp_password

_ADDRESS = re.compile(r"[^@\s<>,;\"()]+@[^@\s<>,;\"()]+\.[^@\s<>,;\"()]+")


def report_recipients(ctx: Context) -> list[str]:
    """The addresses in the setting ``report_recipients`` (``CADENCE_REPORT_RECIPIENTS``), comma-separated.

    Read from the settings once they have the field, from the environment until then.
    """
    if "report_recipients" in type(ctx.settings).model_fields:
        raw: Any = getattr(ctx.settings, "report_recipients", None)
    else:
        raw = os.environ.get("CADENCE_REPORT_RECIPIENTS")
    found: list[str] = []
    for part in str(raw or "").split(","):
        address = part.strip()
        if not address:
            continue
        if not _ADDRESS.fullmatch(address):
            raise ConfigurationError(f"CADENCE_REPORT_RECIPIENTS: {address!r} is not an email address")
        if address.lower() not in {a.lower() for a in found}:
            found.append(address)
    return found


async def email_report(
    ctx: Context, recipients: list[str], *, subject: str, text: str, markdown: str, now: datetime
) -> int:
    """Email the report to each recipient (one message each); returns how many were sent."""
    if not recipients:
        return 0
    domain = ctx.settings.mail_domain
    sender_address = f"cadence@{domain}"
    async with SmtpSender(smtp_config(ctx, await smtp_password(ctx))) as sender:
        for recipient in recipients:
            message = build_message(
                from_name="cadence",
                from_address=sender_address,
                to_address=recipient,
                to_name=None,
                subject=subject,
                text=text,
                html=None,
                message_id=f"<report.{now:%Y%m%dT%H%M%S}.{secrets.token_hex(6)}@{domain}>",
                date=now,
            )
            message.add_attachment(markdown, subtype="markdown", filename="weekly-report.md")
            await sender.send(message, sender=sender_address, recipient=recipient)
    return len(recipients)


@flow(name="weekly-report")
async def weekly_report(now: datetime | None = None, days: int = 7) -> dict[str, Any]:
    """Report the enrollments of the last ``days`` days: a markdown artifact, and an email to the managers."""
    if days < 1:
        raise ValidationError(f"days must be at least 1, not {days}")
    ctx = flow_context()
    ctx.require_schema()
    recipients = report_recipients(ctx)  # a bad setting fails the run before any work
    at = now or datetime.now(UTC)
    since = at - timedelta(days=days)
    data = await asyncio.to_thread(generate_report, ctx, since=since, until=at, now=at)
    markdown = render_markdown(data)
    await acreate_markdown_artifact(
        key="weekly-report",
        markdown=markdown,
        description=f"cadence results for enrollments from {since.isoformat()} to {at.isoformat()}",
    )
    funnel = data["funnel"]
    flagged = data["decisions"]["meetings_without_answers"]["count"]
    subject = (
        f"cadence weekly report {since:%Y-%m-%d} to {at:%Y-%m-%d}: {funnel['enrolled']} enrolled, "
        f"{funnel['meetings_booked']} meetings booked" + (f", {flagged} flagged" if flagged else "")
    )
    sent = await email_report(ctx, recipients, subject=subject, text=render_text(data), markdown=markdown, now=at)
    logger = get_run_logger()
    if not recipients:
        logger.warning("no CADENCE_REPORT_RECIPIENTS: the weekly report is published as an artifact only")
    logger.info("weekly report %s: emailed to %d recipient(s)", subject, sent)
    return {
        "since": since.isoformat(),
        "until": at.isoformat(),
        "sent": sent,
        "funnel": funnel,
        "meetings_without_answers": flagged,
    }
