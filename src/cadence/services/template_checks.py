"""``cadence templates check``: everything marketers edit, checked before a lead sees it.

:func:`check_templates` reads a templates folder the way cadence will use it and lists every
fault with its file, line and reason:

* every cadence file parses and is valid (one broken file does not hide the faults of the others);
* ``qualification.yaml`` is valid and every class names a cadence that exists;
* ``questions.yaml`` (the qualifying questions), when present, is valid;
* ``stages.yaml``, when present, is valid (stages, and rules naming known intents, task outcomes, decisions);
* every template a cadence step names exists; an email step's template is an email
  (``{% block subject %}`` and ``{% block text %}``) and a task step's template is not;
* every template parses, every template it includes, imports or extends exists, and every variable it
  uses is one the renderer provides (the contract in :mod:`cadence.adapters.templates`): a misspelt
  ``{{ lead.frist_name }}`` is reported at its line without rendering anything;
* every template that is a message (not a partial: its name does not start with ``_``) renders for each
  of :func:`~cadence.adapters.templates.sample_variables` (a complete lead, a lead missing every optional
  field, a hostile one), whether a cadence uses it or not.

It reads files only (no database) and takes a fraction of a second for the shipped templates.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import nodes

from cadence.adapters.files import cadence_files, load_cadence_file, load_questions, load_rules, load_stages
from cadence.adapters.templates import (
    DIGEST_VARIABLES,
    LAYOUT,
    LAYOUT_VARIABLES,
    MESSAGE_VARIABLES,
    VARIABLE_KEYS,
    TemplateError,
    Templates,
    sample_variables,
)
from cadence.core.cadences import Cadence, Channel, Step
from cadence.errors import ConfigurationError

__all__ = ["CheckReport", "Problem", "check_templates", "run_checks"]

SUFFIX = ".j2"
_MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})
_IMPLICIT_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "super", "self"})
_SAMPLE_LABELS = (  # what each of sample_variables() is
    "a lead with every field set",
    "a lead missing every optional field",
    "a lead with hostile values",
)


@dataclass(frozen=True)
class Problem:
    """One fault: the file, the line (None when it is about the whole file) and why."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """The problem as plain data (for ``--json``)."""
        return {"path": self.path, "line": self.line, "reason": self.reason}


_Add = Callable[[Problem], None]


@dataclass
class CheckReport:
    """What :func:`run_checks` looked at and what it found."""

    templates: int = 0
    cadences: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for ``--json``)."""
        return {
            "ok": self.ok,
            "templates": self.templates,
            "cadences": self.cadences,
            "problems": [p.as_dict() for p in self.problems],
        }


def check_templates(templates_dir: Path) -> list[Problem]:
    """Every fault in the cadences, qualification rules and templates of ``templates_dir``, sorted by file and line."""
    return run_checks(templates_dir).problems


def run_checks(templates_dir: Path) -> CheckReport:
    """Check the folder (see the module documentation); the problems are sorted by file, then line."""
    folder = Path(templates_dir)
    found: dict[Problem, None] = {}  # insertion-ordered set

    def add(problem: Problem) -> None:
        found.setdefault(problem, None)

    report = CheckReport()
    if not folder.is_dir():
        add(Problem(str(folder), None, "no such folder (set CADENCE_TEMPLATES_DIR or give the folder)"))
        report.problems = list(found)
        return report

    templates = Templates(folder)
    cadences, broken_names = _check_cadence_files(folder, add)
    report.cadences = len(cadences)
    _check_rules(folder, set(cadences) | broken_names, add)
    _check_questions(folder, add)
    _check_stages(folder, add)

    names = templates.names()
    report.templates = len(names)
    facts = {name: _facts(tree) for name, tree in _parse_all(templates, names, add).items()}
    for path, cadence in cadences.values():
        _check_steps(templates, facts, path, cadence, add)
    static = _check_variables(templates, facts, add)
    flagged = {(p.path, p.line) for p in static}
    _render_all(templates, [name for name in names if name in facts], flagged, add)  # unparsable: reported
    report.problems = sorted(found, key=lambda p: (p.path, p.line or 0, p.reason))
    return report


def _render_all(templates: Templates, names: list[str], flagged: set[tuple[str, int | None]], add: _Add) -> None:
    """Render every template for every sample; a fault is reported once, with what revealed it."""
    samples = sample_variables()
    labels = [_SAMPLE_LABELS[i] if i < len(_SAMPLE_LABELS) else f"sample {i + 1}" for i in range(len(samples))]
    failing: dict[tuple[str, int | None, str], tuple[dict[str, None], dict[str, None]]] = {}
    for name in names:
        for label, sample in zip(labels, samples, strict=True):
            for fault in templates.check(name, [sample]):
                if (fault.path, fault.line) in flagged:
                    continue  # the static check reported this line already, more clearly
                by_name, by_sample = failing.setdefault((fault.path, fault.line, fault.reason), ({}, {}))
                by_name[name] = None
                by_sample[label] = None
    for (path, line, reason), (by_name, by_sample) in failing.items():
        context = ""
        others = [name for name in by_name if _file_of(templates, name) != path]
        if others:  # the fault is in a partial or a base template
            context += f" {', '.join(others)}"
        if len(by_sample) < len(samples):
            context += f" for {' and for '.join(by_sample)}"
        add(Problem(path, line, f"{reason} (rendering{context})" if context else reason))


# -- Cadences and qualification rules ----------------------------------------------------------

_LINE_IN_REASON = re.compile(r" \(line (\d+)\)")


def _problem_from(exc: ConfigurationError, path: Path) -> Problem:
    """A :class:`Problem` from a ``FILE[:LINE]: reason`` message; a ``(line N)`` in the reason gives the line."""
    message = str(exc)
    prefix = str(path)
    line: int | None = None
    if message.startswith(prefix):
        rest = message[len(prefix) :]
        match = re.match(r":(\d+)(?=:)", rest)
        if match:
            line = int(match.group(1))
            rest = rest[match.end() :]
        message = rest.removeprefix(":").strip()
    if line is None:
        match = _LINE_IN_REASON.search(message)
        if match:
            line = int(match.group(1))
            message = message[: match.start()] + message[match.end() :]
    return Problem(prefix, line, message)


def _check_cadence_files(folder: Path, add: _Add) -> tuple[dict[str, tuple[Path, Cadence]], set[str]]:
    """Load every cadence file on its own; returns the valid cadences and the names of the broken files."""
    cadences: dict[str, tuple[Path, Cadence]] = {}
    broken: set[str] = set()
    where = folder / "cadences"
    if not where.is_dir():
        add(Problem(str(where), None, "no cadences folder"))
        return cadences, broken
    paths = cadence_files(folder)
    if not paths:
        add(Problem(str(where), None, "no cadence files (*.yaml)"))
    for path in paths:
        try:
            cadence = load_cadence_file(path)
        except ConfigurationError as exc:
            add(_problem_from(exc, path))
            broken.add(path.stem)
            continue
        if cadence.name in cadences:
            add(
                Problem(
                    str(path), None, f"a cadence named {cadence.name!r} exists already ({cadences[cadence.name][0]})"
                )
            )
            continue
        cadences[cadence.name] = (path, cadence)
    return cadences, broken


def _check_questions(folder: Path, add: _Add) -> None:
    """``questions.yaml`` (the qualifying questions), when present, is valid: the line and the reason otherwise."""
    try:
        load_questions(folder)
    except ConfigurationError as exc:
        add(_problem_from(exc, folder / "questions.yaml"))


def _check_rules(folder: Path, cadence_names: set[str], add: _Add) -> None:
    """``qualification.yaml`` is valid and each class names a cadence that exists (with the line that names it)."""
    path = folder / "qualification.yaml"
    try:
        rules = load_rules(folder)
    except ConfigurationError as exc:
        add(_problem_from(exc, path))
        return
    known = ", ".join(sorted(cadence_names)) or "none"
    for rule in (*rules.classes, rules.inbound):
        if rule.cadence in cadence_names:
            continue
        if path.exists():
            line = _cadence_reference_line(path, rule.cadence)
            add(
                Problem(
                    str(path),
                    line,
                    f"class {rule.name!r} names cadence {rule.cadence!r}, which does not exist; known: {known}",
                )
            )
        else:
            add(
                Problem(
                    str(path),
                    None,
                    f"the file is absent, so the default rules apply; their class {rule.name!r} needs a cadence "
                    f"named {rule.cadence!r}, which does not exist; known: {known}",
                )
            )


def _check_stages(folder: Path, add: _Add) -> None:
    """``stages.yaml``, when present, is valid: its stages and the rules that move leads between them."""
    from cadence.services.tasks import OUTCOMES

    try:
        load_stages(folder, OUTCOMES)
    except ConfigurationError as exc:
        add(_problem_from(exc, folder / "stages.yaml"))


def _cadence_reference_line(path: Path, cadence: str) -> int | None:
    """The line of the first ``cadence: NAME`` in a YAML file (None if it cannot be found)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    for node in _yaml_nodes(root):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "cadence" and isinstance(value, yaml.ScalarNode) and value.value.strip() == cadence:
                    return int(value.start_mark.line) + 1
    return None


def _yaml_nodes(root: yaml.Node | None) -> Iterator[yaml.Node]:
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                todo += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            todo += node.value


def _step_template_lines(path: Path) -> dict[int, int]:
    """The line of each step's ``template``/``templates`` key, by step index (0-based)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[int, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value != "steps" or not isinstance(value, yaml.SequenceNode):
            continue
        for index, step in enumerate(value.value):
            lines[index] = int(step.start_mark.line) + 1
            if isinstance(step, yaml.MappingNode):
                for step_key, step_value in step.value:
                    if step_key.value in ("template", "templates"):
                        lines[index] = int(step_value.start_mark.line) + 1
    return lines


# -- Templates: parsing, cadence steps, variables ----------------------------------------------


def _parse_all(templates: Templates, names: list[str], add: _Add) -> dict[str, nodes.Template]:
    trees: dict[str, nodes.Template] = {}
    for name in names:
        try:
            trees[name] = templates.parse(name)
        except TemplateError as exc:
            add(Problem(exc.path or _file_of(templates, name), exc.line, exc.reason))
    return trees


def _file_of(templates: Templates, name: str) -> str:
    return str(templates.folder.joinpath(*f"{name}{SUFFIX}".split("/")))


def _is_partial(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith("_")


@dataclass
class _Facts:
    """What the static checks need from one template's syntax tree, gathered in one walk."""

    stored: set[str] = field(default_factory=set)  # names it defines: set, for, macro, import, with, arguments
    loads: list[tuple[str, int]] = field(default_factory=list)  # names it reads, with their lines
    keys: list[tuple[str, str, int]] = field(default_factory=list)  # lead.key / lead["key"], with their lines
    references: list[tuple[str, int]] = field(default_factory=list)  # templates it includes, imports, extends
    extends: list[str] = field(default_factory=list)
    blocks: set[str] = field(default_factory=set)


def _facts(tree: nodes.Template) -> _Facts:
    facts = _Facts()
    todo: list[nodes.Node] = [tree]
    while todo:
        node = todo.pop()
        todo.extend(node.iter_child_nodes())
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                facts.loads.append((node.name, node.lineno))
            else:
                facts.stored.add(node.name)
        elif isinstance(node, nodes.Getattr | nodes.Getitem):
            base = node.node
            if isinstance(base, nodes.Name) and base.ctx == "load" and base.name in VARIABLE_KEYS:
                if isinstance(node, nodes.Getattr):
                    facts.keys.append((base.name, node.attr, node.lineno))
                elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                    facts.keys.append((base.name, node.arg.value, node.lineno))
        elif isinstance(node, nodes.Block):
            facts.blocks.add(node.name)
        elif isinstance(node, nodes.Macro):
            facts.stored.add(node.name)
        elif isinstance(node, nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport):
            if isinstance(node, nodes.Import):
                facts.stored.add(node.target)
            elif isinstance(node, nodes.FromImport):
                facts.stored.update(item[1] if isinstance(item, tuple) else item for item in node.names)
            target = node.template
            candidates = target.items if isinstance(target, nodes.Tuple | nodes.List) else [target]  # include [a, b]
            for candidate in candidates:
                if isinstance(candidate, nodes.Const) and isinstance(candidate.value, str):
                    name = candidate.value.removesuffix(SUFFIX)
                    facts.references.append((name, node.lineno))
                    if isinstance(node, nodes.Extends):
                        facts.extends.append(name)
    return facts


def _blocks(name: str, facts: dict[str, _Facts], seen: frozenset[str] = frozenset()) -> set[str]:
    """The blocks a template defines, with those of the templates it extends."""
    own = facts.get(name)
    if own is None or name in seen:
        return set()
    found = set(own.blocks)
    for parent in own.extends:
        found |= _blocks(parent, facts, seen | {name})
    return found


def _check_steps(templates: Templates, facts: dict[str, _Facts], path: Path, cadence: Cadence, add: _Add) -> None:
    lines = _step_template_lines(path)
    for index, step in enumerate(cadence.steps):
        line = lines.get(index)
        for name in step.templates:
            problem = _step_problem(templates, facts, step, index, name)
            if problem:
                add(Problem(str(path), line, problem))


def _step_problem(templates: Templates, facts: dict[str, _Facts], step: Step, index: int, name: str) -> str | None:
    what = f"step {index + 1} ({step.channel.value}, day {step.day})"
    if not templates.exists(name):
        return f"{what} names template {name!r}, which does not exist ({_file_of(templates, name)})"
    if _is_partial(name):
        return f"{what} names {name!r}, a partial (its name starts with '_'), not a message"
    if name not in facts:
        return None  # it does not parse: reported at the template
    blocks = _blocks(name, facts)
    if step.channel is Channel.EMAIL:
        missing = [b for b in ("subject", "text") if b not in blocks]
        if missing:
            needed = " and ".join(f"{{% block {b} %}}" for b in missing)
            return f"{what} sends {name!r} as an email, but it has no {needed}"
    elif name.split("/", 1)[0] == "email" or "subject" in blocks:
        return f"{what} is a task for the rep, but {name!r} is an email template; use a {step.channel.value} template"
    return None


def _contract(name: str) -> frozenset[str]:
    """The variables a template receives from cadence."""
    if name.split("/", 1)[0] == "digest":
        return DIGEST_VARIABLES
    if name == LAYOUT:
        return MESSAGE_VARIABLES | LAYOUT_VARIABLES
    return MESSAGE_VARIABLES


def _suggest(wrong: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(wrong, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_variables(templates: Templates, facts: dict[str, _Facts], add: _Add) -> list[Problem]:
    """Statically: referenced templates exist, top-level names and keys of lead/owner/company/step can exist."""
    neighbours: dict[str, set[str]] = {name: set() for name in facts}
    for name, own in facts.items():
        for target, _line in own.references:
            if target in neighbours:
                neighbours[name].add(target)
                neighbours[target].add(name)  # a partial sees what its includer sets, a child what its base sets
    globals_ = templates.global_names
    problems: list[Problem] = []

    def report(problem: Problem) -> None:
        problems.append(problem)
        add(problem)

    for name, own in facts.items():
        path = _file_of(templates, name)
        for target, line in own.references:
            if not templates.exists(target):
                report(Problem(path, line, f"uses template {target!r}, which does not exist"))
        contract = _contract(name)
        known = contract | globals_ | _IMPLICIT_NAMES | own.stored
        for neighbour in neighbours[name]:
            known |= facts[neighbour].stored
        for variable, line in own.loads:
            if variable in known:
                continue
            hint = _suggest(variable, contract | own.stored) or f" (templates here get: {', '.join(sorted(contract))})"
            report(Problem(path, line, f"unknown variable {variable!r}{hint}"))
        for variable, key, line in own.keys:
            if variable not in contract or variable in own.stored:
                continue  # an unknown variable (reported above) or one the template redefines
            keys = VARIABLE_KEYS[variable]
            if key in keys or key in _MAPPING_METHODS:
                continue
            hint = _suggest(key, keys)
            if not hint:
                hint = f" ({variable} has: {', '.join(sorted(keys))})"
                if variable == "lead":
                    hint += f"; a column of the lead import is lead.custom.{key}" if key.isidentifier() else ""
            report(Problem(path, line, f"{variable} has no {key!r}{hint}"))
    return problems
