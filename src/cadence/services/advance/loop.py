"""The engine's loop: batch after batch until nothing is due (the tests and the Prefect flow run this one).

One batch (:func:`run_batch`) is: take a batch of due steps (:mod:`~cadence.services.advance.intake`:
one transaction), send its emails (:mod:`~cadence.services.advance.dispatch`), then settle what
SMTP said (:mod:`~cadence.services.advance.settle`: one transaction). Every transaction that finds
PostgreSQL away waits for it and runs again, for up to ``CADENCE_DB_RETRY_SECONDS``; a longer
outage, or SQLite locked by another writer past its busy timeout, stops the batch cleanly (the
report's ``stopped`` says why) and what it had claimed is taken up again once the lease lapses.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import func, select

from cadence.adapters.db import DatabaseUnavailable
from cadence.adapters.mail import SmtpConfig, SmtpSender
from cadence.adapters.models import Enrollment, Lead
from cadence.services.advance import intake, settle
from cadence.services.advance.compose import Versions
from cadence.services.advance.dispatch import dispatch, retrying
from cadence.services.advance.work import RunReport
from cadence.services.context import Context
from cadence.services.enrollments import lead_timezone


def smtp_config(ctx: Context, password: str | None = None) -> SmtpConfig:
    """The SMTP settings of the context (``password`` overrides the configured one)."""
    s = ctx.settings
    return SmtpConfig(
        host=s.smtp_host,
        port=s.smtp_port,
        username=s.smtp_username,
        password=password
        if password is not None
        else (s.smtp_password.get_secret_value() if s.smtp_password else None),
        tls=s.smtp_tls,
        timeout=s.smtp_timeout,
        connections=s.smtp_connections,
    )


async def run_batch(
    ctx: Context, *, now: datetime, batch_size: int, sender: SmtpSender, only_enrollment: int | None = None
) -> RunReport:
    """Claim and execute up to ``batch_size`` due steps as of ``now``; what it did."""
    report = RunReport(batches=1)
    await asyncio.to_thread(ctx.refresh_templates)  # one query per batch: a saved template is used from now on
    versions = Versions(ctx)
    try:
        await asyncio.to_thread(
            retrying, ctx, report, lambda _counts: intake.resume_lapsed_pauses(ctx, now=now, limit=batch_size)
        )
        emails, snapshots = await asyncio.to_thread(
            retrying, ctx, report,
            lambda counts: intake.take(ctx, now=now, limit=batch_size, only_enrollment=only_enrollment,
                                       report=counts, versions=versions),
        )  # fmt: skip
        if not emails:
            return report
        results = await dispatch(ctx, sender, emails, now, report, versions)

        def settled(counts: RunReport) -> None:
            with ctx.sessions() as session, session.begin():
                settle.settle(session, ctx, results, now, counts, snapshots)

        await asyncio.to_thread(retrying, ctx, report, settled)
    except DatabaseUnavailable as exc:
        reason = str(exc)
        report.stopped = (
            f"{reason}{' ' if reason.endswith(('.', '?', '!')) else '. '}The run stopped; nothing is lost: what it "
            "had claimed is taken up by the next run once the claims' lease lapses (CADENCE_LEASE_SECONDS)"
        )
    return report


class BatchRunner(Protocol):
    """Runs one batch (:func:`run_batch` for ``ctx``; the Prefect flow wraps it in a task run per batch)."""

    def __call__(
        self, *, now: datetime, batch_size: int, sender: SmtpSender, only_enrollment: int | None
    ) -> Awaitable[RunReport]:
        """Claim and execute up to ``batch_size`` due steps as of ``now``."""
        ...


async def run_until_idle(
    ctx: Context,
    *,
    now: datetime,
    batch_size: int | None = None,
    config: SmtpConfig | None = None,
    only_enrollment: int | None = None,
    max_batches: int = 100_000,
    batch: BatchRunner | None = None,
) -> RunReport:
    """Run batches until nothing more is due at ``now``, or a batch stopped (``stopped`` says why).

    The one loop of the engine: the tests run it, and so does the Prefect flow, which passes
    ``batch`` (:func:`run_batch` as a Prefect task, one task run per batch of leads).
    """
    run = batch or cast(BatchRunner, functools.partial(run_batch, ctx))
    total = RunReport()
    async with SmtpSender(config or smtp_config(ctx)) as sender:
        for _ in range(max_batches):
            report = await run(now=now, batch_size=batch_size or ctx.settings.batch_size, sender=sender,
                               only_enrollment=only_enrollment)  # fmt: skip
            total.add(report)
            if not report.did_work or report.stopped:
                break
    return total


def next_due(ctx: Context) -> datetime | None:
    """When the next step of any active enrollment falls due."""
    with ctx.sessions() as session:
        return session.scalar(select(func.min(Enrollment.next_due_at)).where(Enrollment.state == "active"))


def lead_zone(ctx: Context, lead: Lead) -> str:
    """The lead's effective time zone (for reports)."""
    return lead_timezone(lead, ctx.settings)
