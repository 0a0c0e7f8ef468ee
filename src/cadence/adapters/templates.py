"""Message templates: emails and rep tasks, written by marketers in Jinja, rendered in a sandbox.

A template named ``NAME`` is the file ``FOLDER/NAME.j2`` (``email/introduction`` is
``templates/email/introduction.j2``). A template whose last part starts with ``_``
(``email/_footer.txt``) is a partial: other templates use it, it is never a message itself.
``{% include %}``, ``{% import %}`` and ``{% extends %}`` take the same names (``.j2`` may be left out).
``trim_blocks`` and ``lstrip_blocks`` are on: a line holding only a ``{% tag %}`` leaves no blank line.

Emails
    An email template has the blocks ``{% block subject %}``, ``{% block text %}`` and, optionally,
    ``{% block html %}``. Each block is rendered on its own; ``{% set %}``, ``{% import %}`` and
    macros at the top level of the file are visible in every block. The subject is made one line
    (whitespace collapsed, at most 250 characters). The plain-text body gets
    ``email/_footer.txt.j2`` appended; the HTML body is wrapped in ``email/_layout.html.j2``, which
    receives it as ``body`` (already HTML) with all the variables below. Both footers must show the
    unsubscribe link and our postal address (CAN-SPAM): rendering refuses an email whose text or
    HTML lacks ``unsubscribe_url`` or a line of ``company.postal_address``.
    Every email has a plain-text part. The HTML part has its CSS inlined (``css_inline``): the rules
    of ``<style>`` elements become ``style=""`` attributes, because many mail clients drop
    ``<style>``; at-rules that cannot be inlined (``@media``, ``@font-face``) stay in a ``<style>``
    element. ``<link rel="stylesheet">`` elements are removed and never loaded.

Tasks
    ``calls/``, ``linkedin/``, ``research/``, ``postcards/`` and ``digest/`` templates are plain
    text for the rep, rendered whole (:meth:`Templates.render_text`).

Escaping
    The HTML block and the layout are rendered with HTML autoescaping: a lead called
    ``<script>`` shows as ``&lt;script&gt;``. The subject, the text body and task templates are
    not escaped (they are plain text).

The variables (the contract between cadence and the people who write templates)
    Every optional value that is absent is ``None`` (never missing), so that
    ``{{ lead.first_name | default("there") }}`` works; ``default`` here also replaces ``None``
    and ``""``. Printing ``None`` is an error (``{{ lead.title }}`` for a lead without a title),
    and so is giving it to ``~``, to a format or to a filter other than ``default``: write
    ``{{ lead.title | default("...") }}`` or ``{% if lead.title %}...{% endif %}``, so that
    :meth:`Templates.check` catches the mistake instead of an email saying "None".
    Misspelt names are errors too (``{{ lead.frist_name }}``). The caller's values are copied as
    plain data (mappings, lists, text, numbers, dates; any other object becomes its text).

    ``lead``
        ``email`` (always set), ``first_name``, ``last_name``, ``full_name`` (first and last name,
        or None), ``title``, ``company`` (their company), ``industry``, ``company_size`` (int),
        ``phone``, ``linkedin_url``, ``city``, ``region``, ``country`` (2 letters), ``timezone``,
        ``source`` (how they came to us: ``contact_request``, ``demo_request``, ``form_fill``,
        ``webinar``, ``content_download``, ``target_page_visit``, ``email_open``,
        ``target_list``...), ``interactions`` (int: how many times they interacted with us),
        ``address_lines`` (list of str: their postal address, printable lines, maybe empty),
        ``custom`` (mapping of the import's custom columns, maybe empty:
        ``lead.custom.topic | default("...")``; use ``lead.custom["items"]`` for a column named
        like a mapping method: ``items``, ``keys``, ``values``, ``get``).
    ``owner``
        The rep who owns the lead: ``name``, ``first_name``, ``email``, ``signature`` (multi-line
        text under the name, e.g. title and phone; may be None).
    ``company``
        Our company, the sender: ``name``, ``website``, ``postal_address`` (may span lines),
        ``benefit`` (optional: one sentence saying what we do for customers, used when an email
        re-introduces us).
    ``step``
        The cadence step: ``number`` (1-based), ``day``, ``channel``, ``total_steps``,
        ``previous_subject`` (subject of the last email sent to this lead, or None),
        ``instructions`` (the step's ``instructions`` in the cadence file, or None).
    ``unsubscribe_url``
        The lead's unsubscribe link (emails).
    ``qualifying_questions``
        List of str: the questions a meeting must answer before it goes to sales.
    ``today``
        Today's date, as text (``2025-03-14``). The rep digest (``digest/rep``) receives a list of
        tasks under this name instead (see below).

    ``digest/rep`` receives ``rep`` (the rep's name, or a mapping with ``name``), ``overdue`` and
    ``today``: lists of tasks, each a mapping with ``lead_name``, ``lead_email``, ``company``,
    ``channel``, ``due_at``, ``instructions_first_line``, ``class`` (and optionally ``title`` and
    ``owner``); optionally ``date`` (the rep's local date) and ``escalation`` (true for the copy
    that goes to the manager).

The sandbox
    Templates run in Jinja's immutable sandbox with strict undefined variables: no access to
    ``_private`` attributes, no changing lists or dicts. On top of it, rendering is bounded: at most
    ``max_output_chars`` characters per rendered part and per value, ``range()`` of at most
    :data:`MAX_RANGE` items, :data:`MAX_STEPS` loop iterations and calls, :data:`MAX_INCLUDES`
    template loads and :data:`MAX_SECONDS` seconds per render, format widths of at most
    :data:`MAX_WIDTH`; a template that includes or calls itself without end stops at Python's
    recursion limit. Functions and objects cannot be printed, formatted or filtered (no class
    names or addresses leak into a message); ``cycler`` and ``lipsum`` are not available. Every fault becomes a
    :class:`TemplateError` naming the file and line. This guards against mistakes and casual
    abuse by template authors; it is not an operating-system sandbox (run untrusted authors'
    templates in a separate, resource-limited process).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import re
import string
import time
import types
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import css_inline
import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from markupsafe import Markup, escape

from cadence.errors import CadenceError

__all__ = [
    "DIGEST_VARIABLES",
    "LAYOUT_VARIABLES",
    "MAX_INCLUDES",
    "MAX_RANGE",
    "MAX_SECONDS",
    "MAX_STEPS",
    "MAX_SUBJECT_CHARS",
    "MAX_TEMPLATE_BYTES",
    "MAX_WIDTH",
    "MESSAGE_VARIABLES",
    "VARIABLE_KEYS",
    "RenderedEmail",
    "TemplateError",
    "TemplateProblem",
    "Templates",
    "sample_variables",
]

MAX_SUBJECT_CHARS = 250
"""The longest subject; a longer one is cut at a word boundary and ends with an ellipsis."""

MAX_RANGE = 1000
"""The most items a template's ``range()`` may produce."""

MAX_STEPS = 100_000
"""The most loop iterations, calls, filters and operators one render may run."""

MAX_INCLUDES = 1000
"""The most includes, imports and extends one render may run (a backstop: self-inclusion stops sooner)."""

MAX_SECONDS = 3.0
"""The longest one render may take."""

MAX_WIDTH = 1000
"""The widest padding a template may ask for (``center``, ``indent``, format widths, ``batch``)."""

MAX_TEMPLATE_BYTES = 1_000_000
"""The largest template file read."""

MAX_INT_BITS = 4096
"""The largest integer (in bits) that ``*`` and ``**`` may produce."""

LAYOUT = "email/_layout.html"
FOOTER = "email/_footer.txt"
SUFFIX = ".j2"

_PRODUCED_FACTOR = 5  # text produced along the way (macros, set blocks) may be this many times the output
_INLINE_FACTOR = 250  # (tags x characters of <style>) may be this many times the output: bounds CSS inlining


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


# -- Limits, per render -----------------------------------------------------------------------


class _Budget:
    """What one render may still spend: steps, template loads, produced text and time."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.steps = 0
        self.loads = 0
        self.produced = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SecurityError(f"the template ran more than {MAX_STEPS} steps (loops, calls, filters)")
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template took longer than {MAX_SECONDS:g} seconds")

    def load(self) -> None:
        self.loads += 1
        if self.loads > MAX_INCLUDES:
            raise SecurityError(f"more than {MAX_INCLUDES} includes, imports or extends (a template including itself?)")

    def charge(self, chars: int) -> None:
        self.produced += chars
        limit = self.max_chars * _PRODUCED_FACTOR
        if self.produced > limit:
            raise SecurityError(f"the template produced more than {limit} characters of text")


_R = TypeVar("_R")

_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("cadence_template_budget", default=None)
_DEFAULT_MAX_CHARS = 200_000


def _max_chars() -> int:
    budget = _BUDGET.get()
    return budget.max_chars if budget is not None else _DEFAULT_MAX_CHARS


def _step() -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()


_SCALARS = (str, int, float, Decimal, date, datetime, time_of_day, type(None))
_CONTAINERS = (list, tuple, set, frozenset, dict)
_SCALAR_TYPES = frozenset(_SCALARS)


def _weight(value: Any, limit: int) -> int:
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


def _check_size(value: Any, what: str) -> Any:
    limit = _max_chars()
    if _weight(value, limit) > limit:
        raise SecurityError(f"{what} would be longer than {limit} characters")
    return value


def _refuse_size(size: int, what: str) -> None:
    limit = _max_chars()
    if size > limit:
        raise SecurityError(f"{what} would be longer than {limit} characters")


def _check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and abs(value) > MAX_WIDTH:
        raise SecurityError(f"{what} of {value} is too wide (at most {MAX_WIDTH})")


def _is_plain(value: Any) -> bool:
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
        if isinstance(item, (*_SCALARS, jinja2.Undefined)):
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


def _is_filterable(value: Any) -> bool:
    """What a filter may take: plain data, or an iterator over it (``map``, ``select``, ``range``...)."""
    if isinstance(value, LoopContext):
        return False
    if isinstance(value, (range, *_DICT_VIEWS, Iterator)):
        return True
    return _is_plain(value)


def _describe(value: Any) -> str:
    if isinstance(value, types.GeneratorType | map | filter):
        return "a sequence still being computed (add | list or | join)"
    if callable(value):
        return "a function or class"
    return f"a {type(value).__name__} object"


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _args_weight(args: Iterable[Any], limit: int) -> int:
    return max((_weight(a, limit) for a in args), default=0)


def _percent_size(fmt: str, values: Any) -> int:
    """An upper bound for the length of ``fmt % values``; refuses dynamic and huge widths."""
    limit = _max_chars()
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
        heaviest = _weight(values, limit)
    return len(fmt) + len(specs) * (heaviest + widest)


def _format_size(fmt: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """An upper bound for the length of ``fmt.format(*args, **kwargs)``."""
    limit = _max_chars()
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
    _check_format_values((*args, *kwargs.values()))
    heaviest = _args_weight((*args, *kwargs.values()), limit)
    return len(fmt) + fields * (heaviest + widest)


def _check_format_values(values: Iterable[Any]) -> None:
    """Values given to a format: plain data, and no None (it would print as "None")."""
    for value in values:
        if value is None:
            raise SecurityError("formatted an empty value (None): use | default(...)")
        if not _is_plain(value):
            raise SecurityError(f"cannot format {_describe(value)}")


def _replace_size(text: str, old: str, new: str, count: int | None) -> int:
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(0, len(new) - len(old))


# -- The guarded filters, globals and environment ---------------------------------------------


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's ``default``, which also replaces None and the empty string."""
    if isinstance(value, jinja2.Undefined) or value is None or (isinstance(value, str) and value == ""):
        return default_value
    if boolean and not value:
        return default_value
    return value


def _short_range(*args: int) -> range:
    """``range()`` of at most :data:`MAX_RANGE` items."""
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise SecurityError(f"range() of {size} items is too long (at most {MAX_RANGE})")
    return numbers


def _precheck_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse filter calls on None and on objects, and those whose result would be huge."""
    if value is None and name not in _NONE_FILTERS:
        raise SecurityError(f"the {name} filter was given an empty value (None): use | default(...) before it")
    for item in (value, *args, *kwargs.values()):
        if not _is_filterable(item):
            raise SecurityError(f"the {name} filter cannot take {_describe(item)}")
    _check_size(value, f"the value given to the {name} filter")
    if name in ("center", "wordwrap", "truncate", "batch", "slice"):
        for arg in (*args, *kwargs.values()):
            _check_width(arg, f"{name}()")
    elif name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        _check_width(width, "indent()")
        pad = len(width) if isinstance(width, str) else int(width) if isinstance(width, int) else 0
        text = str(value) if isinstance(value, str) else ""
        _refuse_size(len(text) + (text.count("\n") + 1) * pad, "the indented text")
    elif name == "format":
        if not isinstance(value, str):
            value = str(value)
        values: Any = dict(kwargs) if kwargs else tuple(args)
        _check_format_values((*args, *kwargs.values()))
        _refuse_size(_percent_size(value, values), "the formatted text")
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count")
        _refuse_size(_replace_size(value, str(args[0]), str(args[1]), count), "the replaced text")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter: count it as a step, refuse huge results before and after computing them."""
    offset = 0 if getattr(func, "jinja_pass_arg", None) is None else 1

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _step()
        if len(args) > offset:
            value = args[offset]
            if name == "join" and value is not None and not isinstance(value, jinja2.Undefined):
                value = list(value)
                size = _weight(value, _max_chars()) + len(value) * len(
                    str(args[offset + 1] if len(args) > offset + 1 else kwargs.get("d", ""))
                )
                _refuse_size(size, "the joined text")
                args = (*args[:offset], value, *args[offset + 1 :])
            _precheck_filter(name, value, tuple(args[offset + 1 :]), kwargs)
        return _check_size(func(*args, **kwargs), f"the result of the {name} filter")

    return guarded


_NONE_FILTERS = frozenset({"default", "d", "tojson", "pprint", "int", "float"})
"""The filters that may be given None; any other filter would turn it into the text "None"."""

_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_STR_REFUSED_METHODS = frozenset({"expandtabs", "translate", "maketrans"})


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Check every ``{{ value }}`` before it is printed: no None, no objects, not too long."""
    if value is None:
        raise SecurityError("printed an empty value (None): use | default(...) or {% if ... %}")
    if isinstance(value, jinja2.Undefined):
        return value
    if not _is_plain(value):
        raise SecurityError(f"cannot print {_describe(value)}")
    limit = _max_chars()
    size = _weight(value, limit)
    if size > limit:
        raise SecurityError(f"a printed value is longer than {limit} characters")
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge(size)
    return value


class _Blocks(dict[str, list[Any]]):
    """A context's block stacks where blocks added by a parent template start silenced."""

    def setdefault(self, key: str, default: list[Any] | None = None) -> list[Any]:
        if key not in self:
            self[key] = [_silent_block]
        return self[key]


def _silent_block(context: Context) -> Iterator[str]:
    return iter(())


class _GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with loops, ``~`` and literal text counted against the budget."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        counted = (
            isinstance(node.iter, nodes.Call)
            and isinstance(node.iter.node, nodes.EnvironmentAttribute)
            and node.iter.node.name == "counted_iter"
        )
        if not counted:
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("counted_iter", lineno=node.iter.lineno),
                [node.iter],
                [],
                None,
                None,
                lineno=node.iter.lineno,
            )
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.checked_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        size = sum(len(child.data) for child in node.nodes if isinstance(child, nodes.TemplateData))
        if size:
            self.writeline(f"environment.charge({int(size)})")
        super().visit_Output(node, frame)


class _FolderLoader(jinja2.BaseLoader):
    """Loads ``NAME`` (or ``NAME.j2``) from ``folder/NAME.j2``, never from outside the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.root = folder.resolve()

    def path_of(self, name: str) -> Path:
        if not name.endswith(SUFFIX):
            name += SUFFIX
        _check_name(name)
        path = self.folder.joinpath(*PurePosixPath(name).parts)
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise TemplateNotFound(name, f"template {name!r} is outside the templates folder")
        return path

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.path_of(template)
        try:
            stat = path.stat()
            if stat.st_size > MAX_TEMPLATE_BYTES:
                raise SecurityError(f"{path} is larger than {MAX_TEMPLATE_BYTES} bytes")
            source = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise TemplateNotFound(template, f"template {template!r} not found ({path})") from None
        except UnicodeDecodeError as exc:
            raise SecurityError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise TemplateNotFound(template, f"template {template!r} cannot be read ({exc.strerror})") from None
        signature = (stat.st_mtime_ns, stat.st_size)

        def uptodate() -> bool:
            try:
                now = path.stat()
            except OSError:
                return False
            return (now.st_mtime_ns, now.st_size) == signature

        return source, str(path), uptodate


_MARKUP_START = re.compile(r"<(?:!--|!|/?[A-Za-z])")
_TAG = re.compile(r"""<(/?)([A-Za-z][^\s/>]*)((?:\s+[^\s"=>]+(?:="[^"]*")?)*)(\s*/?>)""")
_ATTRIBUTE_VALUE = re.compile(r'="([^"]*)"')
_BRACKET_IN_VALUE = re.compile(r'="[^"]*[<>]')
_RAW_TEXT_ELEMENTS = frozenset({"style", "script", "xmp", "iframe", "noembed", "noframes", "plaintext", "noscript"})


def _escape_attribute_brackets(html: str) -> str:
    """Escape ``<`` and ``>`` inside attribute values of HTML serialized by ``css_inline``.

    Its serializer leaves them bare in attributes (``href="?a=&quot;><script>"``), which is valid
    HTML but not what the renderer promises: no markup a lead's value brought in shows as markup.
    Text, comments and the content of ``<style>`` and ``<script>`` elements are left as they are.
    """
    if _BRACKET_IN_VALUE.search(html) is None:  # no attribute value holds a bracket: nothing to escape
        return html
    out: list[str] = []
    pos = 0
    size = len(html)
    while pos < size:
        found = _MARKUP_START.search(html, pos)
        if found is None:
            out.append(html[pos:])
            break
        start = found.start()
        out.append(html[pos:start])
        if found.group() == "<!--":
            end = html.find("-->", start + 4)
            pos = size if end < 0 else end + 3
            out.append(html[start:pos])
            continue
        tag = _TAG.match(html, start)
        if tag is None:  # a doctype, or markup the serializer would not write: copy up to its end
            end = html.find(">", start)
            pos = size if end < 0 else end + 1
            out.append(html[start:pos])
            continue
        attributes = _ATTRIBUTE_VALUE.sub(
            lambda m: '="' + m.group(1).replace("<", "&lt;").replace(">", "&gt;") + '"', tag.group(3)
        )
        out.append(f"<{tag.group(1)}{tag.group(2)}{attributes}{tag.group(4)}")
        pos = tag.end()
        element = tag.group(2).lower()
        if not tag.group(1) and element in _RAW_TEXT_ELEMENTS:
            close = re.compile(rf"</{re.escape(element)}[\s/>]", re.IGNORECASE).search(html, pos)
            end = size if close is None else close.start()
            out.append(html[pos:end])
            pos = end
    return "".join(out)


def _check_name(name: str) -> None:
    """Refuse names that are empty, absolute, or climb out of the folder."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise TemplateNotFound(name, f"template name {name!r} is not a relative name")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise TemplateNotFound(name, f"template name {name!r} must not contain empty, '.' or '..' parts")


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox: immutable, strict, and bounded in time, size and depth."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, loader: _FolderLoader, *, autoescape: bool) -> None:
        super().__init__(
            loader=loader,
            autoescape=autoescape,
            undefined=jinja2.StrictUndefined,
            finalize=_finalize,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=True,
            cache_size=400,
        )
        for name in ("cycler", "lipsum"):
            self.globals.pop(name, None)
        self.globals["range"] = _short_range
        self.filters["default"] = _default
        self.filters["d"] = _default
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}

    # Called by the generated code (see _GuardedCodeGenerator).
    def counted_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Iterate, counting each iteration as a step."""
        for item in iterable:
            _step()
            yield item

    def checked_concat(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        """The ``~`` operator: no None, no objects, and no result longer than the limit."""
        _step()
        for part in parts:
            if part is None:
                raise SecurityError("joined an empty value (None) with ~: use | default(...)")
            if not _is_plain(part):
                raise SecurityError(f"cannot join {_describe(part)} with ~")
        limit = _max_chars()
        _refuse_size(sum(_weight(part, limit) for part in parts), "the joined text (~)")
        return join(parts)

    def charge(self, chars: int) -> None:
        """Count literal template text as it is produced."""
        budget = _BUDGET.get()
        if budget is not None:
            budget.charge(chars)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``+`` and ``%``, refusing results that would be huge."""
        _step()
        if operator == "**" and _is_int(left) and _is_int(right):
            if right > 0 and abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
                raise SecurityError(f"{left} ** {right} is too large a number")
        elif operator == "*":
            if _is_int(left) and _is_int(right):
                if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                    raise SecurityError("the product is too large a number")
            else:
                times, other = (right, left) if _is_int(right) else (left, right)
                if _is_int(times) and times > 0:
                    _refuse_size(_weight(other, _max_chars()) * times, "the repeated value (*)")
        elif operator == "%" and isinstance(left, str):
            values = right.values() if isinstance(right, Mapping) else right if isinstance(right, tuple) else (right,)
            _check_format_values(values)
            _refuse_size(_percent_size(left, right), "the formatted text (%)")
        result = super().call_binop(context, operator, left, right)
        return _check_size(result, f"the result of {operator}")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map``, sandboxed by Jinja, with widths and size bounded."""
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        fmt = str(value.__self__)
        is_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            values: Mapping[str, Any] = args[0] if is_map and args and isinstance(args[0], Mapping) else kwargs
            _refuse_size(_format_size(fmt, () if is_map else args, values), "the formatted text")
            return _check_size(formatter(*args, **kwargs), "the formatted text")  # type: ignore[no-any-return]

        return functools.update_wrapper(bounded, formatter)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Every call a template makes: counted, and refused when its result would be huge."""
        _step()
        owner = getattr(obj, "__self__", None)
        method = getattr(obj, "__name__", "")
        if isinstance(owner, str):
            limit = _max_chars()
            if method in _STR_REFUSED_METHODS:
                raise SecurityError(f"str.{method}() is not allowed in templates")
            if method in _STR_WIDTH_METHODS and args:
                _check_width(args[0], f"str.{method}()")
            elif method == "replace" and len(args) >= 2:
                count = args[2] if len(args) > 2 else None
                _refuse_size(_replace_size(owner, str(args[0]), str(args[1]), count), "the replaced text")
            elif method == "join" and args:
                items = list(args[0])
                _refuse_size(_weight(items, limit) + len(items) * len(owner), "the joined text")
                args = (items, *args[1:])
        elif isinstance(obj, LoopContext) and args:
            args = (self.counted_iter(args[0]), *args[1:])
        result = super().call(context, obj, *args, **kwargs)
        return _check_size(result, "the result of a call")

    def _load_template(self, name: str, globals: Any) -> jinja2.Template:
        budget = _BUDGET.get()
        if budget is not None:
            budget.load()
        return super()._load_template(name, globals)


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


# -- Variables --------------------------------------------------------------------------------

_LEAD_KEYS = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "title",
    "company",
    "industry",
    "company_size",
    "phone",
    "linkedin_url",
    "city",
    "region",
    "country",
    "timezone",
    "source",
    "interactions",
    "class",
)
_OWNER_KEYS = ("name", "first_name", "email", "signature")
_COMPANY_KEYS = ("name", "website", "postal_address", "benefit")
_STEP_KEYS = ("number", "day", "channel", "total_steps", "previous_subject", "instructions")

MESSAGE_VARIABLES = frozenset({"lead", "owner", "company", "step", "unsubscribe_url", "qualifying_questions", "today"})
"""The variables every email and task template receives (see the module documentation)."""

DIGEST_VARIABLES = frozenset({"rep", "overdue", "today", "date", "escalation", "company"})
"""The variables the rep digest (``digest/`` templates) receives instead."""

LAYOUT_VARIABLES = frozenset({"body"})
"""What the email layout (``email/_layout.html``) receives on top of :data:`MESSAGE_VARIABLES`."""

VARIABLE_KEYS: Mapping[str, frozenset[str]] = types.MappingProxyType(
    {
        "lead": frozenset((*_LEAD_KEYS, "address_lines", "custom")),
        "owner": frozenset(_OWNER_KEYS),
        "company": frozenset(_COMPANY_KEYS),
        "step": frozenset(_STEP_KEYS),
    }
)
"""The keys of the mapping variables; any key of ``lead.custom`` may be used."""


def _plain(value: Any, depth: int = 0) -> Any:
    """A copy made only of plain data (dict, list, str, numbers, dates, None)."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, _SCALARS):
        return value
    if depth > 20:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def _with_keys(value: Any, keys: Sequence[str]) -> dict[str, Any]:
    result = dict(value) if isinstance(value, dict) else {}
    for key in keys:
        result.setdefault(key, None)
    return result


def _prepare(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's variables as plain data, with every documented optional value present (None)."""
    data: dict[str, Any] = _plain(variables)
    if "lead" in data:
        lead = _with_keys(data["lead"], _LEAD_KEYS)
        if lead.get("custom") is None:
            lead["custom"] = {}
        if lead.get("address_lines") is None:
            lead["address_lines"] = []
        if lead["full_name"] is None:
            lead["full_name"] = " ".join(p for p in (lead["first_name"], lead["last_name"]) if p) or None
        data["lead"] = lead
    if "owner" in data:
        owner = _with_keys(data["owner"], _OWNER_KEYS)
        if owner["first_name"] is None and isinstance(owner["name"], str) and owner["name"].split():
            owner["first_name"] = owner["name"].split()[0]
        data["owner"] = owner
    if "company" in data:
        data["company"] = _with_keys(data["company"], _COMPANY_KEYS)
    if "step" in data:
        data["step"] = _with_keys(data["step"], _STEP_KEYS)
    for key in ("unsubscribe_url", "today"):
        data.setdefault(key, None)
    data.setdefault("qualifying_questions", [])
    return data


def sample_variables() -> list[dict[str, Any]]:
    """Variable sets to try templates with: a complete lead, a lead with nothing optional, a hostile one."""
    company = {
        "name": "Northwind Analytics",
        "website": "https://northwind.example",
        "postal_address": "Northwind Analytics Inc.\n100 Harbor Street, Suite 4\nPortland, OR 97201\nUSA",
        "benefit": "helps B2B sales teams follow up every lead, on time, on every channel",
    }
    questions = [
        "Are you committed to finding a solution this year?",
        "What is the requirement, in your words?",
        "What would the ideal solution look like?",
        "Who decides that a solution has been found?",
        "Who approves the purchase?",
        "What do you expect from a supplier?",
    ]
    tasks = [
        {
            "lead_name": "Ada Lovelace",
            "lead_email": "ada@analytical.example",
            "company": "Analytical Engines Ltd",
            "channel": "call",
            "due_at": "2025-03-14 09:30",
            "instructions_first_line": "Discovery call: fact-finding, not a pitch.",
            "class": "A",
        }
    ]
    complete = {
        "lead": {
            "email": "ada@analytical.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "full_name": "Ada Lovelace",
            "title": "Head of Sales Operations",
            "company": "Analytical Engines Ltd",
            "industry": "manufacturing",
            "company_size": 450,
            "phone": "+44 20 7946 0000",
            "linkedin_url": "https://www.linkedin.com/in/ada-lovelace-example",
            "city": "London",
            "region": "England",
            "country": "GB",
            "timezone": "Europe/London",
            "source": "webinar",
            "interactions": 3,
            "address_lines": ["12 Babbage Row", "London EC1A 1AA, England", "GB"],
            "custom": {"topic": "lead follow-up for small sales teams", "webinar": "Never Lose a Lead"},
        },
        "owner": {
            "name": "Dana Reyes",
            "first_name": "Dana",
            "email": "dana@northwind.example",
            "signature": "Account Executive, Northwind Analytics\n+1 503 555 0100",
        },
        "company": company,
        "step": {
            "number": 3,
            "day": 5,
            "channel": "email",
            "total_steps": 10,
            "previous_subject": "Ada, 15 minutes?",
            "instructions": "Research the lead's company website and LinkedIn profile before the first email.",
        },
        "unsubscribe_url": "https://northwind.example/unsubscribe?token=abc123&lead=42",
        "qualifying_questions": questions,
        "today": "2025-03-14",
        "rep": "Dana Reyes",
        "overdue": tasks,
    }
    missing = {
        "lead": {
            "email": "someone@unknown.example",
            "first_name": None,
            "last_name": None,
            "full_name": None,
            "title": None,
            "company": None,
            "industry": None,
            "company_size": None,
            "phone": None,
            "linkedin_url": None,
            "city": None,
            "region": None,
            "country": None,
            "timezone": None,
            "source": None,
            "interactions": 0,
            "address_lines": [],
            "custom": {},
        },
        "owner": {"name": "Sam Ito", "first_name": None, "email": "sam@northwind.example", "signature": None},
        "company": {
            "name": "Northwind Analytics",
            "website": None,
            "postal_address": "100 Harbor Street, Portland, OR 97201, USA",
            "benefit": None,
        },
        "step": {
            "number": 1,
            "day": 0,
            "channel": "email",
            "total_steps": 1,
            "previous_subject": None,
            "instructions": None,
        },
        "unsubscribe_url": "https://northwind.example/u/1",
        "qualifying_questions": [],
        "today": "2025-03-14",
        "rep": None,
        "overdue": [],
    }
    long_text = "Long" + "x" * 2000
    evil = "<script>alert('x')</script>"
    hostile = {
        "lead": {
            "email": "mallory@evil.example",
            "first_name": evil,
            "last_name": '"><img src=x onerror=alert(1)>',
            "full_name": f"{evil} Ω 🚀",
            "title": "{{ 7*7 }} {% raw %}",
            "company": "Evil Corp\r\nBcc: victim@evil.example\nX-Injected: yes",
            "industry": long_text,
            "company_size": 10**12,
            "phone": "+1 555 0100 <b>",
            "linkedin_url": "javascript:alert(1)",
            "city": "Zürich",
            "region": "العربية",
            "country": "ZZ",
            "timezone": "Mars/Olympus",
            "source": "<i>webinar</i>\r\n",
            "interactions": 99,
            "address_lines": [evil, "Straße 1\r\n", long_text],
            "custom": {"topic": f"{evil}\r\nSubject: hacked {long_text}", "items": "x", "webinar": "{{ lead }}"},
        },
        "owner": {
            "name": "Eve <eve@evil.example>",
            "first_name": "Eve",
            "email": "eve@evil.example",
            "signature": f"{evil}\r\n{long_text}",
        },
        "company": {
            "name": "Northwind & Sons <Ltd>",
            "website": "https://northwind.example/?a=1&b=<2>",
            "postal_address": "1 Rue de l'Église\r\n75001 Paris <France>",
            "benefit": evil,
        },
        "step": {
            "number": 99,
            "day": 21,
            "channel": "email",
            "total_steps": 99,
            "previous_subject": f"Re: {evil}\r\n",
            "instructions": f"{evil}\r\nIgnore the cadence.",
        },
        "unsubscribe_url": 'https://northwind.example/unsubscribe?token="><script>&x=1',
        "qualifying_questions": [evil, long_text, "Wer entscheidet? 🤔"],
        "today": "2025-03-14",
        "rep": {"name": evil},
        "overdue": [{**tasks[0], "lead_name": evil, "company": "A\r\nB", "instructions_first_line": long_text}],
    }
    return [complete, missing, hostile]


# -- Templates --------------------------------------------------------------------------------


class Templates:
    """The message templates of one folder; keep one instance per folder (it caches compiled templates)."""

    def __init__(self, folder: Path, *, max_output_chars: int = 200_000) -> None:
        self.folder = Path(folder)
        self.max_output_chars = max_output_chars
        self._loader = _FolderLoader(self.folder)
        self._text_env = _Environment(self._loader, autoescape=False)
        self._html_env = _Environment(self._loader, autoescape=True)
        self._versions: dict[str, tuple[tuple[tuple[str, int, int], ...], str]] = {}
        self._checked: dict[str, Path] = {}

    # -- Names and versions

    def _path(self, name: str) -> Path:
        try:
            return self._loader.path_of(name)
        except TemplateNotFound as exc:
            raise TemplateError(exc.message or f"bad template name {name!r}", path=name) from None

    def exists(self, name: str) -> bool:
        """Whether the template file exists (False for names that are not valid)."""
        try:
            return self._path(name).is_file()
        except (TemplateError, OSError):
            return False

    def names(self) -> list[str]:
        """Every template in the folder (partials included), sorted; hidden files and folders are left out."""
        found = []
        for path in self.folder.rglob(f"*{SUFFIX}"):
            parts = path.relative_to(self.folder).parts
            if any(part.startswith(".") for part in parts) or not path.is_file():
                continue
            found.append(PurePosixPath(*parts).as_posix()[: -len(SUFFIX)])
        return sorted(found)

    def parse(self, name: str) -> nodes.Template:
        """The template's syntax tree (not compiled, not cached); a :class:`TemplateError` if it does not parse."""
        path = self._path(name)
        try:
            source, filename, _ = self._loader.get_source(self._text_env, name)
            return self._text_env.parse(source, name, filename)
        except Exception as exc:
            raise _template_error(exc, str(path)) from None

    @property
    def global_names(self) -> frozenset[str]:
        """The functions every template may call (``range``, ``dict``, ``namespace``, ``joiner``)."""
        return frozenset(self._text_env.globals)

    def version(self, name: str) -> str:
        """A short hash of the template and of every file it uses (layout, footer, includes)."""
        cached = self._versions.get(name)
        if cached is not None:
            files, digest = cached
            if self._stat_all([f for f, _, _ in files]) == files:
                return digest
        paths = self._dependencies(name)
        files = self._stat_all(paths)
        sha = hashlib.sha256()
        for path in paths:
            relative = Path(path).relative_to(self.folder).as_posix()  # the same wherever the folder is
            sha.update(relative.encode("utf-8") + b"\x00")
            sha.update(self._read(Path(path)) + b"\x00")
        digest = sha.hexdigest()[:12]
        self._versions[name] = (files, digest)
        return digest

    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise TemplateError(f"cannot read it ({exc.strerror})", path=str(path)) from None

    def _stat_all(self, paths: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
        result = []
        for path in paths:
            try:
                stat = Path(path).stat()
            except OSError:
                return ()
            result.append((path, stat.st_mtime_ns, stat.st_size))
        return tuple(result)

    def _dependencies(self, name: str) -> list[str]:
        """The files a template uses: itself, what it includes, imports or extends, and the email layout."""
        todo = [(name, True)]
        if _is_email_name(name):
            todo += [(LAYOUT, True), (FOOTER, True)]
        seen: dict[str, None] = {}
        while todo:
            current, required = todo.pop(0)
            try:
                path = self._path(current)
            except TemplateError:
                if required:
                    raise
                continue  # a bad name in an include: rendering reports it
            key = str(path)
            if key in seen:
                continue
            if not path.is_file():
                if required:
                    raise TemplateError(f"template {current!r} not found", path=key)
                continue
            seen[key] = None
            try:
                source = path.read_text(encoding="utf-8")
                tree = self._text_env.parse(source, current, key)
            except (TemplateSyntaxError, UnicodeDecodeError, OSError):
                continue  # the version still covers the file's bytes; rendering reports the fault
            todo += [(ref, False) for ref in jinja2.meta.find_referenced_templates(tree) if ref is not None]
        return sorted(seen)

    # -- Rendering

    def render_email(self, name: str, variables: Mapping[str, Any]) -> RenderedEmail:
        """Render an email: one-line subject, text body with footer, HTML document (or None)."""
        steps = self.render_email_steps(name, variables)
        while True:
            try:
                next(steps)
            except StopIteration as finished:
                rendered: RenderedEmail = finished.value
                return rendered

    def render_email_steps(self, name: str, variables: Mapping[str, Any]) -> Generator[None, None, RenderedEmail]:
        """:meth:`render_email` in steps of a fraction of a millisecond: a generator that returns the email.

        The caller may let other work run between two steps (an event loop: replies and commits
        waiting on the render); each step runs under the render's one budget.
        """
        self._refuse_partial(name)
        data = _prepare(variables)
        _compliance_values(data, self._fallback_path(name))
        budget = _Budget(self.max_output_chars)

        def step(work: Callable[[], _R]) -> _R:
            token = _BUDGET.set(budget)
            try:
                return work()
            finally:
                _BUDGET.reset(token)

        text_template = step(lambda: self._get(self._text_env, name))
        parts = step(lambda: self._render_blocks(text_template, data, ("subject", "text")))
        if "subject" not in parts or "text" not in parts:
            raise TemplateError(
                "an email template needs {% block subject %} and {% block text %}", path=text_template.filename
            )
        subject = _one_line(parts["subject"])
        if not subject:
            raise TemplateError("the subject is empty", path=text_template.filename)
        yield
        footer = step(lambda: self._render_whole(self._get(self._text_env, FOOTER), data))
        text = f"{_tidy(parts['text'])}\n\n{_tidy(footer)}\n"
        yield
        html_template = step(lambda: self._get(self._html_env, name))
        body = step(lambda: self._render_blocks(html_template, data, ("html",)).get("html"))
        html: str | None = None
        if body is not None:
            yield
            layout = step(lambda: self._get(self._html_env, LAYOUT))
            html = step(lambda: self._render_whole(layout, {**data, "body": Markup(body.strip())}))
        self._check_footer(text_template.filename, data, text, html)
        if html is not None:
            yield
            html = self._inline_css(html, text_template.filename)
        return RenderedEmail(subject=subject, text=text, html=html)

    def render_text(self, name: str, variables: Mapping[str, Any]) -> str:
        """Render a task template (plain text, no escaping): instructions for the rep."""
        self._refuse_partial(name)
        data = _prepare(variables)
        token = _BUDGET.set(_Budget(self.max_output_chars))
        try:
            return _tidy(self._render_whole(self._get(self._text_env, name), data))
        finally:
            _BUDGET.reset(token)

    def check(self, name: str, samples: Sequence[Mapping[str, Any]]) -> list[TemplateProblem]:
        """Parse the template and render it with every sample (or :func:`sample_variables`); list the faults."""
        problems: list[TemplateProblem] = []

        def add(exc: TemplateError) -> None:
            problem = TemplateProblem(template=name, path=exc.path or name, line=exc.line, reason=exc.reason)
            if problem not in problems:
                problems.append(problem)

        try:
            path = self._path(name)
            if not path.is_file():
                raise TemplateError(f"template {name!r} not found", path=str(path))
            template = self._get(self._text_env, name)  # an email's HTML twin is compiled when it renders
        except TemplateError as exc:
            add(exc)
            return problems
        if _is_partial(name):
            return problems
        as_email = _is_email_name(name) or "subject" in template.blocks
        for sample in samples or sample_variables():
            try:
                if as_email:
                    self.render_email(name, sample)
                else:
                    self.render_text(name, sample)
            except TemplateError as exc:
                add(exc)
        return problems

    # -- Internals

    def _refuse_partial(self, name: str) -> None:
        if _is_partial(name):
            raise TemplateError(f"{name!r} is a partial (its name starts with '_'), not a message", path=name)

    def _checked_path(self, name: str) -> Path:
        """:meth:`_path`, remembered per name: a name's path and its validity depend on the name alone.

        Whether the file (or a link standing in its place) stays inside the folder is checked again
        by the loader each time the file is read, so nothing escapes the folder through this memo.
        """
        path = self._checked.get(name)
        if path is None:
            path = self._checked[name] = self._path(name)
        return path

    def _get(self, env: _Environment, name: str) -> jinja2.Template:
        self._checked_path(name)  # refuses bad names with a TemplateError
        try:
            return env.get_template(name)
        except Exception as exc:
            raise _template_error(exc, self._fallback_path(name)) from None

    def _fallback_path(self, name: str) -> str:
        try:
            return str(self._checked_path(name))
        except TemplateError:
            return name

    def _stream(self, chunks: Iterator[str], template: jinja2.Template) -> str:
        out: list[str] = []
        size = 0
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > self.max_output_chars:
                    raise TemplateError(
                        f"the output is longer than {self.max_output_chars} characters", path=template.filename
                    )
                out.append(chunk)
        except TemplateError:
            raise
        except Exception as exc:
            raise _template_error(exc, template.filename or template.name or "template") from None
        return "".join(out)

    def _render_whole(self, template: jinja2.Template, data: Mapping[str, Any]) -> str:
        try:
            context = template.new_context(dict(data))
            chunks = template.root_render_func(context)
        except Exception as exc:
            raise _template_error(exc, template.filename or "template") from None
        return self._stream(chunks, template)

    def _render_blocks(
        self, template: jinja2.Template, data: Mapping[str, Any], names: Sequence[str]
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
            raise _template_error(exc, template.filename or "template") from None
        self._stream(template.root_render_func(context), template)
        for stack in context.blocks.values():
            if stack and stack[0] is _silent_block and len(stack) > 1:
                del stack[0]
        result = {}
        for block in names:
            found = context.blocks.get(block)
            if found and found[0] is not _silent_block:
                result[block] = self._stream(found[0](context), template)
        return result

    def _inline_css(self, html: str, path: str | None) -> str:
        """The HTML part with its ``<style>`` rules moved into ``style`` attributes; stylesheets are never loaded."""
        styles = sum(len(m) for m in _STYLE_ELEMENT.findall(html))
        if styles and html.count("<") * styles > self.max_output_chars * _INLINE_FACTOR:
            raise TemplateError(
                "the <style> rules would be copied onto too many elements: inline the styles by hand", path=path
            )
        inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
        try:
            inlined = inliner.inline(html)
        except ValueError as exc:  # css_inline.InlineError
            raise TemplateError(f"cannot inline the CSS of the HTML part: {exc}", path=path) from None
        inlined = _escape_attribute_brackets(inlined)
        if len(inlined) > self.max_output_chars:
            raise TemplateError(
                f"the HTML part is longer than {self.max_output_chars} characters once its CSS is inlined", path=path
            )
        return inlined

    def _check_footer(self, path: str | None, data: Mapping[str, Any], text: str, html: str | None) -> None:
        """The CAN-SPAM check: the unsubscribe link and our postal address are in both bodies."""
        url, address = _compliance_values(data, path)
        needles = [("the unsubscribe link (unsubscribe_url)", url.strip())]
        for line in re.split(r"[\r\n]+", address):
            if line.strip():
                needles.append(("our postal address (company.postal_address)", line.strip()))
        for what, needle in needles:
            if needle not in text:
                raise TemplateError(f"the text footer must show {what}", path=path)
            if html is not None and str(escape(needle)) not in html and needle not in html:
                raise TemplateError(f"the HTML layout must show {what}", path=path)


def _compliance_values(data: Mapping[str, Any], path: str | None) -> tuple[str, str]:
    """The unsubscribe link and our postal address, which every email must show (CAN-SPAM)."""
    url = data.get("unsubscribe_url")
    if not isinstance(url, str) or not url.strip():
        raise TemplateError("no unsubscribe_url: every email must carry an unsubscribe link", path=path)
    company = data.get("company")
    address = company.get("postal_address") if isinstance(company, dict) else None
    if not isinstance(address, str) or not address.strip():
        raise TemplateError("no company.postal_address: every email must show our postal address", path=path)
    return url, address


def _is_partial(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith("_")


def _is_email_name(name: str) -> bool:
    return name.split("/", 1)[0] == "email" and not _is_partial(name)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_STYLE_ELEMENT = re.compile(r"<style\b.*?(?:</style\s*>|\Z)", re.IGNORECASE | re.DOTALL)


def _one_line(text: str) -> str:
    """A subject: control characters and runs of whitespace become one space; cut to the limit."""
    line = " ".join(_CONTROL.sub(" ", text).split())
    if len(line) <= MAX_SUBJECT_CHARS:
        return line
    cut = line[: MAX_SUBJECT_CHARS - 1]
    if " " in cut[MAX_SUBJECT_CHARS // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def _tidy(text: str) -> str:
    """Plain text: CR/LF become LF, trailing spaces go, runs of blank lines become one, ends trimmed."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _template_error(exc: BaseException, fallback_path: str) -> TemplateError:
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
