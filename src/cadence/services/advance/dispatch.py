"""Dispatching emails: a producer composes and marks them into a bounded queue, one consumer per SMTP connection sends.

The shape of listmonk's ``internal/manager``: the producer (:func:`dispatch`) renders a chunk of
emails (:mod:`~cadence.services.advance.compose`), marks it ``sending`` in one transaction
(:func:`~cadence.services.advance.ledger.mark_sending`) and puts its emails on a queue of
:data:`QUEUE_PER_CONNECTION` per connection; each consumer owns one SMTP connection and one
:class:`~cadence.services.advance.ledger.Ledger` and sends one email at a time, in its own thread:
MAIL, RCPT, DATA and the body, then ``handing`` committed, the final dot, the reply, the outcome
committed. So hand-offs run in parallel across connections and one at a time on each: a crash
leaves at most one email per connection in doubt.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cadence.adapters.db import retry_while_unavailable
from cadence.adapters.mail import DeliveryError, SmtpConnection, SmtpSender, TransientFailure, Unsendable, Withdrawn
from cadence.core.tokens import bounce_token
from cadence.errors import database_problem
from cadence.services.advance import compose, intake
from cadence.services.advance.compose import Versions
from cadence.services.advance.ledger import Ledger, mark_sending
from cadence.services.advance.settle import SendResult
from cadence.services.advance.work import Built, RunReport, WorkItem
from cadence.services.context import Context
from cadence.services.sending_domains import Signers

CHUNK_PER_CONNECTION = 8
"""Emails per SMTP connection marked ``sending`` in one transaction."""
QUEUE_PER_CONNECTION = 2 * CHUNK_PER_CONNECTION
"""Marked emails waiting per SMTP connection: two chunks, so that the producer composes and marks the
next chunk while the connections send the one before it (with one chunk or less, each waited for the other)."""

_T = TypeVar("_T")


def retrying(ctx: Context, report: RunReport, work: Callable[[RunReport], _T]) -> _T:
    """``work(counts)``, one transaction; while PostgreSQL is away, wait for it and run it again
    (up to ``CADENCE_DB_RETRY_SECONDS``, then :class:`DatabaseUnavailable`). ``report`` gets the counts
    of the attempt that committed, not those of the attempts that were rolled back.
    """

    def attempt() -> tuple[_T, RunReport]:
        counts = RunReport()
        return work(counts), counts

    result, counts = retry_while_unavailable(attempt, engine=ctx.engine, seconds=ctx.settings.db_retry_seconds)
    report.add(counts)
    return result


@dataclass
class _Batch:
    """What the consumers of one batch share: set once a hand-off write failed.

    A SQLite locked by another writer makes each write wait the whole busy timeout: one wait per
    batch, not one per message; the rest is retried later.
    """

    problem: str | None = None


class _HandOff:
    """The ledger's writes around one email's final dot (a :class:`cadence.adapters.mail.HandOff`)."""

    def __init__(self, ledger: Ledger, item: WorkItem, batch: _Batch) -> None:
        self._ledger = ledger
        self._item = item
        self._batch = batch
        self.recorded = False

    def before(self) -> bool:
        """Commit ``handing`` if the step is still ours, its lead active and not suppressed; else withdraw."""
        if self._batch.problem is not None:
            raise TransientFailure(
                f"not handed over: the database failed this batch's hand-offs ({self._batch.problem})"
            )
        try:
            return self._ledger.hand(self._item)
        except self._ledger.errors as exc:
            self._batch.problem = database_problem(exc)
            raise TransientFailure(f"not handed over: the database did not answer ({self._batch.problem})") from exc

    def after(self, outcome: str | DeliveryError) -> None:
        """Commit the outcome; if the database fails it, settling writes it (or it stays ``handing``: uncertain).

        Then no email of the batch is handed over any more: the touch left ``handing`` is this
        connection's one email in doubt, and must stay the only one.
        """
        try:
            self._ledger.record(self._item, outcome)
        except self._ledger.errors as exc:
            self._batch.problem = database_problem(exc)


def chunks(items: list[_T], *, first: int, size: int) -> Iterator[list[_T]]:
    """``items`` in chunks of ``size``, the first one of ``first`` only.

    The producer marks its first chunk with one email per connection, so that a batch starts
    sending as soon as that many are composed, not a whole chunk of them.
    """
    start, end = 0, first
    while start < len(items):
        yield items[start:end]
        start, end = end, end + size


def _deliver(
    connection: SmtpConnection, ledger: Ledger, item: WorkItem, built: Built, envelope_from: str, batch: _Batch
) -> SendResult:
    """Send one email over ``connection`` (in its thread): the server's reply, or the error."""
    try:
        return connection.send(built.data, sender=envelope_from, recipient=item.recipient,
                               hand_off=_HandOff(ledger, item, batch))  # fmt: skip
    except DeliveryError as exc:
        return exc


async def dispatch(
    ctx: Context,
    sender: SmtpSender,
    emails: list[WorkItem],
    now: datetime,
    report: RunReport,
    versions: Versions,
    signers: Signers | None = None,
) -> list[tuple[WorkItem, SendResult]]:
    """Send ``emails`` over the sender's connections; what came of each (withdrawn ones included).

    ``signers``: the sending domains' DKIM keys; each email is signed by its From domain's key.

    Emails held by a template that fails to render are held (:func:`~cadence.services.advance.intake.hold`);
    those that cannot be built safely from the lead's data come back as :class:`Unsendable`.
    """
    connections = sender.connections
    queue: asyncio.Queue[tuple[WorkItem, Built] | None] = asyncio.Queue(len(connections) * QUEUE_PER_CONNECTION)
    results: list[tuple[WorkItem, SendResult]] = []
    batch = _Batch()
    envelope = ctx.settings.reply_to or None

    async def produce() -> None:
        try:
            for chunk in chunks(emails, first=len(connections), size=len(connections) * CHUNK_PER_CONNECTION):
                built: list[tuple[WorkItem, Built]] = []
                broken: list[tuple[WorkItem, str]] = []
                for item in chunk:
                    made = compose.build(ctx, item, now=now, signers=signers)
                    if isinstance(made, Unsendable):  # settled as a failed step, never marked nor sent
                        results.append((item, made))
                    elif isinstance(made, str):
                        broken.append((item, made))
                    else:
                        built.append((item, made))
                    await asyncio.sleep(0)  # the consumers' replies are taken in between

                def mark(
                    counts: RunReport,
                    built: list[tuple[WorkItem, Built]] = built,
                    broken: list[tuple[WorkItem, str]] = broken,
                ) -> tuple[list[tuple[WorkItem, Built]], list[WorkItem]]:
                    with ctx.sessions() as session, session.begin():
                        for item, reason in broken:
                            intake.hold(session, ctx, item, now, reason, counts)
                        to_send, withdrawn, superseded = mark_sending(session, built, now, versions)
                    counts.superseded += superseded
                    return to_send, withdrawn

                to_send, withdrawn = await asyncio.to_thread(retrying, ctx, report, mark)
                results.extend((item, Withdrawn("not marked: the lead stopped or was suppressed since the claim"))
                               for item in withdrawn)  # fmt: skip
                for entry in to_send:
                    await queue.put(entry)
        finally:
            for _ in connections:
                await queue.put(None)

    async def consume(connection: SmtpConnection) -> None:
        ledger = Ledger(ctx)
        try:
            while (entry := await queue.get()) is not None:
                item, built = entry
                envelope_from = (
                    item.mailbox.address if item.mailbox else envelope or item.owner_email
                ) or f"sales@{ctx.settings.mail_domain}"
                if ctx.settings.bounce_domain:  # VERP: a bounce names the touch it returns (signed)
                    token = bounce_token(item.claim.touch_id, ctx.settings.secret_key.get_secret_value())
                    envelope_from = f"bounce+{token}@{ctx.settings.bounce_domain}"
                work = functools.partial(_deliver, connection, ledger, item, built, envelope_from, batch)
                try:
                    results.append((item, await sender.call(work)))
                except Exception as exc:  # the connection's thread could not run it: nothing was handed over
                    results.append((item, exc))
        finally:
            await sender.call(ledger.close)

    consumers = [asyncio.ensure_future(consume(connection)) for connection in connections]
    try:
        await produce()
    finally:
        # The consumers finish what was queued (what they cannot record stays as the ledger left it).
        await asyncio.gather(*consumers, return_exceptions=True)
    return results
