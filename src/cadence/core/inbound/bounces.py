"""Bounces: delivery status notifications (RFC 3464) and the common non-standard reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from cadence.core.inbound.kinds import Inbound
from cadence.core.inbound.message import (
    FOLD,
    MAX_ID_LENGTH,
    clean,
    decode,
    first_id,
    header,
    message_ids,
    normalize_address,
    one_line,
    param,
    part_text,
    part_type,
    raw_items,
    reference_ids,
    walk,
)
from cadence.core.inbound.note import make_note, own_text

MAX_BOUNCED = 10

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


def field_blocks(part: Message) -> list[list[tuple[str, str]]]:
    """The header blocks of a ``message/delivery-status`` part (per-message, then per-recipient)."""
    blocks: list[list[tuple[str, str]]] = []
    try:
        payload = part.get_payload()
    except Exception:
        payload = None
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append([(k.lower(), decode(v)) for k, v in raw_items(block)])
        return blocks
    text = part_text(part) if not isinstance(payload, str) else clean(payload)
    for chunk in re.split(r"\n[ \t\r]*\n", text):
        fields: list[tuple[str, str]] = []
        for line in FOLD.sub(" ", chunk).split("\n"):
            name, sep, value = line.partition(":")
            if sep and name.strip() and " " not in name.strip():
                fields.append((name.strip().lower(), value.strip()))
        if fields:
            blocks.append(fields)
    return blocks


def _dsn_recipients(part: Message) -> list[_Recipient]:
    recipients: list[_Recipient] = []
    for block in field_blocks(part):
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


def returned_message_id(message: Message) -> str | None:
    """The Message-ID of the message a bounce returns (its attached message or headers)."""
    for part in walk(message):
        kind = part_type(part)
        if kind == "message/rfc822":
            try:
                payload = part.get_payload()
            except Exception:
                payload = None
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found = first_id(inner)
                if found:
                    return found
        elif kind == "text/rfc822-headers" or (kind == "text/plain" and part is not message and _is_headers(part)):
            match = re.search(r"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", part_text(part), re.I | re.M)
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


def classify_bounce(message: Message, sender: str | None, subject: str, text: str) -> Inbound | None:
    """A bounce (or an ignored delay notice), or None when the message is not one."""
    content_type = part_type(message)
    is_dsn = content_type == "multipart/report" and param(message, "report-type") == "delivery-status"
    recipients: list[_Recipient] = []
    if is_dsn or content_type == "multipart/report":
        for part in walk(message):
            if part_type(part) in ("message/delivery-status", "message/global-delivery-status"):
                recipients.extend(_dsn_recipients(part))
        is_dsn = is_dsn or bool(recipients)
    returned = returned_message_id(message)
    if returned is None:  # Exim and qmail copy the returned message into the text
        inline = _INLINE_ID.search(text[:50_000])
        returned = inline.group(1) if inline and len(inline.group(1)) <= MAX_ID_LENGTH else None
    references = [returned] if returned else []
    references += [r for r in reference_ids(message) if r not in references]
    if recipients:
        failed = [r for r in recipients if _is_permanent(r)]
        if not failed:
            actions = ", ".join(sorted({r.action or "no action" for r in recipients}))
            return Inbound(
                kind="ignored",
                sender=sender,
                references=tuple(references),
                subject=subject or None,
                message_id=first_id(message),
                reason=f"delivery status notification without a failure ({actions})",
            )
        status = "; ".join(
            one_line(f"{r.address}: {r.status or r.action} {r.diagnostic}".strip(), 300) for r in failed[:10]
        )
        return Inbound(
            kind="bounce",
            sender=sender,
            references=tuple(references),
            bounced_recipients=tuple(dict.fromkeys(r.address for r in failed))[:MAX_BOUNCED],
            bounce_permanent=True,
            bounce_status=status[:1000],
            note=make_note(own_text(text)),
            message_id=first_id(message),
            subject=subject or None,
            reason="delivery status notification (RFC 3464) with a failed recipient",
        )
    local = (sender or "").partition("@")[0]
    # A report that is not a DSN counts only from a mail system: a daemon's address, or the null return path
    # that RFC 5321 asks of every non-delivery report. A person's "Delivery notification" with a message
    # attached is a person writing.
    from_mail_system = (
        local in _DAEMONS or local.startswith("mailer-daemon") or (header(message, "Return-Path") or "").strip() == "<>"
    )
    bounce_subject = bool(_BOUNCE_SUBJECT.match(subject))
    has_original = returned is not None or any(
        part_type(p) in ("message/rfc822", "text/rfc822-headers") for p in walk(message)
    )
    if not (is_dsn or (from_mail_system and (bounce_subject or has_original))):
        return None
    codes = _ENHANCED_STATUS.findall(text)
    permanent_codes = [".".join(c) for c in codes if c[0] == "5"]
    if not permanent_codes and (_DELAY_WORDS.search(subject) or _DELAY_WORDS.search(text[:5000])):
        return Inbound(
            kind="ignored",
            sender=sender,
            references=tuple(references),
            subject=subject or None,
            message_id=first_id(message),
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
        bounce_status=one_line(
            (", ".join(recipients_found) + ": " if recipients_found else "") + (detail or "undelivered")
        ),
        note=make_note(own_text(text)),
        message_id=first_id(message),
        subject=subject or None,
        reason="non-delivery report" + (" from " + sender if sender else ""),
    )
