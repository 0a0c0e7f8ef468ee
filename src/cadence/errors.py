"""Errors that cadence raises on purpose.

Every error a user can cause is a subclass of :class:`CadenceError`; the CLI prints its message
(never a traceback) and exits with :attr:`CadenceError.exit_code`.
"""

from __future__ import annotations


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
