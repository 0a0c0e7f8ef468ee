"""Log records made safe to write: one record is one line, and it cannot drive the terminal.

A request path is percent-decoded before it is logged, so ``/x%0d%0aINFO: ...`` would write a
forged second line into the access log, and ``%1b[2J`` an escape sequence that clears the screen of
whoever reads the log in a terminal. :class:`EscapeControls`, attached to every handler by
:func:`cadence.web.server.log_config`, writes the control characters of a record's message and
arguments as escapes instead (``\\r``, ``\\n``, ``\\x1b``, ``\\u2028``). Tracebacks are left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

_ESCAPES: dict[int, str] = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


def escape_controls(text: str) -> str:
    """``text`` with its control characters (C0, DEL, C1, line and paragraph separators) written as escapes."""
    return text.translate(_ESCAPES)


def _escaped(value: Any) -> Any:
    return escape_controls(value) if isinstance(value, str) else value


class EscapeControls(logging.Filter):
    """A handler filter: escapes the control characters of each record's message and text arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        record.msg = _escaped(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _escaped(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_escaped(value) for value in record.args)
        return True
