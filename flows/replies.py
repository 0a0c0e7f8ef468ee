"""The sync-replies flow: read the replies mailboxes over IMAP and act on each new message, once.

Thin on purpose: the work is in :mod:`cadence.services.replies`; the flow reads every inbox (the
shared replies mailbox, ``CADENCE_IMAP_*``, and each sending mailbox with IMAP settings:
:mod:`cadence.services.reply_runs`) as one Prefect task and publishes what it did as a table artifact
(key ``sync-replies-report``). An inbox that cannot be read does not stop the others: the run reads
them, wakes the snoozed leads, publishes its report, and then fails naming the inboxes not read (so
that it shows as failed in Prefect and alerts as any failed run). Then it wakes the
leads whose snooze is over (:func:`cadence.services.snoozes.wake_snoozed`): a "not now, in March"
read today, or months ago, is enrolled again when March comes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NONE

from cadence.adapters.imap import ImapError
from cadence.services.reply_runs import RepliesRun, inboxes, sync_every_mailbox
from cadence.services.snoozes import WakeReport, wake_snoozed
from flows.advance import flow_context

REPORT_KEY = "sync-replies-report"


NOTHING_TO_READ = "no replies mailbox: CADENCE_IMAP_HOST is not set and no sending mailbox has an IMAP host"


@task(name="read-replies-mailboxes", cache_policy=NONE, retries=0)
async def read_mailboxes(now: datetime) -> RepliesRun:
    """Read the new messages of every replies inbox and act on each."""
    return await sync_every_mailbox(flow_context(), now=now)


@task(name="wake-snoozed-leads", cache_policy=NONE, retries=0)
def wake_leads(now: datetime) -> WakeReport:
    """Enroll again the leads whose snooze is over."""
    return wake_snoozed(flow_context(), now=now)


async def publish(run: RepliesRun, now: datetime) -> None:
    """Publish a run's report as a Prefect table artifact: each inbox's rows, then those not read."""
    rows: list[dict[str, object]] = []
    for report in run.reports:
        box = report.mailbox
        rows += [
            {"mailbox": box, "what": "last UID read", "count": report.last_uid,
             "detail": f"folder {report.folder}, UIDVALIDITY {report.uidvalidity}"},
            {"mailbox": box, "what": "read again from UID 1 (UIDVALIDITY changed)", "count": int(report.restarted),
             "detail": ""},
            {"mailbox": box, "what": "messages fetched", "count": report.fetched, "detail": ""},
        ]  # fmt: skip
        rows += [{"mailbox": box, "what": f"kind: {kind}", "count": n, "detail": ""}
                 for kind, n in sorted(report.kinds.items())]  # fmt: skip
        rows += [
            {"mailbox": box, "what": "unmatched (no lead)", "count": report.unmatched,
             "detail": ", ".join(report.unmatched_senders)},
            {"mailbox": box, "what": "replies recorded (cadence stopped)", "count": report.replies, "detail": ""},
            {"mailbox": box, "what": "reply tasks created", "count": report.tasks, "detail": ""},
            {"mailbox": box, "what": "paused by an automatic reply", "count": report.paused, "detail": ""},
            {"mailbox": box, "what": "addresses suppressed", "count": report.suppressed, "detail": ""},
        ]  # fmt: skip
        rows += [{"mailbox": box, "what": f"decision: {o}", "count": n, "detail": ""}
                 for o, n in sorted(report.decisions.items())]  # fmt: skip
        rows += [{"mailbox": box, "what": "error (read again next run)", "count": 1, "detail": e}
                 for e in report.errors[:50]]  # fmt: skip
    rows += [{"mailbox": box, "what": "NOT READ (read again next run)", "count": 1, "detail": why}
             for box, why in run.failed]  # fmt: skip
    await acreate_table_artifact(
        table=rows, key=REPORT_KEY, description=f"cadence sync-replies run as of {now.isoformat()}"
    )


@flow(name="sync-replies")
async def sync_replies_flow(now: datetime | None = None) -> dict[str, Any]:
    """Read the replies mailboxes: replies stop cadences, out-of-office notes pause them, bounces and
    unsubscribes end them. Does nothing (with a warning) when there is no inbox to read; raises
    :class:`~cadence.adapters.imap.ImapError` after the others are read when an inbox could not be."""
    ctx = flow_context()
    logger = get_run_logger()
    ctx.require_schema()
    sources, broken = inboxes(ctx)
    if not sources and not broken:
        logger.warning("%s; nothing done", NOTHING_TO_READ)
        return {"skipped": NOTHING_TO_READ}
    at = now or datetime.now(UTC)
    run = await read_mailboxes(at)
    await publish(run, at)
    result = run.as_dict()
    logger.info("sync-replies as of %s: %s", at.isoformat(), result)
    if run.errors:
        logger.warning("%d message(s) failed and will be read again: %s", len(run.errors), run.errors[:5])
    woken = wake_leads(at)
    if woken.errors:
        logger.warning("%d snoozed lead(s) failed and will be tried again: %s", len(woken.errors), woken.errors[:5])
    if run.failed:
        raise ImapError(
            f"{len(run.failed)} of {len(run.failed) + len(run.reports)} replies mailbox(es) could not be read "
            "(the others were): " + "; ".join(f"{box}: {why}" for box, why in run.failed)
        )
    return {**result, "snoozes": woken.as_dict()}
