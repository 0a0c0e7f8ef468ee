"""The server-drawn SVG charts: well-formed, labelled, and everything inside the drawing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from cadence.adapters.files import load_cadences
from cadence.web.charts import PALETTE, Series, _text_width, bar_chart, cadence_timeline
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
