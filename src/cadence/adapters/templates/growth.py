"""How large a filter's arguments can make its result, known before the filter runs.

The size check after a filter (:func:`.limits.check_size`) comes too late for a filter whose
arguments multiply its work: ``{{ x | tojson(indent=100000000) }}`` pads every line of its output
with a hundred million spaces, gigabytes allocated before the result could be measured. So the
sandbox asks :func:`result_bound` first and refuses the call when the bound passes the limit.

The bound covers what the arguments add. What a filter does to its input by a fixed factor
(escaping, a link's address written twice) stays bounded by the input's own size limit and is
checked after the filter, as for every other filter.

Every built-in Jinja filter is named in :data:`BOUNDS` (the result grows with an argument;
bounded here), in :data:`BOUNDED_IN_SANDBOX` (bounded by the sandbox's own checks of widths,
formats, replacements and joins) or in :data:`NO_GROWTH` (no argument can make the result more
than a fixed multiple of the input). ``tests/security`` checks that the three name
every filter Jinja has, so that a new filter in a Jinja upgrade is looked at before it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cadence.adapters.templates.limits import max_chars, weight


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any) -> Any:
    """The argument at ``index`` after the value, or the keyword ``name``, or ``default``."""
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _pad_length(indent: Any) -> int:
    """The characters one level of ``indent`` adds (``json.dumps`` takes a number or a text)."""
    if isinstance(indent, str):
        return len(indent)
    if isinstance(indent, int):
        return max(indent, 0)
    return 0


def _json_layout(value: Any, limit: int) -> tuple[int, int]:
    """(lines, deepest level) of ``value`` as indented JSON, counting no further than just past ``limit``."""
    lines, deepest = 1, 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack and lines <= limit:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if children:
            lines += len(children) + 1
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in children)
    return lines, deepest


def tojson_bound(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """``tojson(indent)``: every line of the output is indented by its depth times ``indent``."""
    limit = max_chars()
    indent = _arg(args, kwargs, 0, "indent", None)
    size = weight(value, limit)
    if indent is None:
        return size
    lines, deepest = _json_layout(value, limit)
    return size + lines * (1 + deepest * _pad_length(indent))


def wordwrap_bound(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """``wordwrap(width, ..., wrapstring)``: ``wrapstring`` is written between every two lines."""
    text = value if isinstance(value, str) else str(value)
    width = _arg(args, kwargs, 0, "width", 79)
    wrapstring = _arg(args, kwargs, 2, "wrapstring", None)
    if not isinstance(width, int) or width < 1:
        return len(text)  # textwrap refuses it before doing any work
    # A line holds at least one word, or one piece of a word broken at a hyphen or at the width.
    lines = len(text.split()) + len(text) // width + text.count("-") + len(text.splitlines()) + 1
    return len(text) + lines * len(str(wrapstring) if wrapstring is not None else "\n")


_LINK_MARKUP = len('<a href="" rel="" target=""></a>') + len("nofollow noopener")


def urlize_bound(value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """``urlize(..., target, rel)``: ``target`` and ``rel`` are written into every link."""
    text = value if isinstance(value, str) else str(value)
    target = _arg(args, kwargs, 2, "target", None)
    rel = _arg(args, kwargs, 3, "rel", None)
    links = len(text.split())
    per_link = _LINK_MARKUP + len(str(target or "")) + len(str(rel or ""))
    return len(text) + links * per_link


BOUNDS: dict[str, Callable[[Any, tuple[Any, ...], Mapping[str, Any]], int]] = {
    "tojson": tojson_bound,
    "wordwrap": wordwrap_bound,
    "urlize": urlize_bound,
}
"""The filters whose result grows with an argument: each with an upper bound of its result's size."""

BOUNDED_IN_SANDBOX = frozenset(
    {"center", "wordwrap", "truncate", "batch", "slice", "indent", "format", "replace", "join"}
)
"""The filters whose widths, counts or texts the sandbox bounds itself (see ``_precheck_filter``)."""

NO_GROWTH = frozenset(
    {
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "filesizeformat",
        "first", "float", "forceescape", "groupby", "int", "items", "last", "length", "list", "lower",
        "map", "max", "min", "pprint", "random", "reject", "rejectattr", "reverse", "round", "safe",
        "select", "selectattr", "sort", "string", "striptags", "sum", "title", "trim", "unique",
        "upper", "urlencode", "wordcount", "xmlattr",
    }
)  # fmt: skip
"""The filters no argument can make larger than a fixed multiple of their input (``map`` and
``select`` call other filters and tests, which are bounded on their own)."""


def result_bound(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """An upper bound of the size of filter ``name``'s result given these arguments, or None when
    no argument of that filter can make it grow."""
    bound = BOUNDS.get(name)
    return None if bound is None else bound(value, args, kwargs)
