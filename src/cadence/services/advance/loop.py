"""The engine's loop: batch after batch until nothing is due (the tests and the Prefect flow run this one).

One batch (:func:`run_batch`) is: take a batch of due steps (:mod:`~cadence.services.advance.intake`:
one transaction), send its emails (:mod:`~cadence.services.advance.dispatch`), then settle what
SMTP said (:mod:`~cadence.services.advance.settle`: one transaction). On SQLite the claim and the
settlement each take the long-running writers' turn (:func:`cadence.adapters.db.long_writer_turn`) and
pause after committing, so that other writers waiting for the lock get it. Every transaction that finds
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

from cadence.adapters.db import DatabaseUnavailable, long_writer_turn
from cadence.adapters.mail import SmtpConfig, SmtpSender
from cadence.adapters.models import Enrollment, Lead
from cadence.services import guards
from cadence.services.advance import intake, settle
from cadence.services.advance.compose import Versions
from cadence.services.advance.dispatch import dispatch, retrying
from cadence.services.advance.settle import SendResult
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.cadence_versions import lead_timezone
from cadence.services.context import Context
from cadence.services.mailboxes import MailboxRoute
from cadence.services.sending_domains import domain_keys, load_signers


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

        def taken(counts: RunReport) -> tuple[list[WorkItem], dict[int, Enrollment]]:
            with long_writer_turn(ctx.engine) as turn:  # on SQLite: other writers get the lock after the claim
                emails, snapshots = intake.take(ctx, now=now, limit=batch_size, only_enrollment=only_enrollment,
                                                report=counts, versions=versions)  # fmt: skip
                if not snapshots:
                    turn.pause = 0.0  # it claimed nothing: the run ends here, there is no next claim to make way for
                return emails, snapshots

        emails, snapshots = await asyncio.to_thread(retrying, ctx, report, taken)
        if not emails:
            return report
        results = await dispatch_all(ctx, sender, emails, now, report, versions)

        def settled(counts: RunReport) -> None:
            with long_writer_turn(ctx.engine), ctx.sessions() as session, session.begin():
                settle.settle(session, ctx, results, now, counts, snapshots)

        await asyncio.to_thread(retrying, ctx, report, settled)
        await asyncio.to_thread(retrying, ctx, report, functools.partial(bounce_guard, ctx, results, now))
    except DatabaseUnavailable as exc:
        reason = str(exc)
        report.stopped = (
            f"{reason}{' ' if reason.endswith(('.', '?', '!')) else '. '}The run stopped; nothing is lost: what it "
            "had claimed is taken up by the next run once the claims' lease lapses (CADENCE_LEASE_SECONDS)"
        )
    return report


def bounce_guard(ctx: Context, results: list[tuple[WorkItem, SendResult]], now: datetime, counts: RunReport) -> None:
    """Pause the mailboxes and cadences of this batch whose bounce rate passed the threshold (:mod:`guards`)."""
    mailboxes = {item.mailbox.id for item, _ in results if item.mailbox is not None}
    cadences = {item.cadence_key[0] for item, _ in results if item.cadence_key is not None}
    if not mailboxes and not cadences:
        return
    with ctx.sessions() as session, session.begin():
        for tripped in guards.check(session, ctx.settings, now=now, mailbox_ids=mailboxes, cadences=cadences):
            counts.failures.append({tripped.kind: tripped.name, "paused": tripped.reason})


async def mailbox_config(ctx: Context, mailbox: MailboxRoute) -> SmtpConfig:
    """The SMTP settings of a sending mailbox (its password from its Prefect Secret block, if it names one)."""
    password: str | None = None
    if mailbox.password_block:
        from prefect.blocks.system import Secret

        block: Secret[str] = await Secret.aload(mailbox.password_block)
        password = str(block.get())
    return SmtpConfig(host=mailbox.host, port=mailbox.port, username=mailbox.username or (mailbox.address
                      if password else None), password=password, tls=mailbox.tls, timeout=ctx.settings.smtp_timeout,
                      connections=1)  # fmt: skip


async def dispatch_all(
    ctx: Context, sender: SmtpSender, emails: list[WorkItem], now: datetime, report: RunReport, versions: Versions
) -> list[tuple[WorkItem, SendResult]]:
    """Send ``emails``: those without a mailbox over ``sender`` (the global SMTP server), the others over one
    connection to their mailbox's server, opened for this batch (a paced mailbox sends a few emails a batch)."""

    def read_domains(_counts: RunReport) -> list[tuple[str, str, str | None, str | None]]:
        with ctx.sessions() as session:
            return domain_keys(session)

    signers = await load_signers(await asyncio.to_thread(retrying, ctx, report, read_domains))
    by_mailbox: dict[int | None, list[WorkItem]] = {}
    for item in emails:
        by_mailbox.setdefault(item.mailbox.id if item.mailbox else None, []).append(item)
    results: list[tuple[WorkItem, SendResult]] = []
    for key, group in by_mailbox.items():
        if key is None:
            results += await dispatch(ctx, sender, group, now, report, versions, signers)
            continue
        assert group[0].mailbox is not None  # grouped by mailbox
        try:
            config = await mailbox_config(ctx, group[0].mailbox)
        except Exception as exc:  # the block is missing or unreadable: the emails are held, with the reason
            reason = f"the password of mailbox {group[0].mailbox.address} cannot be read: {exc}"

            def held(counts: RunReport, group: list[WorkItem] = group, reason: str = reason) -> None:
                with ctx.sessions() as session, session.begin():
                    for item in group:
                        intake.hold(session, ctx, item, now, reason, counts)

            await asyncio.to_thread(retrying, ctx, report, held)
            continue
        async with SmtpSender(config) as own:
            results += await dispatch(ctx, own, group, now, report, versions, signers)
    return results


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
