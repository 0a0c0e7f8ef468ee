"""Edit templates and cadences in the browser (marketers and managers): every save a checked version.

``/editor/PATH`` (``PATH`` a file of the templates folder, e.g. ``email/introduction.j2`` or
``cadences/default.yaml``) shows the file in a plain textarea, the preview of the version in use for a
chosen lead beside it, and the file's history: the diff between two versions (difflib) and a button to
restore one. A save runs the checks of ``cadence templates check`` on the folder as it would be and
refuses a broken file with its line and reason (:mod:`cadence.services.template_store`); CSRF and roles
are those of the rest of the workspace.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Query, Request, Response

from cadence.errors import CadenceError, NotFound, ValidationError
from cadence.services import template_store
from cadence.services.context import Context
from cadence.services.template_checks import Problem
from cadence.services.users import Viewer
from cadence.services.workspace.previews import preview_for
from cadence.services.workspace.sessions import flash
from cadence.services.workspace.templates import template_info
from cadence.web.auth import FormDep, MarketingDep, guarded_router, redirect
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import not_found, workspace_page

router = guarded_router()

LEAD_CHOICES = 200


def _store_files(ctx: Context, now: Any) -> dict[str, template_store.FileVersion]:
    """The store's files; an empty store is first loaded from the templates folder (its first use)."""
    with ctx.sessions.begin() as session:
        template_store.seed(session, ctx.settings.templates_dir, now=now)
        files = template_store.current_files(session)
    ctx.refresh_templates()
    return files


def _editor(
    request: Request,
    ctx: Context,
    viewer: Viewer,
    path: str,
    *,
    now: Any,
    lead: str = "",
    old: int | None = None,
    new: int | None = None,
    content: str | None = None,
    comment: str = "",
    problems: list[Problem] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        path = template_store.clean_path(path)
    except CadenceError:
        raise not_found() from None
    files = _store_files(ctx, now)
    if path not in files:
        raise not_found()
    with ctx.sessions() as session:
        versions = template_store.history(session, path)
        try:
            diff = template_store.diff(session, path, old, new) if old is not None and new is not None else None
        except NotFound:
            diff = None
    preview = info = None
    if path.endswith(".j2"):
        name = path[: -len(".j2")]
        try:
            info = template_info(ctx, name)
        except NotFound:
            info = None
        if info is not None and info.previewable:
            preview = preview_for(ctx, name, info.kind, lead, now=now, choices=LEAD_CHOICES)
    return workspace_page(
        request,
        ctx,
        viewer,
        "editor.html",
        status_code=status_code,
        path=path,
        latest=files[path],
        content=files[path].content if content is None else content,
        comment=comment,
        problems=problems or [],
        error=error,
        versions=versions,
        diff=diff,
        old=old,
        new=new,
        info=info,
        shown=preview,
        lead=lead,
    )


@router.get("/editor")
def editor_index(ctx: ContextDep, clock: ClockDep, viewer: MarketingDep) -> Response:
    """The editor starts on the templates page (every file there links to it)."""
    return redirect("/templates")


@router.get("/editor/{path:path}")
def editor_page(
    request: Request,
    ctx: ContextDep,
    clock: ClockDep,
    viewer: MarketingDep,
    path: str,
    lead: Annotated[str, Query(max_length=320)] = "",
    old: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    new: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """The file in a textarea, the preview of the version in use beside it, its versions and a diff of two."""
    return _editor(request, ctx, viewer, path, now=clock(), lead=lead, old=old, new=new)


@router.post("/editor/{path:path}")
def editor_save(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: MarketingDep, form: FormDep, path: str
) -> Response:
    """Save the textarea as a new version (or restore version ``restore``), after the checks."""
    now = clock()
    restoring = form.get("restore", "").strip()
    content = form.get("content", "")
    comment = form.get("comment", "")
    try:
        path = template_store.clean_path(path)
    except CadenceError:
        raise not_found() from None
    _store_files(ctx, now)
    try:
        with ctx.sessions.begin() as session:
            if restoring:
                if not restoring.isdigit():
                    raise ValidationError("choose a version to restore")
                saved = template_store.restore(session, path, int(restoring), by=viewer.email, now=now)
            else:
                saved = template_store.save(session, path, content, by=viewer.email, now=now, comment=comment)
    except template_store.SaveRefused as refused:
        return _editor(request, ctx, viewer, path, now=now, content=None if restoring else content, comment=comment,
                       problems=refused.problems, status_code=422)  # fmt: skip
    except NotFound:
        raise not_found() from None
    except CadenceError as exc:
        return _editor(request, ctx, viewer, path, now=now, content=content, comment=comment, error=str(exc),
                       status_code=422)  # fmt: skip
    ctx.refresh_templates()
    flash(ctx, viewer, f"Saved {path} as version {saved.version}: in use from the next run.")
    return redirect(f"/editor/{quote(path)}")
