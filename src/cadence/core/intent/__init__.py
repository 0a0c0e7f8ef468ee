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

from cadence.core.intent.classifier import REVIEW_BELOW, read_message, read_text
from cadence.core.intent.kinds import INTENTS, MAX_EVIDENCE, UNSAFE_PAIRS, Intent, Reading, Referral
from cadence.core.intent.referral import find_referral
from cadence.core.intent.text import reply_text
from cadence.core.intent.when import back_date, named_date

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
