"""The exactly-once writes around an email's final dot.

Exactly one send per step, across crashes, is three writes per email, each checking that the
claim (:mod:`cadence.services.claims`) is still this runner's (its token):

1. :func:`mark_sending`: the email is marked ``sending`` (one transaction for a chunk of emails,
   which also checks under a row lock that each lead is still active and not suppressed);
2. :meth:`Ledger.hand`: right before the final ``.`` of DATA, the touch becomes ``handing``, in a
   transaction of its own that checks all that again: a decision or an unsubscribe committed before
   it stops the send, and the message is withdrawn (the connection is dropped mid-DATA, so the
   server discards it);
3. :meth:`Ledger.record`: right after the server's reply, its outcome (``sent``, ``bounced``,
   ``retry`` or ``uncertain``) is committed, before the next email on the same SMTP connection.

Each SMTP connection has a :class:`Ledger` (a database connection) of its own and hands over one
email at a time, so a runner killed at any moment leaves at most one email per SMTP connection
``handing``: it becomes ``uncertain`` and is never re-sent. An email marked ``sending`` but never
handed over is simply claimed and sent again. What the outcomes mean for the enrollments is applied
afterwards by :mod:`cadence.services.advance.settle`.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cadence.adapters.db import is_postgresql
from cadence.adapters.mail import DeliveryError, PermanentFailure, UnknownOutcome
from cadence.adapters.models import Enrollment, Suppression, Touch
from cadence.core.events import TouchState
from cadence.services.advance.compose import Versions
from cadence.services.advance.work import Built, WorkItem
from cadence.services.context import Context

_TOUCHES = cast(Table, Touch.__table__)
_MARK_SENDING = (
    update(_TOUCHES)
    .where(_TOUCHES.c.id == bindparam("touch_id"), _TOUCHES.c.claim_token == bindparam("token"))
    .values(
        state=TouchState.SENDING,
        message_id=bindparam("message_id"),
        subject=bindparam("subject"),
        template=bindparam("template"),
        template_version=bindparam("template_version"),
        executed_at=bindparam("executed_at", type_=_TOUCHES.c.executed_at.type),
        attempts=_TOUCHES.c.attempts + 1,
    )
)
_HANDING_SQL = (
    "UPDATE touches SET state = 'handing'"
    " WHERE id = :touch_id AND state = 'sending' AND claim_token = :token"
    " AND EXISTS (SELECT 1 FROM enrollments WHERE id = :enrollment_id AND state = 'active'{lock})"
    " AND NOT EXISTS (SELECT 1 FROM suppressions WHERE value IN (:address, :domain))"
)
"""Right before the final dot: the touch is still ours and `sending`, its lead active and not suppressed.

On PostgreSQL the enrollment is read ``FOR SHARE``: a decision being written on the lead is waited
for, then seen (READ COMMITTED re-reads the row), so a stop committed before this statement wins.
"""
_HANDED_SQL = (
    "UPDATE touches SET state = :new_state, outcome = :outcome, error = :error, lease_until = NULL"
    " WHERE id = :touch_id AND state = 'handing' AND claim_token = :token"
)
"""Right after the reply: the outcome, while the touch is still ours."""


def suppression_keys(email: str) -> tuple[str, str]:
    """The address and the ``@domain`` under which ``email`` may be suppressed."""
    address = email.lower()
    return address, "@" + address.rsplit("@", 1)[-1]


def claim_tokens(session: Session, touch_ids: list[int]) -> dict[int, str | None]:
    """The claim token each touch carries now (one query)."""
    if not touch_ids:
        return {}
    return dict(session.execute(select(Touch.id, Touch.claim_token).where(Touch.id.in_(touch_ids))).tuples().all())


def mark_sending(
    session: Session, emails: list[tuple[WorkItem, Built]], now: datetime, versions: Versions
) -> tuple[list[tuple[WorkItem, Built]], list[WorkItem], int]:
    """Mark the emails ``sending`` if they may go out now: (to send, withdrawn, superseded).

    Withdrawn: the lead is no longer active, or its address or domain is suppressed (what that means
    is :mod:`~cadence.services.advance.settle`'s). A step whose claim is no longer this runner's (its
    lease lapsed and another runner claimed it) is left alone: the other runner sends it.
    """
    if not emails:
        return [], [], 0
    enrollment_ids = [item.claim.enrollment_id for item, _ in emails]
    active = set(
        session.scalars(
            select(Enrollment.id)
            .where(Enrollment.id.in_(enrollment_ids), Enrollment.state == "active")
            .with_for_update(of=Enrollment)
        )
    )
    tokens = claim_tokens(session, [item.claim.touch_id for item, _ in emails])
    keys = sorted({key for item, _ in emails for key in suppression_keys(item.recipient)})
    suppressed = set(session.scalars(select(Suppression.value).where(Suppression.value.in_(keys))))
    to_send: list[tuple[WorkItem, Built]] = []
    withdrawn: list[WorkItem] = []
    superseded = 0
    for item, built in emails:
        if tokens.get(item.claim.touch_id) != item.claim.token:
            superseded += 1
        elif item.claim.enrollment_id not in active or suppressed.intersection(suppression_keys(item.recipient)):
            withdrawn.append(item)
        else:
            to_send.append((item, built))
    if to_send:
        rows = [
            {
                "touch_id": item.claim.touch_id,
                "token": item.claim.token,
                "message_id": item.message_id,
                "subject": built.subject,
                "template": item.template,
                "template_version": versions.get(item.template),
                "executed_at": now,
            }
            for item, built in to_send
        ]
        session.connection().execute(_MARK_SENDING, rows)
    return to_send, withdrawn, superseded


def outcome_state(outcome: str | BaseException) -> str:
    """The touch state an SMTP outcome leads to (``sent``, ``bounced``, ``uncertain`` or ``retry``)."""
    if isinstance(outcome, str):
        return TouchState.SENT
    if isinstance(outcome, PermanentFailure):
        return TouchState.BOUNCED
    if isinstance(outcome, UnknownOutcome):
        return TouchState.UNCERTAIN
    return TouchState.RETRY


class Ledger:
    """The hand-off writes of one SMTP connection, on a database connection of its own.

    Plain SQL statements on a SQLAlchemy connection of the engine, run in the SMTP connection's
    thread. Each write is one statement, so the connection is in autocommit: the statement is its
    own transaction, committed when it returns, with the same locks and checks as in an explicit
    one, and no ``BEGIN`` and ``COMMIT`` of its own. On PostgreSQL that is one round trip a write
    instead of three, on the chain each email waits on before its final dot. After a database error
    the connection is dropped and a new one is opened for the next write.
    """

    def __init__(self, ctx: Context) -> None:
        self._engine = ctx.engine
        self._hand = text(_HANDING_SQL.format(lock=" FOR SHARE" if is_postgresql(ctx.engine) else ""))
        self._outcome = text(_HANDED_SQL)
        self.errors: tuple[type[BaseException], ...] = (SQLAlchemyError, ctx.engine.dialect.loaded_dbapi.Error)
        """What a failed write raises: SQLAlchemy's errors (connecting) and the driver's (executing)."""
        self._connection: Connection | None = None

    def hand(self, item: WorkItem) -> bool:
        """Commit ``handing`` for ``item`` if it is still ours, its lead active and not suppressed; False: withdraw."""
        claim = item.claim
        address, domain = suppression_keys(item.recipient)
        return self._write(self._hand, {"touch_id": claim.touch_id, "token": claim.token,
                                        "enrollment_id": claim.enrollment_id, "address": address,
                                        "domain": domain}) == 1  # fmt: skip

    def record(self, item: WorkItem, outcome: str | DeliveryError) -> None:
        """Commit ``item``'s outcome (the server's reply, or the error)."""
        self._write(self._outcome, {
            "touch_id": item.claim.touch_id,
            "token": item.claim.token,
            "new_state": outcome_state(outcome),
            "outcome": (outcome if isinstance(outcome, str) else str(outcome.code or ""))[:50] or None,
            "error": None if isinstance(outcome, str) else str(outcome)[:2000],
        })  # fmt: skip

    def close(self) -> None:
        """Let the database connection go."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _write(self, statement: Any, values: dict[str, Any]) -> int:
        """One statement, committed when it returns; the rows it changed."""
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        connection = self._connection
        try:
            with connection.begin():  # no BEGIN nor COMMIT is sent in autocommit: the statement commits itself
                return int(connection.execute(statement, values).rowcount)
        except BaseException:  # an error, or an interruption mid-statement: the connection's state is unknown
            self._connection = None
            with contextlib.suppress(Exception):
                connection.invalidate()
            raise
