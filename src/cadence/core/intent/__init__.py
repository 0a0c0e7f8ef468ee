"""What a reply says: its intent, how sure, the date or the person it names, and the words that decided (pure).

:func:`read_message` reads one parsed message, without I/O and without a clock: dates are resolved
against the message's own ``Date`` (or the time given). Headers decide first, through
:mod:`cadence.core.inbound`: a delivery status notification is a ``bounce``, an automatic reply is
``out_of_office`` (with the return date it names; "I have left the company, please contact ..." is a
``referral`` or ``wrong_person`` even when automatic), a message with the subject "unsubscribe" an
``unsubscribe_request``. Otherwise the sender's own words decide (:func:`reply_text`: quotes,
forwarded messages and the signature never count), by the word lists of :mod:`.words` in English,
German, French and Spanish and the rules of :func:`read_text`.

The intents: ``interested``, ``not_now`` (with the date it names, when it names one), ``referral``
(another person named, by name, email or phone), ``wrong_person``, ``not_interested``,
``unsubscribe_request``, ``out_of_office``, ``bounce`` and ``unclear``. The safety rule: words of
interest or a referral are never read as ``not_interested`` or ``unsubscribe_request``; in doubt
the reading is ``unclear``, for a person to review (so is any reading below :data:`REVIEW_BELOW`).

One job a module: :mod:`.kinds` (:class:`Reading`, :class:`Referral`), :mod:`.text` (the sender's own
words), :mod:`.words` (the rules), :mod:`.when` (the dates named), :mod:`.referral` (the person
named), :mod:`.classifier` (the decision). Every input is hostile: the text read is bounded and the
patterns are linear.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from cadence.core.intent.kinds import INTENTS, MAX_EVIDENCE, REVIEW_BELOW, UNSAFE_PAIRS, Intent, Reading, Referral

if TYPE_CHECKING:
    from cadence.core.intent.classifier import read_message, read_text
    from cadence.core.intent.referral import find_referral
    from cadence.core.intent.text import reply_text
    from cadence.core.intent.when import back_date, named_date

# The reader (its word lists and patterns) is imported when first used, not by every module that
# only names a Reading: a command that never reads a reply does not pay for compiling it.
_LAZY = {
    "read_message": "classifier",
    "read_text": "classifier",
    "find_referral": "referral",
    "reply_text": "text",
    "back_date": "when",
    "named_date": "when",
}


def __getattr__(name: str) -> Any:
    """The reader's functions, imported from their module on first use."""
    if name in _LAZY:
        return getattr(import_module(f"cadence.core.intent.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "INTENTS",
    "MAX_EVIDENCE",
    "REVIEW_BELOW",
    "UNSAFE_PAIRS",
    "Intent",
    "Reading",
    "Referral",
    "back_date",
    "find_referral",
    "named_date",
    "read_message",
    "read_text",
    "reply_text",
]
