"""The sync-replies flow: read the replies mailbox over IMAP and act on each new message, once.

Thin on purpose: the work is in :mod:`cadence.services.replies`; the flow runs it as one Prefect
task and publishes what it did as a table artifact (key ``sync-replies-report``). Then it wakes the
leads whose snooze is over (:func:`cadence.services.snoozes.wake_snoozed`): a "not now, in March"
read today, or months ago, is enrolled again when March comes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NONE

from cadence.services.replies import SyncReport, sync_replies
from cadence.services.snoozes import WakeReport, wake_snoozed
from flows.advance import flow_context

REPORT_KEY = "sync-replies-report"


@task(name="read-replies-mailbox", cache_policy=NONE, retries=0)
async def read_mailbox(now: datetime) -> SyncReport:
    """Read the new messages of the replies folder and act on each."""
    return await sync_replies(flow_context(), now=now)


@task(name="wake-snoozed-leads", cache_policy=NONE, retries=0)
def wake_leads(now: datetime) -> WakeReport:
    """Enroll again the leads whose snooze is over."""
    return wake_snoozed(flow_context(), now=now)


async def publish(report: SyncReport, now: datetime) -> None:
    """Publish a run's report as a Prefect table artifact."""
    rows: list[dict[str, object]] = [
        {"what": "last UID read", "count": report.last_uid,
         "detail": f"folder {report.folder}, UIDVALIDITY {report.uidvalidity}"},
        {"what": "read again from UID 1 (UIDVALIDITY changed)", "count": int(report.restarted), "detail": ""},
        {"what": "messages fetched", "count": report.fetched, "detail": ""},
    ]  # fmt: skip
    rows += [{"what": f"kind: {kind}", "count": n, "detail": ""} for kind, n in sorted(report.kinds.items())]
    rows += [
        {"what": "unmatched (no lead)", "count": report.unmatched, "detail": ", ".join(report.unmatched_senders)},
        {"what": "replies recorded (cadence stopped)", "count": report.replies, "detail": ""},
        {"what": "reply tasks created", "count": report.tasks, "detail": ""},
        {"what": "paused by an automatic reply", "count": report.paused, "detail": ""},
        {"what": "addresses suppressed", "count": report.suppressed, "detail": ""},
    ]
    rows += [{"what": f"decision: {o}", "count": n, "detail": ""} for o, n in sorted(report.decisions.items())]
    rows += [{"what": "error (read again next run)", "count": 1, "detail": e} for e in report.errors[:50]]
    await acreate_table_artifact(
        table=rows, key=REPORT_KEY, description=f"cadence sync-replies run as of {now.isoformat()}"
    )


@flow(name="sync-replies")
async def sync_replies_flow(now: datetime | None = None) -> dict[str, Any]:
    """Read the replies mailbox: replies stop cadences, out-of-office notes pause them, bounces and
    unsubscribes end them. Does nothing (with a warning) when CADENCE_IMAP_HOST is not set."""
    ctx = flow_context()
    logger = get_run_logger()
    if not ctx.settings.imap_host:
        logger.warning("CADENCE_IMAP_HOST is not set: there is no replies mailbox to read; nothing done")
        return {"skipped": "CADENCE_IMAP_HOST is not set"}
    ctx.require_schema()
    at = now or datetime.now(UTC)
    report = await read_mailbox(at)
    await publish(report, at)
    logger.info("sync-replies as of %s: %s", at.isoformat(), report.as_dict())
    if report.errors:
        logger.warning("%d message(s) failed and will be read again: %s", len(report.errors), report.errors[:5])
    woken = wake_leads(at)
    if woken.errors:
        logger.warning("%d snoozed lead(s) failed and will be tried again: %s", len(woken.errors), woken.errors[:5])
    return {**report.as_dict(), "snoozes": woken.as_dict()}
