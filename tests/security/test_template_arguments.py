"""Finding 5 of #28: a filter argument that multiplies the work is refused before the work is done."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import jinja2.filters
import pytest

from cadence.adapters.templates import TemplateError, Templates
from cadence.adapters.templates.growth import BOUNDED_IN_SANDBOX, BOUNDS, NO_GROWTH

# Each would allocate 50 MB to 300 MB before its result could be measured; at 100000000 (the
# finding) tojson allocated 2.8 GB.
MULTIPLYING = [
    ("tojson with a wide indent", "{{ [1, [2, [3]]] | tojson(indent=10000000) }}"),
    ("tojson with a long text indent", '{{ ([[1]] * 100) | tojson(indent=" " * 100000) }}'),
    ("wordwrap with a long wrapstring", '{{ ("a " * 50000) | wordwrap(1, wrapstring="-" * 1000) }}'),
    ("urlize with a long target", '{{ ("http://a.example " * 5000) | urlize(target="_" * 10000) }}'),
    ("urlize with a long rel", '{{ ("http://a.example " * 5000) | urlize(rel="r" * 10000) }}'),
    ("tojson through map", "{{ [[1, [2, [3]]]] | map('tojson', 10000000) | list }}"),
]

PEAK_BYTES = 10_000_000


def render(tmp_path: Path, source: str) -> str:
    """Render ``source`` as a task template of a fresh folder."""
    path = tmp_path / "calls" / "x.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return Templates(tmp_path).render_text("calls/x", {})


@pytest.mark.parametrize(("case", "source"), MULTIPLYING, ids=[case for case, _ in MULTIPLYING])
def test_a_filter_argument_that_multiplies_the_output_is_refused_before_allocating_it(
    tmp_path: Path, case: str, source: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match="would be longer than 200000 characters"):
            render(tmp_path, source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{case}: {peak / 1e6:.0f} MB allocated before the refusal"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ {"a": [1]} | tojson(indent=2) }}', '{\n  "a": [\n    1\n  ]\n}'),
        ('{{ "one two three" | wordwrap(8, wrapstring="<br>") }}', "one two<br>three"),
        ('{{ "see http://a.example" | urlize(target="_blank") }}', 'target="_blank"'),
    ],
)
def test_the_same_filters_with_ordinary_arguments_still_work(tmp_path: Path, source: str, expected: str) -> None:
    assert expected in render(tmp_path, source)


def test_every_jinja_filter_is_known_to_grow_or_not_with_its_arguments() -> None:
    reviewed = set(BOUNDS) | BOUNDED_IN_SANDBOX | NO_GROWTH
    assert set(jinja2.filters.FILTERS) - reviewed == set()
