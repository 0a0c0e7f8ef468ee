"""What marketers see of the templates folder: the cadences, the templates with their checks and what uses them.

Everything is read from the folder at each call, so that an edit shows at the next reload; the
checks run again only when a file in the folder changed (their last report is kept on the
:class:`~cadence.services.context.Context`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import nodes
from jinja2.meta import find_undeclared_variables

from cadence.adapters.files import cadence_files, load_cadence_file, load_rules
from cadence.adapters.templates import (
    DIGEST_VARIABLES,
    LAYOUT,
    LAYOUT_VARIABLES,
    MESSAGE_VARIABLES,
    VARIABLE_KEYS,
    TemplateError,
    Templates,
)
from cadence.core.cadences import Cadence
from cadence.errors import CadenceError, NotFound
from cadence.services.advance import templates_for
from cadence.services.context import Context, Fingerprint
from cadence.services.template_checks import CheckReport, Problem, run_checks

SUFFIX = ".j2"


@dataclass
class CadenceView:
    """A cadence file as the cadences page shows it: the cadence, or why it cannot be read."""

    path: str
    cadence: Cadence | None = None
    error: str | None = None
    classes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TemplatesOverview:
    """Every template (name, kind, what uses it, its problems), the other files' problems, the whole report."""

    rows: list[dict[str, Any]]
    others: list[tuple[str, Problem]]
    report: CheckReport


@dataclass(frozen=True)
class TemplateInfo:
    """One template: its file, kind, problems, the steps that use it and the variables it may and does use."""

    name: str
    file: str
    kind: str
    problems: list[Problem]
    used_by: list[str]
    contract: list[tuple[str, list[str]]]
    used_names: set[str]
    used_keys: set[tuple[str, str]]

    @property
    def previewable(self) -> bool:
        """Whether the template renders for a lead on its own (an email or a task)."""
        return self.kind in ("email", "task")


def _fingerprint(folder: Path) -> Fingerprint:
    """Every file of the folder with its modification time and size: any edit changes it."""
    found = []
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                stat = path.stat()
                found.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            continue
    return tuple(sorted(found))


def checks(ctx: Context) -> CheckReport:
    """``cadence templates check`` on the templates folder, run again only when a file in it changed."""
    folder = ctx.templates_dir
    key = str(folder.resolve())
    fingerprint = _fingerprint(folder) if folder.is_dir() else ()
    cached = ctx.template_checks.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    report = run_checks(folder)
    ctx.template_checks[key] = (fingerprint, report)
    return report


def _relative(path: str, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path


def _template_of(path: str, folder: Path) -> str | None:
    """The template a problem's file is (``email/introduction``), or None for a cadence or rules file."""
    relative = _relative(path, folder)
    return relative[: -len(SUFFIX)] if relative.endswith(SUFFIX) else None


def cadence_views(folder: Path) -> list[CadenceView]:
    """Every cadence file of ``folder``: its cadence and the lead classes (of the rules) it is for, or its error."""
    views: list[CadenceView] = []
    for path in cadence_files(folder):
        try:
            views.append(CadenceView(_relative(str(path), folder), cadence=load_cadence_file(path)))
        except CadenceError as exc:
            views.append(CadenceView(_relative(str(path), folder), error=str(exc)))
    try:
        rules = load_rules(folder)
    except CadenceError:
        return views
    for view in views:
        if view.cadence is not None:
            names = [c.name for c in (*rules.classes, rules.inbound) if c.cadence == view.cadence.name]
            view.classes = list(dict.fromkeys(names))
    return views


def _used_by(views: list[CadenceView]) -> dict[str, list[str]]:
    """Template name -> the cadence steps that use it (``default, step 2 (day 2)``)."""
    used: dict[str, list[str]] = {}
    for view in views:
        if view.cadence is None:
            continue
        for number, step in enumerate(view.cadence.steps, start=1):
            for name in step.templates:
                used.setdefault(name, []).append(f"{view.cadence.name}, step {number} (day {step.day})")
    return used


def template_kind(templates: Templates, name: str) -> str:
    """``partial``, ``digest``, ``layout``, ``email`` (it has subject and text blocks) or ``task``."""
    if name == LAYOUT:
        return "layout"
    if name.rsplit("/", 1)[-1].startswith("_"):
        return "partial"
    if name.split("/", 1)[0] == "digest":
        return "digest"
    try:
        blocks = {block.name for block in templates.parse(name).find_all(nodes.Block)}
    except TemplateError:
        return "email" if name.startswith("email/") else "task"
    return "email" if {"subject", "text"} <= blocks else "task"


def templates_overview(ctx: Context) -> TemplatesOverview:
    """Every template with its kind, the steps that use it and its problems; the cadence and rules files' problems."""
    folder = ctx.templates_dir
    report = checks(ctx)
    templates = Templates(folder) if folder.is_dir() else None
    names = templates.names() if templates is not None else []
    by_template: dict[str, list[Problem]] = {name: [] for name in names}
    others: list[tuple[str, Problem]] = []
    for problem in report.problems:
        name = _template_of(problem.path, folder)
        if name is not None and name in by_template:
            by_template[name].append(problem)
        else:
            others.append((_relative(problem.path, folder), problem))
    used_by = _used_by(cadence_views(folder)) if folder.is_dir() else {}
    rows = [
        {
            "name": name,
            "kind": template_kind(templates, name) if templates is not None else "?",
            "used_by": used_by.get(name, []),
            "problems": by_template[name],
        }
        for name in names
    ]
    return TemplatesOverview(rows=rows, others=others, report=report)


def _used_variables(templates: Templates, name: str) -> tuple[set[str], set[tuple[str, str]]]:
    """The top-level variables and the ``variable.key`` pairs this template's own file uses."""
    try:
        tree = templates.parse(name)
    except TemplateError:
        return set(), set()
    keys: set[tuple[str, str]] = set()
    for attribute in tree.find_all(nodes.Getattr):
        if isinstance(attribute.node, nodes.Name) and attribute.node.name in VARIABLE_KEYS:
            keys.add((attribute.node.name, attribute.attr))
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name in VARIABLE_KEYS
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            keys.add((item.node.name, item.arg.value))
    return set(find_undeclared_variables(tree)), keys


def _contract(kind: str) -> list[tuple[str, list[str]]]:
    """The variables a template of ``kind`` receives, each with its keys (if it is a mapping), in a stable order."""
    if kind == "digest":
        names = sorted(DIGEST_VARIABLES)
    elif kind == "layout":
        names = sorted(MESSAGE_VARIABLES | LAYOUT_VARIABLES)
    else:
        names = sorted(MESSAGE_VARIABLES)
    order = ["lead", "owner", "company", "step"]
    names.sort(key=lambda n: (order.index(n) if n in order else len(order), n))
    return [(n, sorted(VARIABLE_KEYS.get(n, frozenset()))) for n in names]


def template_info(ctx: Context, name: str) -> TemplateInfo:
    """The template ``name`` of the templates folder, or :class:`~cadence.errors.NotFound`."""
    folder = ctx.templates_dir
    templates = templates_for(ctx)
    if not folder.is_dir() or not templates.exists(name):
        raise NotFound(f"no template named {name!r}")
    kind = template_kind(templates, name)
    file = _relative(str(folder.joinpath(*f"{name}{SUFFIX}".split("/"))), folder)
    used_names, used_keys = _used_variables(templates, name)
    return TemplateInfo(
        name=name,
        file=file,
        kind=kind,
        problems=[p for p in checks(ctx).problems if _relative(p.path, folder) == file],
        used_by=_used_by(cadence_views(folder)).get(name, []),
        contract=_contract(kind),
        used_names=used_names,
        used_keys=used_keys,
    )


def running_versions(ctx: Context) -> dict[str, dict[str, int]]:
    """Cadence name -> version -> how many enrollments under way (active, paused or responded) run on it."""
    from sqlalchemy import func, select

    from cadence.adapters.models import Enrollment

    counts: dict[str, dict[str, int]] = {}
    with ctx.sessions() as session:
        rows = session.execute(
            select(Enrollment.cadence_name, Enrollment.cadence_version, func.count())
            .where(Enrollment.state.in_(("active", "paused", "responded")))
            .group_by(Enrollment.cadence_name, Enrollment.cadence_version)
        ).all()
    for name, version, count in rows:
        counts.setdefault(name, {})[version] = int(count)
    return counts
