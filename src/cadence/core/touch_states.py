"""The states of a touch (one step's execution) and the sets of them that queries select by (pure).

A module of its own so that what only reads touches (``cadence due``'s sending rates) does not import
the events; :mod:`cadence.core.event_data` and :mod:`cadence.core.events` re-export every name here.
"""

from __future__ import annotations

from enum import StrEnum


class TouchState(StrEnum):
    """The states of a touch (one step's execution), as stored."""

    CLAIMED = "claimed"  # taken by a runner, nothing done yet
    SENDING = "sending"  # marked to go out in the current wave; not handed to SMTP yet
    HANDING = "handing"  # the final "." of DATA is being written: from here on a crash leaves the outcome unknown
    SENT = "sent"  # the SMTP server accepted the email
    DONE = "done"  # a task was created for the owner
    RETRY = "retry"  # a transient failure: due again later
    UNCERTAIN = "uncertain"  # possibly sent, not recorded: never re-sent automatically
    BOUNCED = "bounced"  # permanently refused by the recipient's server
    SKIPPED = "skipped"  # not executed (suppressed address, cap, ...)
    HELD = "held"  # waiting for a template fix
    FAILED = "failed"  # never sent: the message could not be built or sent, or every attempt failed


RECLAIMABLE: frozenset[TouchState] = frozenset(
    {TouchState.CLAIMED, TouchState.SENDING, TouchState.RETRY, TouchState.HELD}
)
"""Nothing of these reached an SMTP server: a lapsed claim on one is simply claimed again."""
STEP_DONE: frozenset[TouchState] = frozenset(
    {TouchState.SENT, TouchState.UNCERTAIN, TouchState.DONE, TouchState.SKIPPED, TouchState.FAILED}
)
"""A lapsed claim on one of these had its outcome recorded but the enrollment not moved on."""
MAY_HAVE_GONE_OUT: frozenset[TouchState] = frozenset(
    {TouchState.SENDING, TouchState.HANDING, TouchState.SENT, TouchState.UNCERTAIN}
)
"""The emails that may have reached a server: what counts against a daily email cap."""
