"""An email's parts: blocks rendered one by one, the subject made one line, text tidied, footers checked."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.runtime import Context
from markupsafe import escape

from cadence.adapters.templates.errors import TemplateError, template_error

MAX_SUBJECT_CHARS = 250
"""The longest subject; a longer one is cut at a word boundary and ends with an ellipsis."""

LAYOUT = "email/_layout.html"
FOOTER = "email/_footer.txt"


@dataclass(frozen=True)
class RenderedEmail:
    """An email, ready to send: the footer is in both bodies."""

    subject: str
    text: str
    html: str | None


class _Blocks(dict[str, list[Any]]):
    """A context's block stacks where blocks added by a parent template start silenced."""

    def setdefault(self, key: str, default: list[Any] | None = None) -> list[Any]:
        if key not in self:
            self[key] = [_silent_block]
        return self[key]


def _silent_block(context: Context) -> Iterator[str]:
    return iter(())


def stream(chunks: Iterator[str], template: jinja2.Template, max_chars: int) -> str:
    """Join a render's chunks; a :class:`TemplateError` once they pass ``max_chars`` or rendering fails."""
    out: list[str] = []
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > max_chars:
                raise TemplateError(f"the output is longer than {max_chars} characters", path=template.filename)
            out.append(chunk)
    except TemplateError:
        raise
    except Exception as exc:
        raise template_error(exc, template.filename or template.name or "template") from None
    return "".join(out)


def render_whole(template: jinja2.Template, data: Mapping[str, Any], max_chars: int) -> str:
    """Render the whole template (a task, the footer, the layout) with ``data``."""
    try:
        context = template.new_context(dict(data))
        chunks = template.root_render_func(context)
    except Exception as exc:
        raise template_error(exc, template.filename or "template") from None
    return stream(chunks, template, max_chars)


def render_blocks(
    template: jinja2.Template, data: Mapping[str, Any], names: Sequence[str], max_chars: int
) -> dict[str, str]:
    """Run the template's top level (blocks silenced) so its variables and macros exist, then each block.

    Returns the blocks of ``names`` that the template (or a template it extends) has.
    """
    try:
        context = template.new_context(dict(data))
        blocks = _Blocks()
        for block, stack in context.blocks.items():
            blocks[block] = [_silent_block, *stack]
        context.blocks = blocks
    except Exception as exc:
        raise template_error(exc, template.filename or "template") from None
    stream(template.root_render_func(context), template, max_chars)
    for stack in context.blocks.values():
        if stack and stack[0] is _silent_block and len(stack) > 1:
            del stack[0]
    result = {}
    for block in names:
        found = context.blocks.get(block)
        if found and found[0] is not _silent_block:
            result[block] = stream(found[0](context), template, max_chars)
    return result


def check_footer(path: str | None, data: Mapping[str, Any], text: str, html: str | None) -> None:
    """The CAN-SPAM check: the unsubscribe link and our postal address are in both bodies."""
    url, address = compliance_values(data, path)
    needles = [("the unsubscribe link (unsubscribe_url)", url.strip())]
    for line in re.split(r"[\r\n]+", address):
        if line.strip():
            needles.append(("our postal address (company.postal_address)", line.strip()))
    for what, needle in needles:
        if needle not in text:
            raise TemplateError(f"the text footer must show {what}", path=path)
        if html is not None and str(escape(needle)) not in html and needle not in html:
            raise TemplateError(f"the HTML layout must show {what}", path=path)


def compliance_values(data: Mapping[str, Any], path: str | None) -> tuple[str, str]:
    """The unsubscribe link and our postal address, which every email must show (CAN-SPAM)."""
    url = data.get("unsubscribe_url")
    if not isinstance(url, str) or not url.strip():
        raise TemplateError("no unsubscribe_url: every email must carry an unsubscribe link", path=path)
    company = data.get("company")
    address = company.get("postal_address") if isinstance(company, dict) else None
    if not isinstance(address, str) or not address.strip():
        raise TemplateError("no company.postal_address: every email must show our postal address", path=path)
    return url, address


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """A subject: control characters and runs of whitespace become one space; cut to the limit."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    if len(line) <= MAX_SUBJECT_CHARS:
        return line
    cut = line[: MAX_SUBJECT_CHARS - 1]
    if " " in cut[MAX_SUBJECT_CHARS // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def tidy(text: str) -> str:
    """Plain text: CR/LF become LF, trailing spaces go, runs of blank lines become one, ends trimmed."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")
