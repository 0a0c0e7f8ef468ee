"""Reading a parsed message defensively: headers, addresses, Message-IDs, parts and the body's text.

Every function here takes hostile input and never raises; what cannot be read comes back empty.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterable, Iterator
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses

MAX_REFERENCES = 50
MAX_ID_LENGTH = 250
MAX_ADDRESS_LENGTH = 320
_MAX_PARTS = 200
_MAX_HEADER = 8_000
_MAX_HTML = 200_000
_MAX_TEXT = 100_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
FOLD = re.compile(r"\r?\n[ \t]*")
_MESSAGE_ID = re.compile(r"<([^<>\s@]{1,200}@[^<>\s@]{1,200})>")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250})\.[A-Za-z0-9-]{1,63}$")
SPACES = re.compile(r"[ \t\u00a0]+")


def clean(value: str) -> str:
    """``value`` with lone surrogates (undecodable bytes) replaced and control characters removed."""
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub("", text)


def raw_items(message: Message) -> list[tuple[str, str]]:
    """The message's headers as (name, raw value) text pairs; empty when the parser kept them unreadable."""
    try:
        return [(str(name), str(value)) for name, value in message.raw_items()]
    except Exception:  # a header the parser kept in a form we cannot turn into text
        return []


def decode(raw: str) -> str:
    """A raw header value unfolded and RFC 2047-decoded (left as it is when it does not decode).

    Only the first and last few thousand characters of an overlong value are kept (References grow at the end).
    """
    if len(raw) > _MAX_HEADER:
        raw = raw[: _MAX_HEADER // 2] + " " + raw[-_MAX_HEADER // 2 :]
    value = FOLD.sub(" ", raw).strip()
    if "=?" in value:
        with contextlib.suppress(Exception):  # malformed encoded words: keep the raw text
            value = str(make_header(decode_header(value)))
    return clean(value).strip()


def headers(message: Message, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), decoded; never raises."""
    wanted = name.lower()
    return [decode(value) for key, value in raw_items(message) if key.lower() == wanted]


def header(message: Message, name: str) -> str | None:
    """The first value of header ``name``, decoded, or None."""
    values = headers(message, name)
    return values[0] if values else None


def normalize_address(value: str | None) -> str | None:
    """``Bob@X.example`` as ``bob@x.example``; None unless it looks like an email address."""
    if not value:
        return None
    address = clean(value).strip().strip("<>").strip().lower()
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


def first_id(message: Message) -> str | None:
    """The message's own Message-ID, or None."""
    ids = message_ids(header(message, "Message-ID"))
    return ids[0] if ids else None


def reference_ids(message: Message) -> list[str]:
    """The Message-IDs it answers: In-Reply-To, then References newest first, at most :data:`MAX_REFERENCES`."""
    chained = message_ids(header(message, "In-Reply-To")) + list(reversed(message_ids(header(message, "References"))))
    return list(dict.fromkeys(chained))[:MAX_REFERENCES]


def walk(message: Message) -> Iterator[Message]:
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


def part_type(part: Message) -> str:
    """The part's content type, lower-cased (``text/plain`` when unreadable)."""
    try:
        return str(part.get_content_type()).lower()
    except Exception:
        return "text/plain"


def param(part: Message, name: str) -> str:
    """A ``Content-Type`` parameter, lower-cased, or ``""``."""
    try:
        value = part.get_param(name, header="content-type")
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231 (charset, language, value)
        value = value[2]
    return clean(str(value)).lower() if value else ""


def part_text(part: Message) -> str:
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
        return clean(raw)[:_MAX_TEXT] if isinstance(raw, str) else ""
    if not isinstance(payload, bytes):
        return ""
    charset = param(part, "charset") or "utf-8"
    try:
        text = payload[: _MAX_TEXT * 4].decode(charset, "replace")
    except (LookupError, ValueError, TypeError):
        text = payload[: _MAX_TEXT * 4].decode("utf-8", "replace")
    return clean(text)[:_MAX_TEXT]


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
    return clean(re.sub(r"[ \t\r\f\v]*\n[ \t\r\f\v]*", "\n", text))


def body_text(message: Message) -> str:
    """The message's own text: its first ``text/plain`` part, else its first ``text/html`` part as text.

    Attachments and attached messages (a bounce's returned message) are not read.
    """
    plain: str | None = None
    markup: str | None = None
    for part in walk(message):
        kind = part_type(part)
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
            plain = part_text(part)
        elif kind == "text/html" and markup is None:
            markup = part_text(part)
        if plain is not None:
            break
    if plain is not None and plain.strip():
        return plain.replace("\r\n", "\n").replace("\r", "\n")
    if markup:
        return html_to_text(markup).replace("\r\n", "\n").replace("\r", "\n")
    return plain or ""


def one_line(text: str, limit: int = 1000) -> str:
    """``text`` on one line, runs of spaces made one, at most ``limit`` characters."""
    return SPACES.sub(" ", re.sub(r"[\r\n]+", " ", text)).strip()[:limit]
