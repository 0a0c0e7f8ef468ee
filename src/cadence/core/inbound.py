"""What a message in the replies mailbox is: a reply, an automatic reply, a bounce, an unsubscribe (pure).

:func:`classify` reads one parsed message and says what it is, without I/O and without a clock
(``now`` is given). Every input is hostile: headers are read raw and decoded defensively, so that
any bytes classify (at worst as ``ignored``) instead of raising.

* A **bounce** is a delivery status notification (RFC 3464 ``multipart/report;
  report-type=delivery-status``) with a failed recipient, or a common non-standard one (from
  MAILER-DAEMON with the returned message attached). A delayed-delivery notice is ``ignored``.
* An **automatic reply** carries RFC 3834 ``Auto-Submitted`` (other than ``no``), ``X-Autoreply``,
  ``X-Autorespond``, ``Precedence: auto_reply`` (or ``bulk``/``junk`` with out-of-office wording),
  or an out-of-office subject. Its return date is read from the wording when it names one.
* An **unsubscribe** is sent to one of the unsubscribe addresses, or has the subject ``unsubscribe``.
* Anything else from a person is a **reply**; mailing-list and bulk mail is ``ignored``.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Literal

Kind = Literal["reply", "auto_reply", "bounce", "unsubscribe", "ignored"]
KINDS: tuple[Kind, ...] = ("reply", "auto_reply", "bounce", "unsubscribe", "ignored")

NOTE_LIMIT = 500
"""The longest note kept from a message's body (characters)."""
MAX_REFERENCES = 50
MAX_ID_LENGTH = 250
MAX_ADDRESS_LENGTH = 320
_MAX_PARTS = 200
_MAX_HEADER = 8_000
_MAX_HTML = 200_000
MAX_BOUNCED = 10
_MAX_TEXT = 100_000


@dataclass(frozen=True)
class Inbound:
    """What one inbound message is, and what was read from it."""

    kind: Kind
    sender: str | None = None
    """The sender's address, lower-cased (``From``, else ``Reply-To``); None when there is none."""
    references: tuple[str, ...] = ()
    """Message-IDs this message answers (In-Reply-To, then References newest first); for a bounce, the returned
    message's own Message-ID first."""
    bounced_recipients: tuple[str, ...] = ()
    bounce_permanent: bool = False
    bounce_status: str | None = None
    """For a bounce: the status and diagnostic of the failed recipients, on one line."""
    return_date: date | None = None
    """For an automatic reply: when the sender is back, if the message says."""
    note: str | None = None
    """The first lines of the body (quoted text and signature removed), at most :data:`NOTE_LIMIT` characters."""
    message_id: str | None = None
    subject: str | None = None
    sent_at: datetime | None = None
    """The message's ``Date``, when it has a readable one (aware; UTC when it names no zone)."""
    reason: str = ""
    """Why the message got its kind, for people reading the records."""


# -- reading headers defensively -----------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOLD = re.compile(r"\r?\n[ \t]*")
_MESSAGE_ID = re.compile(r"<([^<>\s@]{1,200}@[^<>\s@]{1,200})>")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250})\.[A-Za-z0-9-]{1,63}$")


def _clean(value: str) -> str:
    """``value`` with lone surrogates (undecodable bytes) replaced and control characters removed."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub("", text)


def _raw_items(message: Message) -> list[tuple[str, str]]:
    try:
        return [(str(name), str(value)) for name, value in message.raw_items()]
    except Exception:  # a header the parser kept in a form we cannot turn into text
        return []


def _decode(raw: str) -> str:
    """A raw header value unfolded and RFC 2047-decoded (left as it is when it does not decode).

    Only the first and last few thousand characters of an overlong value are kept (References grow at the end).
    """
    if len(raw) > _MAX_HEADER:
        raw = raw[: _MAX_HEADER // 2] + " " + raw[-_MAX_HEADER // 2 :]
    value = _FOLD.sub(" ", raw).strip()
    if "=?" in value:
        with contextlib.suppress(Exception):  # malformed encoded words: keep the raw text
            value = str(make_header(decode_header(value)))
    return _clean(value).strip()


def headers(message: Message, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), decoded; never raises."""
    wanted = name.lower()
    return [_decode(value) for key, value in _raw_items(message) if key.lower() == wanted]


def header(message: Message, name: str) -> str | None:
    """The first value of header ``name``, decoded, or None."""
    values = headers(message, name)
    return values[0] if values else None


def normalize_address(value: str | None) -> str | None:
    """``Bob@X.example`` as ``bob@x.example``; None unless it looks like an email address."""
    if not value:
        return None
    address = _clean(value).strip().strip("<>").strip().lower()
    if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.match(address):
        return None
    return address


def addresses(values: Iterable[str]) -> list[str]:
    """The email addresses in address headers such as ``"Bob" <bob@x.example>, carol@y.example``."""
    found: list[str] = []
    for value in values:
        try:
            pairs = getaddresses([value])
        except Exception:  # the address parser gave up on hostile input
            pairs = []
        for _name, address in pairs:
            normalized = normalize_address(address)
            if normalized is not None and normalized not in found:
                found.append(normalized)
    return found


def message_ids(value: str | None) -> list[str]:
    """The ``<id@host>`` Message-IDs in a header value, in order."""
    if not value:
        return []
    return [f"<{m}>" for m in _MESSAGE_ID.findall(value) if len(m) + 2 <= MAX_ID_LENGTH]


def _first_id(message: Message) -> str | None:
    ids = message_ids(header(message, "Message-ID"))
    return ids[0] if ids else None


def _references(message: Message) -> list[str]:
    chained = message_ids(header(message, "In-Reply-To")) + list(reversed(message_ids(header(message, "References"))))
    return list(dict.fromkeys(chained))[:MAX_REFERENCES]


# -- reading bodies defensively -------------------------------------------------------------------


def _walk(message: Message) -> Iterator[Message]:
    """The message's parts, depth first, at most :data:`_MAX_PARTS` of them, never raising."""
    stack: list[Message] = [message]
    seen = 0
    while stack and seen < _MAX_PARTS:
        part = stack.pop(0)
        seen += 1
        yield part
        try:
            payload = part.get_payload() if part.is_multipart() else None
        except Exception:
            payload = None
        if isinstance(payload, list):
            stack[0:0] = [p for p in payload if isinstance(p, Message)]


def _content_type(part: Message) -> str:
    try:
        return str(part.get_content_type()).lower()
    except Exception:
        return "text/plain"


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name, header="content-type")
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return _clean(str(value)).lower() if value else ""


def _part_text(part: Message) -> str:
    """A non-multipart part's text, whatever its transfer encoding and charset claim."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        try:
            raw = part.get_payload()
        except Exception:
            return ""
        return _clean(raw)[:_MAX_TEXT] if isinstance(raw, str) else ""
    if not isinstance(payload, bytes):
        return ""
    charset = _param(part, "charset") or "utf-8"
    try:
        text = payload[: _MAX_TEXT * 4].decode(charset, "replace")
    except (LookupError, ValueError, TypeError):
        text = payload[: _MAX_TEXT * 4].decode("utf-8", "replace")
    return _clean(text)[:_MAX_TEXT]


_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "blockquote"})
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr"})


_TAG_NAME = re.compile(r"\s*(/?)\s*([a-zA-Z][a-zA-Z0-9]{0,20})")


def html_to_text(markup: str) -> str:
    """Readable text from HTML: scripts, styles and quoted blocks dropped, tags removed, entities decoded.

    A plain scan (html.parser is quadratic on unclosed tags, which hostile mail is full of); an
    unclosed tag ends the text.
    """
    head_end = markup.lower().find("</head>")
    if head_end >= 0:  # Outlook's styles alone can be tens of kilobytes
        markup = markup[head_end + len("</head>") :]
    markup = markup[:_MAX_HTML]
    parts: list[str] = []
    skipping = 0
    index, length = 0, len(markup)
    while index < length:
        opening = markup.find("<", index)
        if opening < 0:
            if not skipping:
                parts.append(markup[index:])
            break
        if not skipping:
            parts.append(markup[index:opening])
        if markup.startswith("<!--", opening):
            closing = markup.find("-->", opening + 4)
            index = length if closing < 0 else closing + 3
            continue
        closing = markup.find(">", opening + 1)
        if closing < 0:
            break
        tag = _TAG_NAME.match(markup, opening + 1, min(closing, opening + 64))
        if tag is not None:
            name, is_end = tag.group(2).lower(), bool(tag.group(1))
            if name in _SKIPPED_TAGS:
                if is_end:
                    skipping = max(0, skipping - 1)
                elif markup[closing - 1] != "/":
                    skipping += 1
            elif name in _BLOCK_TAGS and not skipping:
                parts.append("\n")
        index = closing + 1
    text = html.unescape("".join(parts))
    return _clean(re.sub(r"[ \t\r\f\v]*\n[ \t\r\f\v]*", "\n", text))


def body_text(message: Message) -> str:
    """The message's own text: its first ``text/plain`` part, else its first ``text/html`` part as text.

    Attachments and attached messages (a bounce's returned message) are not read.
    """
    plain: str | None = None
    markup: str | None = None
    for part in _walk(message):
        kind = _content_type(part)
        if kind.startswith("multipart/"):
            continue
        if kind in ("message/rfc822", "text/rfc822-headers", "message/delivery-status"):
            continue
        try:
            disposition = (part.get_content_disposition() or "").lower()
        except Exception:
            disposition = ""
        if disposition == "attachment":
            continue
        if kind == "text/plain" and plain is None:
            plain = _part_text(part)
        elif kind == "text/html" and markup is None:
            markup = _part_text(part)
        if plain is not None:
            break
    if plain is not None and plain.strip():
        return plain.replace("\r\n", "\n").replace("\r", "\n")
    if markup:
        return html_to_text(markup).replace("\r\n", "\n").replace("\r", "\n")
    return plain or ""


# Where the message's own words end: the quoted message, a forwarded block, the signature.
_QUOTE_STARTS = [
    re.compile(p, re.I)
    for p in (
        r"^\s*>",
        r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|forwarded message)",
        r"^\s*_{8,}\s*$",
        r"^\s*(from|von|de|sent|gesendet|envoyé)\s*:\s*\S",
        r"^\s*on\b.{0,300}\bwrote\s*:\s*$",
        r"^\s*le\b.{0,300}\ba écrit\s*:\s*$",
        r"^\s*am\b.{0,300}\bschrieb\b.{0,200}:\s*$",
        r"^\s*-- ?$",
        r"^\s*sent from my \w+",
        r"^\s*get outlook for \w+",
    )
]
_WROTE_END = re.compile(r"\b(wrote|a écrit|schrieb)\b[^:\n]{0,200}:\s*$", re.I)
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")


def own_text(text: str) -> str:
    """``text`` up to where quoted text, a forwarded message or the signature starts."""
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines[:2000]):
        if any(p.search(line) for p in _QUOTE_STARTS):
            break
        # "On Mon, Dec 7, 2026 at 9:00 AM Rita Alvarez <rita@cadence.example>" + "wrote:" on the next line
        if re.match(r"^\s*(on|le|am)\b", line, re.I) and any(
            _WROTE_END.search(following) for following in lines[index + 1 : index + 3]
        ):
            break
        kept.append(_SPACES.sub(" ", line).strip())
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()


def make_note(text: str, limit: int = NOTE_LIMIT) -> str | None:
    """At most ``limit`` characters of ``text``, cut at a word, with an ellipsis when cut."""
    text = text.strip()
    if not text:
        return None
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


# -- bounces --------------------------------------------------------------------------------------

_DAEMONS = {"mailer-daemon", "postmaster", "mail-delivery-subsystem", "mail-delivery-system", "mailerdaemon"}
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(undeliver(ed|able)|returned mail|delivery (status notification|has failed|failure|failed)|"
    r"failure notice|mail delivery (failed|failure|subsystem)|non[- ]?delivery|unzustellbar|nicht zustellbar|"
    r"non remis|message not delivered|delivery notification)",
    re.I,
)
_DELAY_WORDS = re.compile(
    r"delayed mail|(delivery|message) (is |has been )?delayed|still being retried|will (retry|continue trying|"
    r"keep trying)|not yet been delivered|temporar(y|ily)\b|warning: message",
    re.I,
)
_ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_5XX = re.compile(r"\b5[0-5]\d[ -]")
_BOUNCED_LINE = re.compile(r"^[ \t]*<([^<>\s@]+@[^<>\s@]+)>[ \t]*(\([^\n]*\))?[ \t]*:", re.M)
_FAILED_BLOCK = re.compile(
    r"(following (address(?:es|\(es\))?|recipients?) (had permanent fatal errors|failed|could not be reached)"
    r"|could not be delivered to)[^\n]*\n((?:[ \t]*\n)?(?:[ \t]*[^\s@]+@[^\s@]+[^\n]*\n)+)",
    re.I,
)


_INLINE_ID = re.compile(r"^message-id:[ \t]*(<[^<>\s@]+@[^<>\s@]+>)", re.I | re.M)


@dataclass(frozen=True)
class _Recipient:
    address: str
    action: str
    status: str
    diagnostic: str


def _field_blocks(part: Message) -> list[list[tuple[str, str]]]:
    """The header blocks of a ``message/delivery-status`` part (per-message, then per-recipient)."""
    blocks: list[list[tuple[str, str]]] = []
    try:
        payload = part.get_payload()
    except Exception:
        payload = None
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append([(k.lower(), _decode(v)) for k, v in _raw_items(block)])
        return blocks
    text = _part_text(part) if not isinstance(payload, str) else _clean(payload)
    for chunk in re.split(r"\n[ \t\r]*\n", text):
        fields: list[tuple[str, str]] = []
        for line in _FOLD.sub(" ", chunk).split("\n"):
            name, sep, value = line.partition(":")
            if sep and name.strip() and " " not in name.strip():
                fields.append((name.strip().lower(), value.strip()))
        if fields:
            blocks.append(fields)
    return blocks


def _dsn_recipients(part: Message) -> list[_Recipient]:
    recipients: list[_Recipient] = []
    for block in _field_blocks(part):
        fields: dict[str, str] = {}
        for name, value in block:
            fields.setdefault(name, value)
        raw = fields.get("final-recipient") or fields.get("original-recipient")
        if not raw:
            continue
        address = normalize_address(raw.partition(";")[2] if ";" in raw else raw)
        if address is None:
            continue
        recipients.append(
            _Recipient(
                address=address,
                action=fields.get("action", "").strip().lower()[:40],
                status=fields.get("status", "").strip()[:40],
                diagnostic=fields.get("diagnostic-code", "").strip()[:500],
            )
        )
    return recipients


def _is_permanent(recipient: _Recipient) -> bool:
    return recipient.action == "failed" or recipient.status.startswith("5")


def _returned_message_id(message: Message) -> str | None:
    """The Message-ID of the message a bounce returns (its attached message or headers)."""
    for part in _walk(message):
        kind = _content_type(part)
        if kind == "message/rfc822":
            try:
                payload = part.get_payload()
            except Exception:
                payload = None
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found = _first_id(inner)
                if found:
                    return found
        elif kind == "text/rfc822-headers" or (kind == "text/plain" and part is not message and _is_headers(part)):
            match = re.search(r"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", _part_text(part), re.I | re.M)
            if match:
                ids = message_ids(match.group(1))
                if ids:
                    return ids[0]
    return None


def _is_headers(part: Message) -> bool:
    try:
        description = (part.get("Content-Description") or "").lower()
    except Exception:
        description = ""
    return "headers" in description or "undelivered message" in description


def _one_line(text: str, limit: int = 1000) -> str:
    return _SPACES.sub(" ", re.sub(r"[\r\n]+", " ", text)).strip()[:limit]


def _classify_bounce(message: Message, sender: str | None, subject: str, text: str) -> Inbound | None:
    """A bounce (or an ignored delay notice), or None when the message is not one."""
    content_type = _content_type(message)
    is_dsn = content_type == "multipart/report" and _param(message, "report-type") == "delivery-status"
    recipients: list[_Recipient] = []
    if is_dsn or content_type == "multipart/report":
        for part in _walk(message):
            if _content_type(part) in ("message/delivery-status", "message/global-delivery-status"):
                recipients.extend(_dsn_recipients(part))
        is_dsn = is_dsn or bool(recipients)
    returned = _returned_message_id(message)
    if returned is None:  # Exim and qmail copy the returned message into the text
        inline = _INLINE_ID.search(text[:50_000])
        returned = inline.group(1) if inline and len(inline.group(1)) <= MAX_ID_LENGTH else None
    references = [returned] if returned else []
    references += [r for r in _references(message) if r not in references]
    if recipients:
        failed = [r for r in recipients if _is_permanent(r)]
        if not failed:
            actions = ", ".join(sorted({r.action or "no action" for r in recipients}))
            return Inbound(
                kind="ignored",
                sender=sender,
                references=tuple(references),
                subject=subject or None,
                message_id=_first_id(message),
                reason=f"delivery status notification without a failure ({actions})",
            )
        status = "; ".join(
            _one_line(f"{r.address}: {r.status or r.action} {r.diagnostic}".strip(), 300) for r in failed[:10]
        )
        return Inbound(
            kind="bounce",
            sender=sender,
            references=tuple(references),
            bounced_recipients=tuple(dict.fromkeys(r.address for r in failed))[:MAX_BOUNCED],
            bounce_permanent=True,
            bounce_status=status[:1000],
            note=make_note(own_text(text)),
            message_id=_first_id(message),
            subject=subject or None,
            reason="delivery status notification (RFC 3464) with a failed recipient",
        )
    local = (sender or "").partition("@")[0]
    from_daemon = local in _DAEMONS or local.startswith("mailer-daemon")
    bounce_subject = bool(_BOUNCE_SUBJECT.match(subject))
    has_original = returned is not None or any(
        _content_type(p) in ("message/rfc822", "text/rfc822-headers") for p in _walk(message)
    )
    if not (is_dsn or (from_daemon and (bounce_subject or has_original)) or (bounce_subject and has_original)):
        return None
    codes = _ENHANCED_STATUS.findall(text)
    permanent_codes = [".".join(c) for c in codes if c[0] == "5"]
    if not permanent_codes and (_DELAY_WORDS.search(subject) or _DELAY_WORDS.search(text[:5000])):
        return Inbound(
            kind="ignored",
            sender=sender,
            references=tuple(references),
            subject=subject or None,
            message_id=_first_id(message),
            reason="delay notice: delivery is still being retried",
        )
    bounced = [m.group(1) for m in _BOUNCED_LINE.finditer(text[:20_000])]
    for block in _FAILED_BLOCK.finditer(text[:20_000]):
        bounced += re.findall(r"[^\s<>()\"',;:@]+@[^\s<>()\"',;:@]+", block.group(4))
    recipients_found = [a for a in (normalize_address(b) for b in bounced) if a is not None]
    recipients_found = [a for a in dict.fromkeys(recipients_found) if a.partition("@")[0] not in _DAEMONS]
    permanent = bool(permanent_codes or _SMTP_5XX.search(text[:20_000])) or not codes
    detail_match = re.search(r"(said|said:|reason:|error:|diagnostic[- ]code:)\s*(.{0,300})", text[:20_000], re.I)
    detail = detail_match.group(2) if detail_match else (permanent_codes[0] if permanent_codes else subject)
    return Inbound(
        kind="bounce",
        sender=sender,
        references=tuple(references),
        bounced_recipients=tuple(recipients_found[:MAX_BOUNCED]),
        bounce_permanent=permanent,
        bounce_status=_one_line(
            (", ".join(recipients_found) + ": " if recipients_found else "") + (detail or "undelivered")
        ),
        note=make_note(own_text(text)),
        message_id=_first_id(message),
        subject=subject or None,
        reason="non-delivery report" + (" from " + sender if sender else ""),
    )


# -- automatic replies ----------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(\[?auto(matic)?[- ]?(reply|response|antwort)\]?|auto:|autoreply|out of (the )?office|"
    r"ooo\b|abwesen(heitsnotiz|d)|automatische antwort|r[ée]ponse automatique|absence|"
    r"respuesta autom[áa]tica|risposta automatica|resposta autom[áa]tica|afwezig|automatisch antwoord|"
    r"(i am|i'm) (out|away)|away from (the )?office|vacation (reply|response)|on (vacation|leave|holiday))",
    re.I,
)
_OOO_WORDS = re.compile(
    r"out of (the )?office|on (annual |parental |maternity |paternity |sick )?(leave|vacation|holiday)|"
    r"away from (the office|my desk|my e-?mail)|(limited|no) access to (my )?e-?mail|currently (out|away)|"
    r"will (be back|return|reply|respond)|automatic reply|auto(matic)?[- ]?reply",
    re.I,
)


def _auto_reason(message: Message, subject: str, text: str) -> tuple[str | None, bool]:
    """(why this is an automatic reply, or None; True when it is bulk mail that is not one)."""
    submitted = (header(message, "Auto-Submitted") or "").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted[:40]}", False
    for name in ("X-Autoreply", "X-Autorespond", "X-Autorespond-Response"):
        value = header(message, name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return f"{name} header", False
    precedence = (header(message, "Precedence") or "").strip().lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply", False
    if precedence in ("bulk", "junk", "list"):
        if _OOO_WORDS.search(subject) or _OOO_WORDS.search(text[:3000]):
            return f"Precedence: {precedence} with out-of-office wording", False
        return None, True
    if _AUTO_SUBJECT.match(subject):
        return "out-of-office subject", False
    return None, False


# -- return dates ---------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE = re.compile(
    rf"""
    (?:(?P<wd>{_WEEKDAY})\.?,?\s+(?:the\s+)?)?
    (?:
        (?P<m1>{_MONTH})\.?\s+(?P<d1>\d{{1,2}}){_ORD}\b(?:,?\s+(?P<y1>\d{{4}})\b)?
      | (?:the\s+)?(?P<d2>\d{{1,2}}){_ORD}\.?(?:\s+of)?\s+(?P<m2>{_MONTH})\b\.?(?:,?\s+(?P<y2>\d{{4}})\b)?
      | (?<![\d/.-])(?P<y3>\d{{4}})-(?P<m3>\d{{1,2}})-(?P<d3>\d{{1,2}})(?![\d])
      | (?<![\d/.:-])(?P<a4>\d{{1,2}})(?P<sep>[/.])(?P<b4>\d{{1,2}})
        (?:(?P=sep)(?P<y4>\d{{4}}|\d{{2}})(?![\d/]|\.\d)|(?P<dot>\.)|(?![\d/.:]))
      | (?P<tomorrow>tomorrow)\b
    )
    """,
    re.I | re.X,
)
_WEEKDAY_ALONE = re.compile(rf"\b(?P<wd>{_WEEKDAY})\b\.?(?!\s*,?\s*(?:the\s+)?\d)(?!,?\s+{_MONTH}\b)", re.I)
_RETURN_CUE = re.compile(
    r"\b(back|return(?:ing|s)?|available(?:\s+again)?|reachable(?:\s+again)?|in\s+the\s+office(?:\s+again)?|"
    r"resume|resuming)\b(?:\s+(?:in|to|at|into)\s+(?:the\s+|my\s+)?(?:office|work|desk))?"
    r"(?:\s+(?:again|full[- ]time))?(?:\s+(?:on|by|from|after|as\s+of|starting))?\s*[,:]?\s*$",
    re.I,
)
_UNTIL_CUE = re.compile(
    r"\b(until|till|til|untill|up\s+to|up\s+until)\b(?:\s+(?:and\s+including|on))?\s*[,:]?\s*$", re.I
)
_THROUGH_CUE = re.compile(r"\b(through|thru|to\s+and\s+including)\s*[,:]?\s*$", re.I)
_RANGE_JOIN = re.compile(r"^\s*(?:-|–|—|to|until|till|through|thru)\s*$", re.I)

_RANK = {"return": 0, "until": 1, "through": 2}


def _resolve_year(month: int, day: int, today: date, weekday: int | None) -> date | None:
    candidates: list[date] = []
    for year in (today.year, today.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if not candidates:
        return None
    if weekday is not None:
        matching = [c for c in candidates if c.weekday() == weekday]
        if len(matching) == 1:
            return matching[0]
    this_year = candidates[0]
    if this_year.year == today.year and this_year >= today:
        return this_year
    rolled = next((c for c in candidates if c.year == today.year + 1), None)
    # A date earlier this year rolls to next year only if that is within half a year: a message read a
    # few days late that says "back on December 5" means the December 5 just past, not next year's.
    if rolled is not None and (rolled - today).days <= 183:
        return rolled
    return this_year


def _full_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _mentioned_date(match: re.Match[str], today: date) -> date | None:
    """The date one :data:`_DATE` match names, with the year inferred from ``today`` when missing."""
    groups = match.groupdict()
    weekday = _WEEKDAYS[groups["wd"][:3].lower()] if groups.get("wd") else None
    if groups.get("tomorrow"):
        return today + timedelta(days=1)
    month_name = groups.get("m1") or groups.get("m2")
    if month_name:
        month = _MONTHS[month_name[:3].lower()]
        day = int(groups.get("d1") or groups.get("d2") or 0)
        year_text = groups.get("y1") or groups.get("y2")
        if year_text:
            return _full_date(int(year_text), month, day)
        return _resolve_year(month, day, today, weekday)
    if groups.get("y3"):
        return _full_date(int(groups["y3"]), int(groups["m3"]), int(groups["d3"]))
    if groups.get("a4"):
        first, second = int(groups["a4"]), int(groups["b4"])
        year_text = groups.get("y4")
        if groups.get("sep") == "." and not year_text and not groups.get("dot"):
            return None  # "10.30" is a time more often than a date
        readings = [(second, first)] if groups.get("sep") == "." else [(first, second), (second, first)]
        options: list[date] = []
        for month, day in readings:
            if not (1 <= month <= 12):
                continue
            if year_text:
                year = int(year_text) + (2000 if len(year_text) == 2 else 0)
                found = _full_date(year, month, day)
            else:
                found = _resolve_year(month, day, today, weekday)
            if found is not None and found not in options:
                options.append(found)
        upcoming = sorted(o for o in options if o >= today)
        if upcoming:
            return upcoming[0]  # 12/05 read on November 30 is December 5, not May 12
        return options[0] if options else None
    return None


def _next_weekday(today: date, weekday: int) -> date:
    ahead = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def _cue(before: str) -> str | None:
    if _RETURN_CUE.search(before):
        return "return"
    if _UNTIL_CUE.search(before):
        return "until"
    if _THROUGH_CUE.search(before):
        return "through"
    return None


def return_date(text: str, *, now: datetime) -> date | None:
    """When an out-of-office message says its sender is back, or None when it does not say.

    Reads common English wording: "until December 5", "back on Monday 7 December", "until 12/05/2026",
    "until 2026-12-05", "returning 5 Dec", "out through Friday, Dec 4" (back the day after), "back on
    Monday". A date without a year is taken in ``now``'s year, or the next one when it has passed
    (within half a year). Dates more than a month past or a year ahead are not believed.
    """
    today = now.date()
    text = _SPACES.sub(" ", text[:5000])
    found: list[tuple[int, int, date]] = []  # (rank, position, date)
    previous_end = -1
    previous_rank: str | None = None
    for match in _DATE.finditer(text):
        start = match.start()
        before = text[max(0, start - 80) : start]
        cue = _cue(before)
        if cue is None and previous_end >= 0 and _RANGE_JOIN.match(text[previous_end:start]):
            cue = "through" if previous_rank is None or previous_rank == "through" else previous_rank
            joiner = text[previous_end:start].strip().lower()
            if joiner in ("until", "till"):
                cue = "until"
        previous_end = match.end()
        previous_rank = cue
        if cue is None:
            continue
        day = _mentioned_date(match, today)
        if day is None:
            continue
        if cue == "through":
            day += timedelta(days=1)
        found.append((_RANK[cue], start, day))
    for match in _WEEKDAY_ALONE.finditer(text):
        before = text[max(0, match.start() - 80) : match.start()]
        cue = _cue(before)
        if cue is None:
            continue
        day = _next_weekday(today, _WEEKDAYS[match.group("wd")[:3].lower()])
        if cue == "through":
            day += timedelta(days=1)
        found.append((_RANK[cue], match.start(), day))
    for _rank, _position, day in sorted(found):
        if today - timedelta(days=31) <= day <= today + timedelta(days=366):
            return day
    return None


# -- classification -------------------------------------------------------------------------------

_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*unsubscribe[\s.!]*$", re.I)


def classify(message: Message, *, now: datetime, unsubscribe_addresses: set[str] | frozenset[str]) -> Inbound:
    """What ``message`` is, from its headers and its own text (see the module's docstring).

    ``unsubscribe_addresses`` are addresses that only take unsubscribe requests (List-Unsubscribe's
    mailto when it is not the replies mailbox itself): anything sent to them is an unsubscribe.
    Never raises: a message that cannot be read is ``ignored``.
    """
    try:
        return _classify(message, now=now, unsubscribe_addresses=unsubscribe_addresses)
    except Exception as exc:  # defence in depth: the parsing above is written not to raise
        return Inbound(kind="ignored", reason=f"unreadable message ({type(exc).__name__})")


def _classify(message: Message, *, now: datetime, unsubscribe_addresses: set[str] | frozenset[str]) -> Inbound:
    return replace(_kind_of(message, now=now, unsubscribe_addresses=unsubscribe_addresses), sent_at=sent_at(message))


def sent_at(message: Message) -> datetime | None:
    """The message's ``Date`` as an aware datetime, or None when it is missing or unreadable."""
    value = header(message, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _kind_of(message: Message, *, now: datetime, unsubscribe_addresses: set[str] | frozenset[str]) -> Inbound:
    from_addresses = addresses(headers(message, "From"))
    sender = from_addresses[0] if from_addresses else None
    if sender is None:
        reply_to = addresses(headers(message, "Reply-To"))
        sender = reply_to[0] if reply_to else None
    subject = _one_line(header(message, "Subject") or "", 998)
    message_id = _first_id(message)
    text = body_text(message)
    own = own_text(text)

    bounce = _classify_bounce(message, sender, subject, text)
    if bounce is not None:
        return bounce

    base = Inbound(
        kind="ignored", sender=sender, references=tuple(_references(message)), message_id=message_id,
        subject=subject or None,
    )  # fmt: skip
    auto, bulk = _auto_reason(message, subject, own or text)
    if auto is not None:
        return replace(
            base,
            kind="auto_reply",
            return_date=return_date(f"{subject}\n{own or text}", now=now),
            note=make_note(own or text),
            reason=auto,
        )

    recipients = addresses(
        [v for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To") for v in headers(message, name)]
    )
    wanted = {a.lower() for a in unsubscribe_addresses}
    to_unsubscribe = sorted(wanted.intersection(recipients))
    if sender is not None and (to_unsubscribe or _UNSUBSCRIBE_SUBJECT.match(subject)):
        why = f"sent to {to_unsubscribe[0]}" if to_unsubscribe else "subject 'unsubscribe'"
        return replace(base, kind="unsubscribe", note=make_note(own), reason=why)

    if sender is None:
        return replace(base, reason="no sender address")
    if bulk:
        return replace(base, reason="bulk mail")
    if header(message, "List-Id") is not None:
        return replace(base, reason="mailing-list mail (List-Id)")
    return replace(base, kind="reply", note=make_note(own or text), reason="a message from a person")
