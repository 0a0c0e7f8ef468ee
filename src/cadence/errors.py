"""Errors that cadence raises on purpose.

Every error a user can cause is a subclass of :class:`CadenceError`; the CLI prints its message
(never a traceback) and exits with :attr:`CadenceError.exit_code`.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable


class CadenceError(Exception):
    """Something went wrong in cadence."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ValidationError(CadenceError):
    """An input is not valid."""


class ConfigurationError(CadenceError):
    """A configuration file (cadence, qualification rules, settings) is not valid."""


class InvalidTransition(CadenceError):
    """That change of enrollment state is not allowed."""


class NotFound(CadenceError):
    """No such record."""


class AlreadyExists(CadenceError):
    """That record exists already."""


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel = 2
_SHOWN.maxstring = _SHOWN.maxother = _SHOWN.maxlong = 60
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = _SHOWN.maxfrozenset = 4


def shown(value: object) -> str:
    """A short ``repr`` of a value for an error message: long text is cut, deep or huge structures are elided.

    Safe on anything a user can give: 100 kB of text, a list nested a million times by YAML
    aliases, or a number too large for Python to print in decimal.
    """
    try:
        return _SHOWN.repr(value)
    except ValueError:  # an int of more than 4,300 digits cannot be written in decimal
        return "a number too large to show"


def shown_keys(keys: Iterable[object]) -> str:
    """Keys for an error message, sorted: text as it is (cut short), anything else :func:`shown`; at most ten."""
    names = sorted(key[:60] if isinstance(key, str) else shown(key) for key in keys)
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def database_problem(exc: BaseException) -> str:
    """What the database (or its driver) said about a failed statement: its first line, without the SQL."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
