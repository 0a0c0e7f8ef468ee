"""What marketers (and managers) see: the cadences as timelines, the templates with their checks, live previews.

Everything is read from the templates folder at each request, so that an edit shows at the next
reload (:mod:`cadence.services.workspace.templates`). A preview renders exactly what cadence would
send (or give the rep) for the chosen lead now, and writes nothing
(:mod:`cadence.services.workspace.previews`); the HTML part is shown in an ``<iframe sandbox
srcdoc>``: no scripts, no forms, no navigation, and no images or other fetches (the page's
Content-Security-Policy applies to it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from cadence.errors import NotFound
from cadence.services.workspace.previews import preview_for
from cadence.services.workspace.templates import (
    cadence_views,
    running_versions,
    template_info,
    templates_overview,
)
from cadence.web.auth import MarketingDep, guarded_router
from cadence.web.charts import CHANNEL_COLORS, cadence_timeline
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import not_found, workspace_page

router = guarded_router()

LEAD_CHOICES = 200
"""How many leads the preview's lead field suggests (any address may be typed)."""


@router.get("/cadences")
def cadences_page(request: Request, ctx: ContextDep, viewer: MarketingDep) -> Response:
    """Every cadence as a timeline from Day 0 to its last step, by channel, with its steps and settings.

    With each cadence: how many enrollments under way run on each of its versions, and whether some
    run on an older version than the one in use.
    """
    ctx.refresh_templates()
    views = cadence_views(ctx.templates_dir)
    charts = {view.path: cadence_timeline(view.cadence) for view in views if view.cadence is not None}
    return workspace_page(
        request,
        ctx,
        viewer,
        "cadences.html",
        views=sorted(views, key=lambda v: (v.cadence is None or v.cadence.name != "default", v.path)),
        charts=charts,
        channel_colors=CHANNEL_COLORS,
        running=running_versions(ctx),
    )


@router.get("/templates")
def templates_page(request: Request, ctx: ContextDep, viewer: MarketingDep) -> Response:
    """Every template, what uses it and its check result; the faults of the cadence and rules files too."""
    ctx.refresh_templates()
    overview = templates_overview(ctx)
    return workspace_page(
        request,
        ctx,
        viewer,
        "message_templates.html",
        rows=overview.rows,
        others=overview.others,
        report=overview.report,
    )


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
    ctx.refresh_templates()
    try:
        info = template_info(ctx, name)
    except NotFound:
        raise not_found() from None
    shown = preview_for(ctx, name, info.kind, lead, now=clock(), choices=LEAD_CHOICES)
    return workspace_page(
        request,
        ctx,
        viewer,
        "template_preview.html",
        template=name,
        file=info.file,
        kind=info.kind,
        problems=info.problems,
        used_by=info.used_by,
        contract=info.contract,
        used_names=info.used_names,
        used_keys=info.used_keys,
        choices=shown.choices,
        chosen=shown.chosen,
        preview=shown.preview,
        previewable=info.previewable,
    )
