"""Charts drawn on the server as inline SVG: no script, no external asset, readable without colour.

Every chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>``; the pages show the same
numbers in a table next to it. Text is escaped here (labels come from the data), and takes the
page's text colour (``currentColor``), so that charts read in dark mode too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from cadence.core.cadences import Cadence, Channel

# Okabe-Ito: told apart by people with the common colour-vision deficiencies.
BLUE, ORANGE, GREEN, PINK, SKY, VERMILLION, YELLOW, GREY = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#8A8A8A",
)
PALETTE = (BLUE, ORANGE, GREEN, PINK, SKY, VERMILLION, YELLOW, GREY)
CHANNEL_COLORS: dict[str, str] = {
    Channel.EMAIL.value: BLUE,
    Channel.CALL.value: VERMILLION,
    Channel.LINKEDIN.value: SKY,
    Channel.RESEARCH.value: GREEN,
    Channel.POSTCARD.value: PINK,
    Channel.TASK.value: ORANGE,
}
CHANNEL_ORDER = tuple(CHANNEL_COLORS)
CLASS_COLORS: dict[str, str] = {"A": GREEN, "B": BLUE, "C": ORANGE, "D": PINK, "inbound": VERMILLION, "-": GREY}
"""The classes of the default rules, and "-" (no class). Other names get a colour from their name alone."""
_OTHER_CLASS_COLORS = (SKY, YELLOW, PINK, ORANGE, BLUE, GREEN)
_FONT = 'font-family="system-ui, sans-serif"'
_LEGEND_LINE = 20.0


@dataclass(frozen=True)
class Series:
    """One kind of bar: its name (in the legend) and colour."""

    name: str
    color: str


def class_color(name: str | None) -> str:
    """The colour of the lead class ``name``, the same on every install and whatever other classes exist.

    The default rules' classes have fixed colours; any other name is hashed, so that it keeps its
    colour when classes are added, removed or reordered.
    """
    key = name or "-"
    if key in CLASS_COLORS:
        return CLASS_COLORS[key]
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return _OTHER_CLASS_COLORS[digest[0] % len(_OTHER_CLASS_COLORS)]


def _id(kind: str, title: str) -> str:
    return f"{kind}-{hashlib.sha256(title.encode('utf-8')).hexdigest()[:10]}"


def _num(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _text_width(text: str, size: float = 13) -> float:
    return len(text) * size * 0.58


def _svg(kind: str, title: str, description: str, width: float, height: float, body: list[str]) -> Markup:
    ident = _id(kind, title)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" aria-labelledby="{ident}-t {ident}-d" '
        f'{_FONT} font-size="13">'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(description)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _legend(series: Sequence[Series], x0: float, width: float) -> tuple[list[str], int]:
    """The legend's swatches from ``x0``, wrapped to a new line (back at ``x0``) before ``width``; and its lines."""
    parts: list[str] = []
    x, line = x0, 0
    for item in series:
        item_w = 17 + _text_width(item.name)
        if x > x0 and x + item_w > width:
            x, line = x0, line + 1
        y = 16 + line * _LEGEND_LINE
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" rx="2" fill="{item.color}"/>'
            f'<text x="{x + 17:.1f}" y="{y:.1f}" fill="currentColor">{escape(item.name)}</text>'
        )
        x += item_w + 18
    return parts, line + 1


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[Series],
    *,
    stacked: bool = False,
    width: int = 640,
) -> Markup:
    """Horizontal bars: one row per ``(label, values)``, one value per series, stacked or side by side."""
    label_w = min(220.0, max([_text_width(label) for label, _ in rows] + [40.0]) + 12)
    value_w = 56.0
    area = max(80.0, width - label_w - value_w)
    legend, legend_lines = _legend(series, min(label_w, width / 4), width - 4) if len(series) > 1 else ([], 0)
    top = 8.0 + legend_lines * _LEGEND_LINE if legend else 6.0
    per_bar = 12.0
    row_h = 26.0 if stacked or len(series) == 1 else per_bar * len(series) + 10
    totals = [sum(values) if stacked else max(values, default=0) for _, values in rows]
    scale = area / max([*totals, 1.0])
    height = top + row_h * max(len(rows), 1) + 6
    body: list[str] = [*legend]
    if not rows:
        body.append(f'<text x="{label_w:.1f}" y="{top + 17:.1f}" fill="currentColor">No data yet.</text>')
    for i, (label, values) in enumerate(rows):
        y = top + i * row_h
        body.append(
            f'<text x="{label_w - 8:.1f}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end" fill="currentColor">'
            f"{escape(label)}</text>"
        )
        x = label_w
        for j, (item, value) in enumerate(zip(series, values, strict=False)):
            length = value * scale
            tip = f"{label}: {item.name} {_num(value)}"
            if stacked or len(series) == 1:
                bar_y, bar_h = y + 4, row_h - 8
                bar_x = x
                x += length
            else:
                bar_y, bar_h = y + 5 + j * per_bar, per_bar - 2
                bar_x = label_w
                if value > 0:
                    body.append(
                        f'<text x="{label_w + length + 4:.1f}" y="{bar_y + bar_h - 1:.1f}" font-size="11" '
                        f'fill="currentColor">{_num(value)}</text>'
                    )
            if value > 0:
                body.append(
                    f'<rect x="{bar_x:.1f}" y="{bar_y:.1f}" width="{max(length, 1.5):.1f}" height="{bar_h:.1f}" '
                    f'fill="{item.color}"><title>{escape(tip)}</title></rect>'
                )
        if stacked or len(series) == 1:
            total = sum(values)
            body.append(f'<text x="{x + 6:.1f}" y="{y + row_h / 2 + 4:.1f}" fill="currentColor">{_num(total)}</text>')
    description = (
        "; ".join(
            f"{label}: " + ", ".join(f"{s.name} {_num(v)}" for s, v in zip(series, values, strict=False))
            for label, values in rows
        )
        or "No data yet."
    )
    return _svg("bars", title, description, width, height, body)


def cadence_timeline(cadence: Cadence, *, width: int = 760) -> Markup:
    """The cadence from Day 0 to its last step: one row per channel, one dot per step at its day."""
    channels = [c for c in CHANNEL_ORDER if any(s.channel.value == c for s in cadence.steps)]
    radius = 8.0 if len(cadence.steps) < 10 else 10.0  # room for a two-digit step number
    nudge_px = radius + 2
    same_slot: dict[tuple[int, str], int] = {}
    for step in cadence.steps:
        same_slot[(step.day, step.channel.value)] = same_slot.get((step.day, step.channel.value), 0) + 1
    last = max([s.day for s in cadence.steps] + [1])
    # The steps of the last day, nudged right when they share a row, stay inside the drawing.
    last_nudges = max([n - 1 for (day, _), n in same_slot.items() if day == last] + [0])
    label_w, pad, top, row_h = 84.0, 14.0, 34.0, 30.0
    right = radius + 4 + last_nudges * nudge_px
    px = (width - label_w - pad - right) / last
    height = top + row_h * max(len(channels), 1) + 34

    def x(day: int) -> float:
        return label_w + pad + day * px  # a step on day 0 clears the channel's name

    body: list[str] = []
    bottom = top + row_h * len(channels)
    for day in sorted({0, *(s.day for s in cadence.steps)}):
        body.append(
            f'<line x1="{x(day):.1f}" y1="{top - 6:.1f}" x2="{x(day):.1f}" y2="{bottom:.1f}" '
            f'stroke="currentColor" stroke-opacity="0.18"/>'
            f'<text x="{x(day):.1f}" y="{bottom + 18:.1f}" text-anchor="middle" font-size="12" '
            f'fill="currentColor">{day}</text>'
        )
    body.append(
        f'<text x="{x(0):.1f}" y="{top - 14:.1f}" font-size="12" fill="currentColor">Day 0: enrolled</text>'
        f'<text x="{label_w - 8:.1f}" y="{bottom + 18:.1f}" text-anchor="end" font-size="12" '
        f'fill="currentColor">day</text>'
    )
    for row, channel in enumerate(channels):
        y = top + row * row_h + row_h / 2
        body.append(
            f'<text x="{label_w - 8:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">'
            f"{escape(channel)}</text>"
            f'<line x1="{label_w:.1f}" y1="{y:.1f}" x2="{width - right:.1f}" y2="{y:.1f}" '
            f'stroke="currentColor" stroke-opacity="0.12"/>'
        )
    placed: dict[tuple[int, str], int] = {}
    for number, step in enumerate(cadence.steps, start=1):
        channel = step.channel.value
        y = top + channels.index(channel) * row_h + row_h / 2
        nudge = placed.get((step.day, channel), 0)
        placed[(step.day, channel)] = nudge + 1
        cx = x(step.day) + nudge * nudge_px
        what = ", ".join(step.templates) if step.templates else "no template"
        tip = f"Step {number}: day {step.day}, {channel}, {what}"
        body.append(
            f'<g><title>{escape(tip)}</title><circle cx="{cx:.1f}" cy="{y:.1f}" r="{radius:g}" '
            f'fill="{CHANNEL_COLORS.get(channel, GREY)}" stroke="#ffffff" stroke-width="1.5"/>'
            f'<text x="{cx:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="10" font-weight="700" '
            f'fill="#ffffff">{number}</text></g>'
        )
    description = "; ".join(f"step {n}: day {s.day} {s.channel.value}" for n, s in enumerate(cadence.steps, start=1))
    return _svg("timeline", f"Cadence {cadence.name}: steps by day and channel", description, width, height, body)
