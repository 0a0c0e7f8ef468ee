"""The results report (``cadence report``, the ``weekly-report`` flow): "you get what you measure" (seed 003).

Sections: the funnel; each cadence step; each template variant of a step, with a significance
test; conversion by source, class and cadence; the time from enrollment to the first response and
to the decision; decisions by outcome and reason, with meetings booked without the qualifying
answers flagged; each owner's leads, tasks and outcomes.

Every figure is aggregated by the database (counts, sums, averages, and medians read with
``ORDER BY ... OFFSET``); only grouped rows come back, so the report's memory does not grow with
the number of leads. What became of each enrollment in the period is computed once, into a
temporary table that every section reads. The rules behind the numbers are part of the report
(:data:`RULES`).

The package, one job a module: :mod:`.build` (:func:`build_report`, :func:`generate_report`),
:mod:`.scope` (the period, the facts table, SQL helpers), one module per group of sections
(:mod:`.conversion`: funnel, conversion, timing; :mod:`.steps`: steps and variants;
:mod:`.decisions`; :mod:`.owners`), :mod:`.render` (text, markdown, CSV) and :mod:`.rules`.
"""

from cadence.services.reports.build import build_report, generate_report
from cadence.services.reports.render import render_csv, render_markdown, render_text
from cadence.services.reports.rules import (
    ALPHA,
    CONTACT_TASK_CHANNELS,
    EXECUTED_STATES,
    HANDOFF_OUTCOME,
    MAX_FLAGGED,
    MEETING_OUTCOMES,
    MIN_SENDS,
    ON_TIME_GRACE_SECONDS,
    RESPONSE_KINDS,
    RULES,
    TOP_REASONS,
)

__all__ = [
    "ALPHA",
    "CONTACT_TASK_CHANNELS",
    "EXECUTED_STATES",
    "HANDOFF_OUTCOME",
    "MAX_FLAGGED",
    "MEETING_OUTCOMES",
    "MIN_SENDS",
    "ON_TIME_GRACE_SECONDS",
    "RESPONSE_KINDS",
    "RULES",
    "TOP_REASONS",
    "build_report",
    "generate_report",
    "render_csv",
    "render_markdown",
    "render_text",
]
