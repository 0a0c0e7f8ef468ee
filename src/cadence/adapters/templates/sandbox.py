"""The sandboxed Jinja environment: immutable, strict, and every step counted against the budget."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context

from cadence.adapters.templates.growth import result_bound
from cadence.adapters.templates.limits import (
    BUDGET,
    MAX_INT_BITS,
    MAX_RANGE,
    check_format_values,
    check_size,
    check_width,
    describe,
    format_size,
    is_filterable,
    is_plain,
    max_chars,
    percent_size,
    refuse_size,
    replace_size,
    step,
    weight,
)
from cadence.adapters.templates.loader import FolderLoader


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
        if not is_filterable(item):
            raise SecurityError(f"the {name} filter cannot take {describe(item)}")
    check_size(value, f"the value given to the {name} filter")
    bound = result_bound(name, value, args, kwargs)
    if bound is not None:
        refuse_size(bound, f"the result of the {name} filter")
    if name in ("center", "wordwrap", "truncate", "batch", "slice"):
        for arg in (*args, *kwargs.values()):
            check_width(arg, f"{name}()")
    elif name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        check_width(width, "indent()")
        pad = len(width) if isinstance(width, str) else int(width) if isinstance(width, int) else 0
        text = str(value) if isinstance(value, str) else ""
        refuse_size(len(text) + (text.count("\n") + 1) * pad, "the indented text")
    elif name == "format":
        if not isinstance(value, str):
            value = str(value)
        values: Any = dict(kwargs) if kwargs else tuple(args)
        check_format_values((*args, *kwargs.values()))
        refuse_size(percent_size(value, values), "the formatted text")
    elif name == "replace" and isinstance(value, str) and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count")
        refuse_size(replace_size(value, str(args[0]), str(args[1]), count), "the replaced text")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter: count it as a step, refuse huge results before and after computing them."""
    offset = 0 if getattr(func, "jinja_pass_arg", None) is None else 1

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        step()
        if len(args) > offset:
            value = args[offset]
            if name == "join" and value is not None and not isinstance(value, jinja2.Undefined):
                value = list(value)
                size = weight(value, max_chars()) + len(value) * len(
                    str(args[offset + 1] if len(args) > offset + 1 else kwargs.get("d", ""))
                )
                refuse_size(size, "the joined text")
                args = (*args[:offset], value, *args[offset + 1 :])
            _precheck_filter(name, value, tuple(args[offset + 1 :]), kwargs)
        return check_size(func(*args, **kwargs), f"the result of the {name} filter")

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
    if not is_plain(value):
        raise SecurityError(f"cannot print {describe(value)}")
    limit = max_chars()
    size = weight(value, limit)
    if size > limit:
        raise SecurityError(f"a printed value is longer than {limit} characters")
    budget = BUDGET.get()
    if budget is not None:
        budget.charge(size)
    return value


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


class Environment(ImmutableSandboxedEnvironment):
    """The sandbox: immutable, strict, and bounded in time, size and depth."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, loader: FolderLoader, *, autoescape: bool) -> None:
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
            step()
            yield item

    def checked_concat(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        """The ``~`` operator: no None, no objects, and no result longer than the limit."""
        step()
        for part in parts:
            if part is None:
                raise SecurityError("joined an empty value (None) with ~: use | default(...)")
            if not is_plain(part):
                raise SecurityError(f"cannot join {describe(part)} with ~")
        limit = max_chars()
        refuse_size(sum(weight(part, limit) for part in parts), "the joined text (~)")
        return join(parts)

    def charge(self, chars: int) -> None:
        """Count literal template text as it is produced."""
        budget = BUDGET.get()
        if budget is not None:
            budget.charge(chars)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``+`` and ``%``, refusing results that would be huge."""
        step()
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
                    refuse_size(weight(other, max_chars()) * times, "the repeated value (*)")
        elif operator == "%" and isinstance(left, str):
            values = right.values() if isinstance(right, Mapping) else right if isinstance(right, tuple) else (right,)
            check_format_values(values)
            refuse_size(percent_size(left, right), "the formatted text (%)")
        result = super().call_binop(context, operator, left, right)
        return check_size(result, f"the result of {operator}")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map``, sandboxed by Jinja, with widths and size bounded."""
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        fmt = str(value.__self__)
        is_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            values: Mapping[str, Any] = args[0] if is_map and args and isinstance(args[0], Mapping) else kwargs
            refuse_size(format_size(fmt, () if is_map else args, values), "the formatted text")
            return check_size(formatter(*args, **kwargs), "the formatted text")  # type: ignore[no-any-return]

        return functools.update_wrapper(bounded, formatter)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Every call a template makes: counted, and refused when its result would be huge."""
        step()
        owner = getattr(obj, "__self__", None)
        method = getattr(obj, "__name__", "")
        if isinstance(owner, str):
            limit = max_chars()
            if method in _STR_REFUSED_METHODS:
                raise SecurityError(f"str.{method}() is not allowed in templates")
            if method in _STR_WIDTH_METHODS and args:
                check_width(args[0], f"str.{method}()")
            elif method == "replace" and len(args) >= 2:
                count = args[2] if len(args) > 2 else None
                refuse_size(replace_size(owner, str(args[0]), str(args[1]), count), "the replaced text")
            elif method == "join" and args:
                items = list(args[0])
                refuse_size(weight(items, limit) + len(items) * len(owner), "the joined text")
                args = (items, *args[1:])
        elif isinstance(obj, LoopContext) and args:
            args = (self.counted_iter(args[0]), *args[1:])
        result = super().call(context, obj, *args, **kwargs)
        return check_size(result, "the result of a call")

    def _load_template(self, name: str, globals: Any) -> jinja2.Template:
        budget = BUDGET.get()
        if budget is not None:
            budget.load()
        return super()._load_template(name, globals)


def _is_int(value: Any) -> bool:
    return isinstance(value, int)
