"""``cadence templates check`` refuses a cadence whose email waits for research that never comes."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import TEMPLATES, Cli


def test_templates_check_refuses_a_wait_for_research_without_a_research_step(tmp_path: Path, run_cli: Cli) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    nurture = folder / "cadences" / "nurture.yaml"
    step = "    template: email/introduction\n"
    nurture.write_text(nurture.read_text().replace(step, step + "    wait_for: research\n", 1))
    result = run_cli("templates", "check", str(folder), "--json", expect=1).json()
    reasons = [p["reason"] for p in result["problems"]]
    assert any("waits for the research, but no research step comes before it" in r for r in reasons), reasons


def test_templates_check_accepts_the_research_findings_as_variables(tmp_path: Path, run_cli: Cli) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    default = folder / "cadences" / "default.yaml"
    step = "    template: email/introduction\n"
    default.write_text(default.read_text().replace(step, step + "    wait_for: research\n", 1))
    intro = folder / "email" / "introduction.j2"
    intro.write_text(intro.read_text().replace("{% block subject %}", "{% block subject %}{{ lead.topic or '' }} ", 1))
    run_cli("templates", "check", str(folder), "--json", expect=0)
