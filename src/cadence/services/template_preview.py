"""Previewing an email: exactly what a template would send to a lead now, as headers, text and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from cadence.errors import NotFound
from cadence.services.advance import preview_email, templates_for
from cadence.services.context import Context

_STRUCTURAL_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})


@dataclass(frozen=True)
class Preview:
    """An email as the lead would get it: its headers (without the MIME structure), text part and HTML part."""

    headers: list[tuple[str, str]]
    text: str | None
    html: str | None


def preview_template(ctx: Context, lead: str, name: str, *, now: datetime) -> Preview:
    """What template ``name`` would send to the lead ``lead`` at ``now``. Sends and writes nothing.

    Raises :class:`NotFound` for an unknown template (before the database is opened) or lead.
    """
    templates = templates_for(ctx)
    if not templates.exists(name):
        raise NotFound(f"no template named {name!r} in {ctx.templates_dir} (names look like email/introduction)")
    ctx.require_schema()
    with ctx.sessions() as s, s.begin():
        message = preview_email(ctx, s, lead, name, now=now)
    headers = [(key, str(value)) for key, value in message.items() if key.lower() not in _STRUCTURAL_HEADERS]
    return Preview(headers, _part(message, "plain"), _part(message, "html"))


def _part(message: EmailMessage, subtype: str) -> str | None:
    """The text of the message's ``text/SUBTYPE`` part, or None."""
    part: Any = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return str(part.get_content())
