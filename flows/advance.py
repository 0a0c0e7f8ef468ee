"""The advance flow: every due step becomes an email or a rep task, exactly once.

Thin on purpose: the flow runs the engine's loop (:func:`cadence.services.advance.run_until_idle`,
the one the tests exercise) with each batch as a Prefect task run (one per batch of leads, not
per email), and publishes what it did as a table artifact.

A run the database stopped (PostgreSQL away for longer than ``CADENCE_DB_RETRY_SECONDS``, SQLite
locked past its busy timeout), or any other error of cadence's own (:class:`CadenceError`), ends
the flow run ``Failed`` with that error's one-line message, and no traceback: it is the operator's
to act on, not a bug. The caller of the flow gets the error raised.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NONE
from prefect.states import Failed
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError

from cadence.adapters.db import DatabaseUnavailable
from cadence.adapters.mail import SmtpSender
from cadence.errors import CadenceError, database_problem
from cadence.services.advance import RunReport, next_due, run_batch, run_until_idle, smtp_config
from cadence.services.context import Context
from cadence.services.snoozes import WakeReport, wake_snoozed
from cadence.settings import Settings

_CURRENT: list[tuple[str, Context]] = []


def flow_context() -> Context:
    """The context for the current settings; reused while they stay the same (engines pool connections)."""
    settings = Settings()
    # The secrets too: the JSON shows them masked, and a changed key must not reuse the old context.
    secrets = [value.get_secret_value() for value in dict(settings).values() if isinstance(value, SecretStr)]
    key = json.dumps([settings.model_dump_json(), secrets])
    if _CURRENT and _CURRENT[0][0] == key:
        return _CURRENT[0][1]
    if _CURRENT:
        _CURRENT.pop()[1].close()
    ctx = Context(settings)
    _CURRENT.append((key, ctx))
    return ctx


async def smtp_password(ctx: Context) -> str | None:
    """The SMTP password: from the Prefect Secret block named in the settings, if any."""
    name = ctx.settings.smtp_password_block
    if not name:
        return None
    from prefect.blocks.system import Secret

    block: Secret[str] = await Secret.aload(name)
    return str(block.get())


@task(name="advance-batch", cache_policy=NONE, retries=0)
async def advance_batch(
    *, now: datetime, batch_size: int, sender: SmtpSender, only_enrollment: int | None
) -> RunReport:
    """Claim and execute one batch of due steps (a task run per batch, never per email)."""
    return await run_batch(
        flow_context(), now=now, batch_size=batch_size, sender=sender, only_enrollment=only_enrollment
    )


async def advance_all(now: datetime, batch_size: int, only_enrollment: int | None = None) -> RunReport:
    """Run batches until nothing more is due at ``now``, or the database stopped one (``stopped`` says why).

    The loop the tests exercise (:func:`cadence.services.advance.run_until_idle`), each batch a task run.
    """
    ctx = flow_context()
    config = smtp_config(ctx, await smtp_password(ctx))
    return await run_until_idle(
        ctx, now=now, batch_size=batch_size, config=config, only_enrollment=only_enrollment, batch=advance_batch
    )


DEMO_KEY_WARNING = (
    "CADENCE_SECRET_KEY is not set, and CADENCE_BASE_URL (%s) is not this machine: the unsubscribe links of "
    "these emails are signed with the public demo key, so anyone could forge one for any lead. Set "
    "CADENCE_SECRET_KEY to a long random value (the same for the runs and for `cadence web`)."
)


def warn_of_demo_key(ctx: Context) -> None:
    """Warn in the flow run's log if the emails' unsubscribe links are signed with the public demo key."""
    if ctx.settings.demo_key_exposed():
        get_run_logger().warning(DEMO_KEY_WARNING, ctx.settings.base_url)


def failed(error: CadenceError) -> dict[str, object]:
    """What a flow returns when ``error`` stopped it: a Failed state with the error's message, and no traceback.

    Prefect makes a state a flow returns the run's final state, and raises the exception it holds
    to the flow's caller, who never gets this value: hence its type, that of the flows' results.
    """
    return cast("dict[str, object]", Failed(message=str(error), data=error))


def schema_missing(ctx: Context) -> dict[str, object] | None:
    """The Failed state of a run on a database without cadence's tables (or too old), or None when they are there."""
    try:
        ctx.require_schema()
    except CadenceError as exc:
        return failed(exc)
    return None


def stopped(report: RunReport) -> dict[str, object] | None:
    """The Failed state of a run the database stopped, or None when it ran to the end."""
    return failed(DatabaseUnavailable(report.stopped)) if report.stopped else None


async def publish(report: RunReport, now: datetime, key: str = "advance-report") -> None:
    """Publish a run's report as a Prefect table artifact."""
    rows: list[dict[str, object]] = [
        {"what": "claimed", "count": report.claimed, "detail": ""},
        {"what": "emails sent", "count": report.emails_sent, "detail": ""},
    ]
    rows += [{"what": f"tasks: {channel}", "count": n, "detail": ""} for channel, n in sorted(report.tasks.items())]
    rows += [
        {"what": "retried later (transient SMTP failure)", "count": report.retried, "detail": ""},
        {"what": "bounced (permanent SMTP failure)", "count": report.bounced, "detail": ""},
        {"what": "uncertain (possibly sent, never re-sent)", "count": report.uncertain,
         "detail": ", ".join(map(str, report.uncertain_touches[:50]))},
        {"what": "held (template errors)", "count": report.held, "detail": ""},
        {"what": "moved to the lead's next slot (outside its send window)", "count": report.deferred, "detail": ""},
        {"what": "moved by daily caps", "count": report.capped, "detail": ""},
        {"what": "waiting for their sending mailbox (pacing, cap, ramp-up, pause)", "count": report.paced,
         "detail": ""},
        {"what": "skipped (stopped or suppressed)", "count": report.skipped, "detail": ""},
        {"what": "closed with no_response", "count": report.completed, "detail": ""},
    ]  # fmt: skip
    rows += [{"what": "failure", "count": 1, "detail": str(f)} for f in report.failures[:50]]
    if report.stopped:
        rows.append({"what": "stopped before the end", "count": 1, "detail": report.stopped})
    await acreate_table_artifact(table=rows, key=key, description=f"cadence advance run as of {now.isoformat()}")


@flow(name="advance-cadences")
async def advance_cadences(now: datetime | None = None, batch_size: int | None = None) -> dict[str, object]:
    """Claim every due step and execute it: emails over SMTP, tasks for the owners."""
    ctx = flow_context()
    if (no_schema := schema_missing(ctx)) is not None:
        return no_schema
    warn_of_demo_key(ctx)
    at = now or datetime.now(UTC)
    # Leads whose snooze is over are enrolled again first, so that their first step runs in this run.
    try:
        woken = await asyncio.to_thread(wake_snoozed, ctx, now=at)
    except (DatabaseUnavailable, SQLAlchemyError) as exc:  # the advance below meets the same and says so
        get_run_logger().warning("snoozed leads not woken: %s", database_problem(exc))
        woken = WakeReport(errors=[f"not woken: {database_problem(exc)}"])
    report = await advance_all(at, batch_size or ctx.settings.batch_size)
    await publish(report, at)
    get_run_logger().info("advance as of %s: %s; snoozes: %s", at.isoformat(), report.as_dict(), woken.as_dict())
    return stopped(report) or {**report.as_dict(), "snoozes": woken.as_dict()}


@flow(name="follow-up-lead")
async def follow_up_lead(email: str, now: datetime | None = None) -> dict[str, object]:
    """Run one lead's due steps now (for hot inbound leads)."""
    from cadence.services.enrollments import get_lead, open_enrollment

    ctx = flow_context()
    if (no_schema := schema_missing(ctx)) is not None:
        return no_schema
    warn_of_demo_key(ctx)
    at = now or datetime.now(UTC)
    with ctx.sessions() as session:
        enrollment = open_enrollment(session, get_lead(session, email))
        enrollment_id = enrollment.id if enrollment is not None else None
    if enrollment_id is None:
        return RunReport().as_dict()
    report = await advance_all(at, ctx.settings.batch_size, enrollment_id)
    await publish(report, at, key="follow-up-report")
    return stopped(report) or report.as_dict()


@flow(name="simulate-cadences")
async def simulate_cadences(
    start: datetime, end: datetime, every_seconds: int = 3600, scenario: str | None = None
) -> dict[str, object]:
    """Run the advance code path on a simulated clock from ``start`` to ``end``, in one flow run.

    The clock ticks at least every ``every_seconds`` and at each due time in between.
    ``scenario`` names scripted events (replies, call outcomes) to play at their times.
    """
    from cadence.services.simulation import SCENARIOS

    ctx = flow_context()
    if (no_schema := schema_missing(ctx)) is not None:
        return no_schema
    events = SCENARIOS[scenario](ctx, start) if scenario else None
    every = timedelta(seconds=every_seconds)
    total = RunReport()
    clock = start
    ticks = 0
    while clock <= end:
        if events is not None:
            events.play_until(clock)
        total.add(await advance_all(clock, ctx.settings.batch_size))
        if total.stopped:
            break
        ticks += 1
        upcoming = next_due(ctx)
        following = clock + every
        if upcoming is not None and clock < upcoming < following:
            following = upcoming
        if events is not None:
            following = events.next_before(following, after=clock)
        clock = following
    await publish(total, end, key="simulation-report")
    result = total.as_dict()
    result["ticks"] = ticks
    return stopped(total) or result


@flow(name="rep-digest")
async def rep_digest(now: datetime | None = None) -> dict[str, int]:
    """Email each rep whose morning it is their tasks for the day, overdue first (run it hourly)."""
    from cadence.services.digest import send_digests

    ctx = flow_context()
    ctx.require_schema()
    at = now or datetime.now(UTC)
    async with SmtpSender(smtp_config(ctx, await smtp_password(ctx))) as sender:
        return await send_digests(ctx, sender, now=at)
