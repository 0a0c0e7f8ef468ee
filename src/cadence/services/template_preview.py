"""Previewing an email: exactly what a template would send to a lead now, as headers, text and HTML."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from cadence.errors import NotFound, ValidationError, shown
from cadence.services.advance import preview_email, templates_for
from cadence.services.context import Context

EMAILS = "email/"
"""The folder of the email templates; every other template is a task's instructions."""
_STRUCTURAL_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})


@dataclass(frozen=True)
class Preview:
    """An email as the lead would get it: its headers (without the MIME structure), text part and HTML part."""

    headers: list[tuple[str, str]]
    text: str | None
    html: str | None


def preview_template(ctx: Context, lead: str, name: str, *, now: datetime) -> Preview:
    """What template ``name`` would send to the lead ``lead`` at ``now``. Sends and writes nothing.

    Raises :class:`NotFound` for an unknown template (before the database is opened) or lead, and
    :class:`ValidationError` for a template that is not an email (a call script, a LinkedIn note...).
    """
    templates = templates_for(ctx)
    if not templates.exists(name):
        emails = [n for n in templates.names() if n.startswith(EMAILS) and not n.rpartition("/")[2].startswith("_")]
        # compared without the folder, which every email shares
        close = difflib.get_close_matches(name.rpartition("/")[2], [n.removeprefix(EMAILS) for n in emails], n=1)
        hint = f"did you mean {EMAILS}{close[0]}?" if close else f"the emails are {', '.join(emails) or 'none'}"
        raise NotFound(f"no template named {shown(name)}: {hint}")
    if not name.startswith(EMAILS):
        raise ValidationError(
            f"{name} is a task's instructions, not an email: its preview for a lead is on its page in the "
            f"workspace (/templates/{name}); the emails are under {EMAILS}"
        )
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
