"""How far sync-replies has read each folder of each inbox: its UIDVALIDITY and the last UID read.

One :class:`~cadence.adapters.models.MailboxState` row per (account, folder): ``account`` is ``''``
for the shared replies mailbox, else the sending mailbox's address, so two inboxes that both have an
``INBOX`` never share a watermark. The processed messages (``inbound_messages``) carry the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cadence.adapters.models import InboundMessage, MailboxState
from cadence.services.context import Context

_IN_CHUNK = 500


def start(ctx: Context, account: str, folder: str, uidvalidity: int, now: datetime) -> tuple[int, bool]:
    """(The last UID read in ``folder`` of ``account``; True when its UIDVALIDITY changed: read again from 1)."""
    where = (MailboxState.account == account, MailboxState.folder == folder)
    with ctx.sessions() as session, session.begin():
        state = session.scalar(select(MailboxState).where(*where).with_for_update())
        if state is None:
            try:
                with session.begin_nested():
                    session.add(MailboxState(account=account, folder=folder, uidvalidity=uidvalidity, last_uid=0,
                                             updated_at=now))  # fmt: skip
            except IntegrityError:  # another run created it at the same moment
                pass
            return 0, False
        if state.uidvalidity != uidvalidity:
            state.uidvalidity = uidvalidity
            state.last_uid = 0
            state.updated_at = now
            return 0, True
        return state.last_uid, False


def finish(ctx: Context, account: str, folder: str, uidvalidity: int, last_uid: int, now: datetime) -> int:
    """Record that ``folder`` of ``account`` was read up to ``last_uid``; the last UID read, as stored."""
    where = (MailboxState.account == account, MailboxState.folder == folder)
    with ctx.sessions() as session, session.begin():
        state = session.scalar(select(MailboxState).where(*where).with_for_update())
        if state is None or state.uidvalidity != uidvalidity:
            return last_uid  # the folder was reset meanwhile: its new state is the other run's
        state.last_uid = max(state.last_uid, last_uid)
        state.updated_at = now
        return state.last_uid


def unprocessed(ctx: Context, account: str, folder: str, uidvalidity: int, uids: Sequence[int]) -> list[int]:
    """``uids`` less those processed already (a run that failed part-way, or one running alongside)."""
    done: set[int] = set()
    with ctx.sessions() as session:
        for index in range(0, len(uids), _IN_CHUNK):
            chunk = list(uids[index : index + _IN_CHUNK])
            done.update(
                session.scalars(
                    select(InboundMessage.uid).where(
                        InboundMessage.account == account,
                        InboundMessage.folder == folder,
                        InboundMessage.uidvalidity == uidvalidity,
                        InboundMessage.uid.in_(chunk),
                    )
                )
            )
    return [uid for uid in uids if uid not in done]
