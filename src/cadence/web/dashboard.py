"""The managers' dashboard: leads by status and class, each cadence's funnel, decisions, each rep's tasks.

The numbers come from :mod:`cadence.services.workspace.dashboard`, computed in the background
(:mod:`cadence.services.dashboard_snapshot`); the charts are drawn here as inline SVG
(:mod:`cadence.web.charts`), with the same numbers in tables.
"""

from __future__ import annotations

from fastapi import Request, Response

from cadence.services.dashboard import DONE_WINDOW_DAYS
from cadence.services.dashboard_snapshot import numbers as dashboard_numbers
from cadence.web.auth import ManagerDep, guarded_router
from cadence.web.charts import BLUE, GREEN, GREY, ORANGE, VERMILLION, Series, bar_chart, class_color
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import workspace_page

router = guarded_router()


@router.get("/dashboard")
def dashboard_page(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep) -> Response:
    """Where the leads stand, how each cadence converts step by step, why leads were decided, and who is behind."""
    now = clock()
    found = dashboard_numbers(ctx, now=now)
    numbers = found.overview
    leads, funnels, decisions, reps = numbers.leads, numbers.funnels, numbers.decisions, numbers.reps

    class_series = [Series("no class" if c == "-" else f"class {c}", class_color(c)) for c in leads.classes]
    leads_chart = bar_chart(
        "Leads by status and class",
        [(status, [leads.cells.get((status, c), 0) for c in leads.classes]) for status in leads.statuses],
        class_series,
        stacked=True,
        width=480,
    )
    funnel_series = [Series("sent", GREY), Series("replied", BLUE), Series("meetings", GREEN)]
    funnel_charts = {
        funnel.cadence: bar_chart(
            f"Funnel of the cadence {funnel.cadence}",
            [
                (
                    "Day 0" if step.index == -1 else f"{step.index + 1}. day {step.day} {step.channel}",
                    [step.reached, step.replied, step.meetings],
                )
                for step in funnel.steps
            ],
            funnel_series,
            width=480,
        )
        for funnel in funnels
        if funnel.enrolled
    }
    decisions_chart = bar_chart(
        "Decisions by outcome",
        [(d.outcome.replace("_", " "), [d.count]) for d in decisions],
        [Series("leads", BLUE)],
        width=480,
    )
    tasks_chart = bar_chart(
        "Open tasks by rep",
        [(r.name, [r.overdue, r.open - r.overdue]) for r in reps],
        [Series("overdue", VERMILLION), Series("not overdue", ORANGE)],
        stacked=True,
        width=480,
    )
    return workspace_page(
        request,
        ctx,
        viewer,
        "dashboard.html",
        leads=leads,
        leads_chart=leads_chart,
        funnels=funnels,
        funnel_charts=funnel_charts,
        decisions=decisions,
        decisions_chart=decisions_chart,
        reps=reps,
        tasks_chart=tasks_chart,
        done_window=DONE_WINDOW_DAYS,
        late_answers=numbers.late_answers,
        stuck=numbers.stuck,
        stuck_total=numbers.stuck_total,
        now=now,
        sla_hours=ctx.settings.response_sla_hours,
        inbound_review=found.inbound_review,
        webhooks=found.webhooks,
        first_touch=found.first_touch,
        taken_at=found.taken_at,
        refresh_seconds=ctx.settings.dashboard_refresh_seconds,
    )
