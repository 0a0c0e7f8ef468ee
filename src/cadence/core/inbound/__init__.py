"""What a message in the replies mailbox is: a reply, an automatic reply, a bounce, an unsubscribe (pure).

:func:`classify` reads one parsed message and says what it is, without I/O and without a clock
(``now`` is given). Every input is hostile: headers are read raw and decoded defensively, so that
any bytes classify (at worst as ``ignored``) instead of raising.

* A **bounce** is a delivery status notification (RFC 3464 ``multipart/report;
  report-type=delivery-status``) with a failed recipient, or a common non-standard one from a mail
  system (MAILER-DAEMON or postmaster, or the null return path ``<>``) with a bounce subject or the
  returned message attached. A delayed-delivery notice is ``ignored``; a person's message titled
  "Delivery notification" is not a bounce.
* An **automatic reply** carries RFC 3834 ``Auto-Submitted`` (other than ``no``), ``X-Autoreply``,
  ``X-Autorespond``, ``Precedence: auto_reply`` (or ``bulk``/``junk`` with out-of-office wording),
  or an out-of-office label as its subject (``Automatic reply: ...``, ``[Out of Office]``, ``Absence``
  alone: not a sentence such as "Absence of a budget..."). Its return date is read from the wording
  when it names one.
* An **unsubscribe** is sent to one of the unsubscribe addresses, or has the subject ``unsubscribe``.
* Anything else from a person is a **reply**; mailing-list and bulk mail (``List-Id``,
  ``Precedence: bulk``) is ``ignored`` unless it answers a message (``In-Reply-To`` or
  ``References``): those headers are added to replies too, by the sender's list server or gateway.

The package, one job a module: :mod:`.classifier` (:func:`classify`), :mod:`.kinds` (:class:`Inbound`),
:mod:`.message` (headers, addresses and body text read defensively), :mod:`.note` (the message's own
words), :mod:`.bounces`, :mod:`.auto_replies` and :mod:`.dates` (the ``Date`` header, return dates).
"""

from cadence.core.inbound.bounces import MAX_BOUNCED
from cadence.core.inbound.classifier import classify
from cadence.core.inbound.dates import return_date, sent_at
from cadence.core.inbound.kinds import KINDS, NOTE_LIMIT, Inbound, Kind
from cadence.core.inbound.message import (
    MAX_ADDRESS_LENGTH,
    MAX_ID_LENGTH,
    MAX_REFERENCES,
    addresses,
    body_text,
    header,
    headers,
    html_to_text,
    message_ids,
    normalize_address,
)
from cadence.core.inbound.note import make_note, own_text

__all__ = [
    "KINDS",
    "MAX_ADDRESS_LENGTH",
    "MAX_BOUNCED",
    "MAX_ID_LENGTH",
    "MAX_REFERENCES",
    "NOTE_LIMIT",
    "Inbound",
    "Kind",
    "addresses",
    "body_text",
    "classify",
    "header",
    "headers",
    "html_to_text",
    "make_note",
    "message_ids",
    "normalize_address",
    "own_text",
    "return_date",
    "sent_at",
]
