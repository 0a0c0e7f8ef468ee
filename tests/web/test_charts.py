"""The server-drawn SVG charts: well-formed, labelled, and everything inside the drawing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from cadence.adapters.files import load_cadences
from cadence.core.cadences import parse_cadence
from cadence.web.charts import PALETTE, Series, _text_width, bar_chart, cadence_timeline, class_color
from tests.conftest import TEMPLATES

SVG = "{http://www.w3.org/2000/svg}"


def test_a_legend_too_wide_for_one_line_wraps_inside_the_chart() -> None:
    names = ["class A", "class B", "class C", "class inbound", "no class", "class with a long name"]
    series = [Series(name, PALETTE[i]) for i, name in enumerate(names)]
    chart = ET.fromstring(str(bar_chart("Leads", [("active", [1, 2, 3, 4, 5, 6])], series, stacked=True, width=480)))
    width = float(chart.attrib["width"])
    legend = [t for t in chart.iter(f"{SVG}text") if t.text in names]
    assert [t.text for t in legend] == names
    for text in legend:
        assert float(text.attrib["x"]) + _text_width(text.text or "") <= width, text.text
    lines = sorted({float(t.attrib["y"]) for t in legend})
    assert len(lines) >= 2
    bars = [r for r in chart.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert min(float(r.attrib["y"]) for r in bars) > lines[-1]  # the bars start below the legend


def test_a_step_on_day_0_does_not_sit_on_its_channels_name() -> None:
    inbound = load_cadences(TEMPLATES)["inbound"]
    chart = ET.fromstring(str(cadence_timeline(inbound)))
    labels = {t.text: t for t in chart.iter(f"{SVG}text") if t.attrib.get("text-anchor") == "end"}
    circles = [float(c.attrib["cx"]) for c in chart.iter(f"{SVG}circle")]
    label_end = float(labels["call"].attrib["x"])
    assert min(circles) - 8 > label_end  # radius 8
    assert re.search(r"step 1: day 0 call", chart.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def circles_of(chart: ET.Element) -> list[tuple[float, float]]:
    return [(float(c.attrib["cx"]), float(c.attrib["r"])) for c in chart.iter(f"{SVG}circle")]


def test_every_circle_of_every_shipped_cadence_stays_inside_the_drawing() -> None:
    for cadence in load_cadences(TEMPLATES).values():
        chart = ET.fromstring(str(cadence_timeline(cadence)))
        width = float(chart.attrib["width"])
        for cx, r in circles_of(chart):
            assert cx + r + 1 <= width, cadence.name  # the 1.5 px white stroke included


def test_steps_sharing_the_last_day_and_channel_stay_inside_the_drawing() -> None:
    steps = [{"day": 1, "channel": "email", "template": "email/introduction"}] + [
        {"day": 9, "channel": "call", "template": "calls/discovery"} for _ in range(3)
    ]
    chart = ET.fromstring(str(cadence_timeline(parse_cadence({"name": "crowded", "steps": steps}))))
    width = float(chart.attrib["width"])
    last = sorted(circles_of(chart))[-3:]
    assert len({cx for cx, _ in last}) == 3  # side by side, not on top of each other
    assert all(cx + r + 1 <= width for cx, r in last)


def test_a_two_digit_step_number_fits_in_its_circle() -> None:
    default = load_cadences(TEMPLATES)["default"]
    assert len(default.steps) >= 10
    chart = ET.fromstring(str(cadence_timeline(default)))
    assert all(r >= 10 for _, r in circles_of(chart))


def test_class_colours_are_fixed_per_name_whatever_classes_exist() -> None:
    assert class_color("A") == class_color("A") != class_color("B")
    assert class_color(None) == class_color("-")
    assert class_color("enterprise") == class_color("enterprise")  # the same on every install
    assert class_color("enterprise") in PALETTE
