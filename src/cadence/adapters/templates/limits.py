"""What one render may spend (steps, template loads, text, time) and the size bounds of values.

The sandbox (:mod:`.sandbox`) calls these before and after every loop step, call, filter and
operator; the budget of the render under way is in a context variable.
"""

from __future__ import annotations

import contextvars
import re
import string
import time
import types
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext

MAX_RANGE = 1000
"""The most items a template's ``range()`` may produce."""

MAX_STEPS = 100_000
"""The most loop iterations, calls, filters and operators one render may run."""

MAX_INCLUDES = 1000
"""The most includes, imports and extends one render may run (a backstop: self-inclusion stops sooner)."""

MAX_SECONDS = 3.0
"""The most CPU time one render may spend: its own thread's (``time.thread_time``), so that a loaded machine
or other threads holding the GIL never fail a render that is slow only because it waited."""

MAX_WIDTH = 1000
"""The widest padding a template may ask for (``center``, ``indent``, format widths, ``batch``)."""

MAX_INT_BITS = 4096
"""The largest integer (in bits) that ``*`` and ``**`` may produce."""

_PRODUCED_FACTOR = 5  # text produced along the way (macros, set blocks) may be this many times the output


class Budget:
    """What one render may still spend: steps, template loads, produced text and time."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.steps = 0
        self.loads = 0
        self.produced = 0
        self.deadline = time.thread_time() + MAX_SECONDS

    def step(self) -> None:
        """Count one loop iteration, call, filter or operator; refuse one too many, or past the CPU-time limit."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SecurityError(f"the template ran more than {MAX_STEPS} steps (loops, calls, filters)")
        if time.thread_time() > self.deadline:
            raise SecurityError(f"the template took more than {MAX_SECONDS:g} seconds of CPU time")

    def load(self) -> None:
        """Count one include, import or extends."""
        self.loads += 1
        if self.loads > MAX_INCLUDES:
            raise SecurityError(f"more than {MAX_INCLUDES} includes, imports or extends (a template including itself?)")

    def charge(self, chars: int) -> None:
        """Count ``chars`` characters of text produced along the way."""
        self.produced += chars
        limit = self.max_chars * _PRODUCED_FACTOR
        if self.produced > limit:
            raise SecurityError(f"the template produced more than {limit} characters of text")


BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("cadence_template_budget", default=None)
_DEFAULT_MAX_CHARS = 200_000


def max_chars() -> int:
    """The most characters a rendered part or value may have in the render under way."""
    budget = BUDGET.get()
    return budget.max_chars if budget is not None else _DEFAULT_MAX_CHARS


def step() -> None:
    """Count one step against the budget of the render under way (if any)."""
    budget = BUDGET.get()
    if budget is not None:
        budget.step()


SCALARS = (str, int, float, Decimal, date, datetime, time_of_day, type(None))
_CONTAINERS = (list, tuple, set, frozenset, dict)
_SCALAR_TYPES = frozenset(SCALARS)


def weight(value: Any, limit: int) -> int:
    """About how many characters ``str(value)`` has, counting no further than just past ``limit``."""
    if type(value) is str:  # what nearly every filter is given and returns
        return len(value) + 1
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item) + 1
        elif isinstance(item, dict):
            total += len(item) + 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item) + 1
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        else:
            total += 1
    return total


def check_size(value: Any, what: str) -> Any:
    """``value``, unless it is longer than :func:`max_chars` (then a ``SecurityError`` naming ``what``)."""
    limit = max_chars()
    if weight(value, limit) > limit:
        raise SecurityError(f"{what} would be longer than {limit} characters")
    return value


def refuse_size(size: int, what: str) -> None:
    """Refuse ``what`` when its ``size`` would pass :func:`max_chars`."""
    limit = max_chars()
    if size > limit:
        raise SecurityError(f"{what} would be longer than {limit} characters")


def check_width(value: Any, what: str) -> None:
    """Refuse a width or padding wider than :data:`MAX_WIDTH`."""
    if isinstance(value, int) and abs(value) > MAX_WIDTH:
        raise SecurityError(f"{what} of {value} is too wide (at most {MAX_WIDTH})")


def is_plain(value: Any) -> bool:
    """Data a template may print or format: text, numbers, dates, and containers of them."""
    if type(value) in _SCALAR_TYPES:
        return True
    stack = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > 100_000:
            return False
        if isinstance(item, (*SCALARS, jinja2.Undefined)):
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            stack.extend(item)
        else:
            return False
    return True


_DICT_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))


def is_filterable(value: Any) -> bool:
    """What a filter may take: plain data, or an iterator over it (``map``, ``select``, ``range``...)."""
    if isinstance(value, LoopContext):
        return False
    if isinstance(value, (range, *_DICT_VIEWS, Iterator)):
        return True
    return is_plain(value)


def describe(value: Any) -> str:
    """What ``value`` is, in words for an error message (never its text, nor an address)."""
    if isinstance(value, types.GeneratorType | map | filter):
        return "a sequence still being computed (add | list or | join)"
    if callable(value):
        return "a function or class"
    return f"a {type(value).__name__} object"


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _args_weight(args: Iterable[Any], limit: int) -> int:
    return max((weight(a, limit) for a in args), default=0)


def percent_size(fmt: str, values: Any) -> int:
    """An upper bound for the length of ``fmt % values``; refuses dynamic and huge widths."""
    limit = max_chars()
    specs = _PERCENT_SPEC.findall(fmt)
    widest = 0
    for width, precision in specs:
        if "*" in (width, precision):
            raise SecurityError("a format with a width taken from the arguments ('*') is not allowed")
        widest = max(widest, int(width or 0), int(precision or 0))
    if widest > MAX_WIDTH:
        raise SecurityError(f"a format width of {widest} is too wide (at most {MAX_WIDTH})")
    if isinstance(values, Mapping):
        heaviest = _args_weight(values.values(), limit)
    elif isinstance(values, tuple):
        heaviest = _args_weight(values, limit)
    else:
        heaviest = weight(values, limit)
    return len(fmt) + len(specs) * (heaviest + widest)


def format_size(fmt: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """An upper bound for the length of ``fmt.format(*args, **kwargs)``."""
    limit = max_chars()
    fields = 0
    widest = 0
    for _literal, field, spec, _conversion in string.Formatter().parse(fmt):
        if field is None:
            continue
        fields += 1
        if spec and ("{" in spec or "}" in spec):
            raise SecurityError("a format with a width taken from the arguments ('{...}') is not allowed")
        for number in re.findall(r"\d+", spec or ""):
            widest = max(widest, int(number))
    if widest > MAX_WIDTH:
        raise SecurityError(f"a format width of {widest} is too wide (at most {MAX_WIDTH})")
    check_format_values((*args, *kwargs.values()))
    heaviest = _args_weight((*args, *kwargs.values()), limit)
    return len(fmt) + fields * (heaviest + widest)


def check_format_values(values: Iterable[Any]) -> None:
    """Values given to a format: plain data, and no None (it would print as "None")."""
    for value in values:
        if value is None:
            raise SecurityError("formatted an empty value (None): use | default(...)")
        if not is_plain(value):
            raise SecurityError(f"cannot format {describe(value)}")


def replace_size(text: str, old: str, new: str, count: int | None) -> int:
    """An upper bound for the length of ``text.replace(old, new, count)``."""
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(0, len(new) - len(old))
