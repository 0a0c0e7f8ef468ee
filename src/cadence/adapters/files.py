"""Reading what marketers and ops edit: cadence files and qualification rules (YAML).

Errors name the file and, where YAML knows it, the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.qualification import Rules, parse_rules
from cadence.core.questions import DEFAULT_QUESTIONS, Question, parse_questions
from cadence.core.stages import DEFAULT_STAGES, Stages, parse_stages
from cadence.errors import ConfigurationError, shown

MAX_FILE_BYTES = 1_000_000
MAX_YAML_VALUES = 100_000
"""The most values a YAML file may hold, counting each alias as all it repeats ("billion laughs")."""
MAX_YAML_DEPTH = 64
"""The deepest nesting of lists and mappings in a YAML file (a cadence needs four levels)."""


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's line as ``__line__`` (1-based).

    A value YAML recognises but Python cannot build (``2026-13-45`` as a date, an integer of
    5,000 digits, ``!!int x``) is a :class:`yaml.constructor.ConstructorError` at its line.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping

    # PyYAML's scanner slows down with the square of the nesting and its composer recurses: a
    # file of a thousand "[" took seconds to refuse. Nesting is refused early instead.

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_YAML_DEPTH:
            self._too_deep()
        super().fetch_flow_collection_start(TokenClass)

    def add_indent(self, column: int) -> bool:
        if len(self.indents) >= MAX_YAML_DEPTH:
            self._too_deep()
        return bool(super().add_indent(column))

    def _too_deep(self) -> None:
        raise yaml.scanner.ScannerError(
            None, None, f"lists and mappings are nested more than {MAX_YAML_DEPTH} levels deep", self.get_mark()
        )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
            raise yaml.constructor.ConstructorError(None, None, _unreadable(node, exc), node.start_mark) from None


_NULL_ONLY = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _TextLineLoader(_LineLoader):
    """:class:`_LineLoader` reading every plain value as the text written (``Yes``, ``2027-01-15``), but null."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.yaml_implicit_resolvers = _NULL_ONLY


def _unreadable(node: yaml.Node, exc: Exception) -> str:
    """Why a YAML value cannot be built, in words."""
    if isinstance(node, yaml.ScalarNode):
        what = shown(node.value)
    else:
        what = "this mapping" if isinstance(node, yaml.MappingNode) else "this list"
    if "integer string conversion" in str(exc):
        return f"{what} is a number too long to read"
    kind = str(node.tag).rsplit(":", 1)[-1]
    if isinstance(exc, AttributeError):  # PyYAML's own parser of the tag gave up half-way
        return f"{what} is not a valid {kind}"
    return f"{what} cannot be read as {kind} ({shown(str(exc))[1:-1]})"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, path: Path) -> None:
    """Refuse aliases that make a cycle, and documents that expand to more than MAX_YAML_VALUES values.

    PyYAML builds an alias as the very object it names, so a "billion laughs" file loads in an
    instant; it is whatever walks or prints the result afterwards (an error message quoting a
    value) that takes hours and all the memory. The walk here counts each node once.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes on the path from the root to the current one
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        if finished:
            open_nodes.discard(id(node))
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > MAX_YAML_VALUES:
                raise ConfigurationError(
                    f"{path}:{node.start_mark.line + 1}: this value repeats others through aliases until it holds "
                    f"more than {MAX_YAML_VALUES:,} values: write it out, or use fewer aliases"
                )
            sizes[id(node)] = size
            continue
        if id(node) in sizes:
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise ConfigurationError(
                    f"{path}:{child.start_mark.line + 1}: the value anchored here contains an alias of itself (a cycle)"
                )
            if id(child) not in sizes:
                stack.append((child, False))


def load_yaml(path: Path, *, as_text: bool = False) -> Any:
    """Parse a YAML file safely; mappings carry ``__line__``. Raises :class:`ConfigurationError`.

    Refused, with the file and where known the line: files over MAX_FILE_BYTES, text that is not
    UTF-8, invalid YAML, values Python cannot build, alias cycles and alias bombs, deep nesting.
    With ``as_text``, a plain value is the text written (``Yes`` is not ``True``): for free-text
    answers; an empty value or ``null`` is still None.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigurationError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigurationError(f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    loader: _LineLoader | None = None
    try:
        loader = (_TextLineLoader if as_text else _LineLoader)(text)  # it checks every character first
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expansion(root, path)
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigurationError(f"{path}{where}: not valid YAML: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, such as NUL
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "?")
        raise ConfigurationError(f"{path}:{line}: not valid YAML: the character U+{code:04X} is not allowed") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigurationError(f"{path}: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_cadence_file(path: Path) -> Cadence:
    """Read and validate one cadence file; its name defaults to the file's stem."""
    data = load_yaml(path)
    try:
        cadence = parse_cadence(data, default_name=path.stem)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    if cadence.name != path.stem:
        raise ConfigurationError(f"{path}: the cadence is named {cadence.name!r}; name the file {cadence.name}.yaml")
    return cadence


def cadence_files(templates_dir: Path) -> list[Path]:
    """The cadence files under ``templates_dir/cadences``, sorted."""
    folder = templates_dir / "cadences"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_cadences(templates_dir: Path) -> dict[str, Cadence]:
    """Every cadence under ``templates_dir/cadences``, by name."""
    folder = templates_dir / "cadences"
    if not folder.is_dir():
        raise ConfigurationError(f"{folder}: no cadences folder (set CADENCE_TEMPLATES_DIR)")
    cadences: dict[str, Cadence] = {}
    for path in cadence_files(templates_dir):
        cadence = load_cadence_file(path)
        if cadence.name in cadences:
            raise ConfigurationError(f"{path}: a cadence named {cadence.name!r} exists already")
        cadences[cadence.name] = cadence
    if not cadences:
        raise ConfigurationError(f"{folder}: no cadence files (*.yaml)")
    return cadences


def load_rules(templates_dir: Path, cadence_names: set[str] | None = None) -> Rules:
    """The qualification rules in ``templates_dir/qualification.yaml`` (defaults if it is absent).

    When ``cadence_names`` is given, every class must name one of those cadences.
    """
    path = templates_dir / "qualification.yaml"
    if not path.exists():
        rules = Rules()
    else:
        try:
            rules = parse_rules(load_yaml(path))
        except ConfigurationError as exc:
            message = str(exc)
            raise ConfigurationError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    if cadence_names is not None:
        for rule in (*rules.classes, rules.inbound):
            if rule.cadence not in cadence_names:
                known = ", ".join(sorted(cadence_names))
                raise ConfigurationError(f"{path}: class {rule.name!r} names cadence {rule.cadence!r}; known: {known}")
    return rules


def load_questions(templates_dir: Path) -> tuple[Question, ...]:
    """The qualifying questions in ``templates_dir/questions.yaml`` (seed 001's seven if it is absent).

    A fault is a :class:`ConfigurationError` as ``path:line: reason``.
    """
    path = templates_dir / "questions.yaml"
    if not path.exists():
        return DEFAULT_QUESTIONS
    try:
        return parse_questions(load_yaml(path))
    except ConfigurationError as exc:
        message = str(exc)
        if message.startswith(str(path)):
            raise
        line = re.match(r"line (\d+): ", message)
        where = f"{path}:{line[1]}: {message[line.end() :]}" if line else f"{path}: {message}"
        raise ConfigurationError(where) from None


def load_stages(templates_dir: Path, task_outcomes: Mapping[str, frozenset[str]]) -> Stages:
    """The stages of maturation in ``templates_dir/stages.yaml`` (seed 001's if the file is absent).

    ``task_outcomes``: the outcomes each task channel can have, which its rules must name.
    """
    path = templates_dir / "stages.yaml"
    if not path.exists():
        return DEFAULT_STAGES
    try:
        return parse_stages(load_yaml(path), task_outcomes=task_outcomes)
    except ConfigurationError as exc:
        message = str(exc)
        raise ConfigurationError(message if message.startswith(str(path)) else f"{path}: {message}") from None
