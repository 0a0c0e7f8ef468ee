"""The one error templates raise, and the faults a check lists: where in which file, and why."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError, UndefinedError

from cadence.errors import CadenceError


class TemplateError(CadenceError):
    """A template cannot be used: it does not exist, does not parse, or fails to render.

    The message reads ``FILE:LINE: REASON``; :attr:`path`, :attr:`line` (None when unknown) and
    :attr:`reason` hold the parts.
    """

    def __init__(self, reason: str | None = None, path: str | None = None, line: int | None = None) -> None:
        self.reason = reason or "template error"
        self.path = path
        self.line = line
        where = path or "template"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {self.reason}")


@dataclass(frozen=True)
class RenderedEmail:
    """An email, ready to send: the footer is in both bodies."""

    subject: str
    text: str
    html: str | None


@dataclass(frozen=True)
class TemplateProblem:
    """One fault :meth:`Templates.check` found: where it is and why."""

    template: str
    path: str
    line: int | None
    reason: str


def template_error(exc: BaseException, fallback_path: str) -> TemplateError:
    """Turn anything rendering raised into a TemplateError naming the file and line."""
    if isinstance(exc, TemplateError):
        return exc
    path: str | None = None
    line: int | None = None
    if isinstance(exc, TemplateSyntaxError):
        path = exc.filename or exc.name
        line = exc.lineno
    else:
        tb = exc.__traceback__
        while tb is not None:
            template = tb.tb_frame.f_globals.get("__jinja_template__")
            if isinstance(template, jinja2.Template):
                path = template.filename or template.name
                line = template.get_corresponding_lineno(tb.tb_lineno)
            tb = tb.tb_next
    return TemplateError(_reason(exc), path=path or fallback_path, line=line)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return f"syntax error: {exc.message}"
    if isinstance(exc, TemplateNotFound):
        return exc.message or f"template {exc.name!r} not found"
    if isinstance(exc, UndefinedError | SecurityError):
        return str(exc.message)
    if isinstance(exc, RecursionError):
        return "the template calls or includes itself without end"
    if isinstance(exc, MemoryError):
        return "the template needs too much memory"
    return f"{type(exc).__name__}: {exc}"
