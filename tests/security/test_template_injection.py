"""Template injection: hostile templates are refused or neutralised, quickly, and leak nothing.

Moved here from ``tests/adapters/test_templates.py`` to sit with the rest of the security corpus.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cadence.adapters.templates import TemplateError
from tests.adapters.test_templates import SAMPLES, Folder, variables

SECRET = "s3cr3t-value-that-must-not-leak"

# (id, template source): each must be refused (TemplateError) or neutralised (no class or secret info).
HOSTILE = [
    ("subclasses", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("class of a variable", "{{ lead.__class__ }}"),
    ("class by subscript", "{{ lead['__class__'] }}"),
    ("class by attr filter", "{{ lead | attr('__class__') }}"),
    ("class through map", "{{ [lead] | map(attribute='__class__') | list }}"),
    ("cycler globals", "{{ cycler.__init__.__globals__ }}"),
    ("self globals", "{{ self.__init__.__globals__ }}"),
    ("joiner globals", "{{ joiner.__init__.__globals__['os'] }}"),
    ("namespace globals", "{{ namespace.__init__.__globals__ }}"),
    ("loop class", "{% for x in [1] %}{{ loop.__class__ }}{% endfor %}"),
    ("percent format of a variable", '{{ "%s" | format(lead) }}'),
    ("percent format of a class", '{{ "%r" | format(joiner) }}'),
    ("percent operator on a function", '{{ "%s" % range }}'),
    ("str.format attribute", '{{ "{0.__class__}".format(lead) }}'),
    ("str.format globals", '{{ "{0.__init__.__globals__}".format(joiner) }}'),
    ("str.format_map", '{{ "{x.__class__}".format_map({"x": lead}) }}'),
    ("a function printed", "{{ lead.items }}"),
    ("a class printed", "{{ joiner }}"),
    ("a class as text", "{{ joiner | string }}"),
    ("a template reference printed", "{{ self }}"),
    ("changing a dict", "{% set _ = lead.custom.update({'x': 1}) %}{{ lead.custom }}"),
    ("changing a list", "{% set _ = qualifying_questions.append('x') %}ok"),
    ("huge range", "{% for i in range(10**9) %}x{% endfor %}"),
    ("huge range, literal", "{% for i in range(1000000000) %}{% endfor %}"),
    ("huge repetition", '{{ "x" * 10**9 }}'),
    ("huge list repetition", "{{ [1] * 10**9 }}"),
    ("huge power", "{{ 10 ** 100000 }}"),
    ("huge product", "{{ (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) * (10 ** 1000) }}"),
    ("huge center", '{{ "x" | center(1000000000) }}'),
    ("huge ljust", '{{ "x".ljust(1000000000) }}'),
    ("huge format width", '{{ "{0:>1000000000}".format(1) }}'),
    ("huge percent width", '{{ "%1000000000s" | format(1) }}'),
    ("dynamic percent width", '{{ "%*s" % (1000000000, "x") }}'),
    ("huge indent", '{{ ("\\n" * 100000) | indent(1000) }}'),
    ("huge replace", '{{ ("x" * 100000) | replace("x", "y" * 1000) }}'),
    ("huge join", '{{ ["x" * 100000] * 1 + ["y" * 100000] * 1 }}'),
    (
        "doubling with ~",
        '{% set ns = namespace(s="x") %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}',
    ),
    (
        "doubling with +",
        '{% set ns = namespace(s="x") %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}',
    ),
    (
        "nested loops",
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
    ),
    (
        "exponential macro",
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    ),
    ("endless macro", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
    ("doubling macro", '{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f("x") }}'),
    (
        "buffered output",
        "{% set big %}{% for i in range(1000) %}{% for j in range(100) %}{{ 'z' * 100000 }}"
        "{% endfor %}{% endfor %}{% endset %}",
    ),
    ("a block calling itself", "{% block a %}{{ self.a() }}{% endblock %}"),
    ("including itself", "{% include 'calls/hostile' %}"),
    ("extending itself", "{% extends 'calls/hostile' %}"),
    ("include outside the folder", "{% include '../../etc/passwd' %}"),
    ("include an absolute path", "{% include '/etc/passwd' %}"),
    ("import a missing file", "{% import 'x' as y %}{{ y }}"),
    ("lorem ipsum", "{{ lipsum(n=1000000) }}"),
    ("endless cycler", "{{ cycler(1, 2) | list }}"),
    ("environment variables", "{{ self._TemplateReference__context.environment }}"),
    ("secret by name", "{{ SECRET }}"),
]

LEAKS = ("<class", "__", "jinja2", "function", "object at 0x", "globals", "subclasses", "builtins", SECRET)


@pytest.mark.parametrize(("case", "source"), HOSTILE, ids=[case for case, _ in HOSTILE])
def test_hostile_templates_are_refused_or_neutralised_quickly(
    folder: Folder, monkeypatch: pytest.MonkeyPatch, case: str, source: str
) -> None:
    monkeypatch.setenv("SECRET", SECRET)
    templates = folder(**{"calls/hostile": source})
    started = time.monotonic()
    refused: TemplateError | None = None
    output = ""
    try:
        output = templates.render_text("calls/hostile", variables())
    except TemplateError as exc:
        refused = exc
    assert time.monotonic() - started < 5
    if refused is not None:
        assert "calls/hostile.j2" in str(refused)
    assert not any(leak in output for leak in LEAKS), output[:300]
    assert len(output) <= 200_000


def test_including_a_file_outside_the_folder_through_a_symlink_is_refused(folder: Folder, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.j2"
    outside.write_text(SECRET, encoding="utf-8")
    templates = folder(**{"calls/x": "{% include 'calls/link' %}"})
    os.symlink(outside, templates.folder / "calls" / "link.j2")
    with pytest.raises(TemplateError, match="outside"):
        templates.render_text("calls/x", variables())


def test_hostile_lead_values_render_as_plain_data(folder: Folder) -> None:
    templates = folder(**{"calls/x": "{{ lead.title }}|{{ lead.custom.webinar }}"})
    output = templates.render_text("calls/x", SAMPLES[2])
    assert output == "{{ 7*7 }} {% raw %}|{{ lead }}"
