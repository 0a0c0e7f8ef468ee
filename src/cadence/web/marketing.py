"""What marketers (and managers) see: the cadences as timelines, the templates with their checks, live previews.

Everything is read from the templates folder at each request, so that an edit shows at the next
reload. A preview renders exactly what cadence would send (or give the rep) for the chosen lead now,
and writes nothing; the HTML part is shown in an ``<iframe sandbox srcdoc>``: no scripts, no forms,
no navigation, and no images or other fetches (the page's Content-Security-Policy applies to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any

from fastapi import Query, Request, Response
from jinja2 import nodes
from jinja2.meta import find_undeclared_variables
from sqlalchemy.orm import Session

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
from cadence.services.advance import preview_email, template_variables, templates_for
from cadence.services.context import Context
from cadence.services.enrollments import get_lead, open_enrollment, pinned_cadence
from cadence.services.leads import list_leads
from cadence.services.template_checks import CheckReport, Problem, run_checks
from cadence.web.auth import MarketingDep, guarded_router
from cadence.web.charts import CHANNEL_COLORS, cadence_timeline
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import not_found, workspace_page

router = guarded_router()

SUFFIX = ".j2"
LEAD_CHOICES = 200
"""How many leads the preview's lead field suggests (any address may be typed)."""
_STRUCTURAL_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})


@dataclass
class CadenceView:
    """A cadence file as the cadences page shows it: the cadence, or why it cannot be read."""

    path: str
    cadence: Cadence | None = None
    error: str | None = None
    classes: list[str] = field(default_factory=list)


_CHECKS: dict[str, tuple[tuple[tuple[str, int, int], ...], CheckReport]] = {}


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
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


def checks(folder: Path) -> CheckReport:
    """``cadence templates check`` on the folder, run again only when a file in it changed."""
    key = str(folder.resolve())
    fingerprint = _fingerprint(folder) if folder.is_dir() else ()
    cached = _CHECKS.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    report = run_checks(folder)
    _CHECKS[key] = (fingerprint, report)
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


def _cadence_views(folder: Path) -> list[CadenceView]:
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


@router.get("/cadences")
def cadences_page(request: Request, ctx: ContextDep, viewer: MarketingDep) -> Response:
    """Every cadence as a timeline from Day 0 to its last step, by channel, with its steps and settings."""
    folder = ctx.settings.templates_dir
    views = _cadence_views(folder)
    charts = {view.path: cadence_timeline(view.cadence) for view in views if view.cadence is not None}
    return workspace_page(
        request,
        ctx,
        viewer,
        "cadences.html",
        views=sorted(views, key=lambda v: (v.cadence is None or v.cadence.name != "default", v.path)),
        charts=charts,
        channel_colors=CHANNEL_COLORS,
    )


@router.get("/templates")
def templates_page(request: Request, ctx: ContextDep, viewer: MarketingDep) -> Response:
    """Every template, what uses it and its check result; the faults of the cadence and rules files too."""
    folder = ctx.settings.templates_dir
    report = checks(folder)
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
    used_by = _used_by(_cadence_views(folder)) if folder.is_dir() else {}
    rows = [
        {
            "name": name,
            "kind": template_kind(templates, name) if templates is not None else "?",
            "used_by": used_by.get(name, []),
            "problems": by_template[name],
        }
        for name in names
    ]
    return workspace_page(request, ctx, viewer, "message_templates.html", rows=rows, others=others, report=report)


@dataclass
class Preview:
    """What a template renders to for one lead: an email's headers and parts, or a task's text; or why not."""

    lead: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None
    html: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    as_step: str | None = None
    """Which step of the lead's cadence the preview stands for (``step 2 (day 2) of default``)."""
    step_uses_it: bool = True
    """False when the lead's cadence does not use the template (the preview then stands for its first step)."""


def _part(message: EmailMessage, subtype: str) -> str | None:
    part: Any = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return str(part.get_content())


def _variables_for(ctx: Context, session: Session, email: str, name: str, now: datetime, preview: Preview) -> None:
    """The variables ``name`` gets for the lead, as at the step of the lead's cadence that uses it (else step 1).

    (``preview_email`` chooses the step the same way.)
    """
    lead = get_lead(session, email)
    enrollment = open_enrollment(session, lead)
    if enrollment is not None:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
    else:
        cadence = ctx.cadence(lead.cadence or "default")
    found = next((i for i, step in enumerate(cadence.steps) if name in step.templates), None)
    index = found if found is not None else 0
    preview.variables = template_variables(ctx, lead, cadence, index, now=now)
    preview.as_step = f"step {index + 1} (day {cadence.steps[index].day}) of {cadence.name}"
    preview.step_uses_it = found is not None


def _preview(ctx: Context, session: Session, name: str, kind: str, email: str, now: datetime) -> Preview:
    preview = Preview(lead=email)
    try:
        _variables_for(ctx, session, email, name, now, preview)
        if kind == "email":
            message = preview_email(ctx, session, email, name, now=now)
            preview.headers = [(k, str(v)) for k, v in message.items() if k.lower() not in _STRUCTURAL_HEADERS]
            preview.text = _part(message, "plain")
            preview.html = _part(message, "html")
        else:
            preview.text = templates_for(ctx).render_text(name, preview.variables)
    except NotFound as exc:
        preview.error = str(exc)
        preview.variables = {}
    except CadenceError as exc:  # TemplateError, a broken cadence, an invalid address
        preview.error = str(exc)
    return preview


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


@router.get("/templates/{name:path}")
def template_page(
    request: Request,
    ctx: ContextDep,
    clock: ClockDep,
    viewer: MarketingDep,
    name: str,
    lead: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """A template: its check result, the variables it can use, and what it renders to for a lead, now."""
    folder = ctx.settings.templates_dir
    templates = templates_for(ctx)
    if not folder.is_dir() or not templates.exists(name):
        raise not_found()
    kind = template_kind(templates, name)
    file = _relative(str(folder.joinpath(*f"{name}{SUFFIX}".split("/"))), folder)
    problems = [p for p in checks(folder).problems if _relative(p.path, folder) == file]
    used_names, used_keys = _used_variables(templates, name)
    previewable = kind in ("email", "task")
    with ctx.sessions() as session:
        choices = list_leads(session)[:LEAD_CHOICES]
        chosen = lead.strip() or (choices[0]["email"] if choices else "")
        preview = _preview(ctx, session, name, kind, chosen, clock()) if previewable and chosen else None
    return workspace_page(
        request,
        ctx,
        viewer,
        "template_preview.html",
        template=name,
        file=file,
        kind=kind,
        problems=problems,
        used_by=_used_by(_cadence_views(folder)).get(name, []),
        contract=_contract(kind),
        used_names=used_names,
        used_keys=used_keys,
        choices=choices,
        chosen=chosen,
        preview=preview,
        previewable=previewable,
    )
