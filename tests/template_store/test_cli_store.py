"""``cadence init`` seeds the store; ``cadence templates export`` / ``import`` keep it in a folder (git)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TEMPLATES, Cli


def test_init_seeds_the_store_and_export_import_round_trip(run_cli: Cli, tmp_path: Path) -> None:
    first = run_cli("init")
    assert "template store: " in first.stdout
    assert f"files loaded from {TEMPLATES}" in first.stdout
    assert "template store" not in run_cli("init").stdout  # seeded once

    out = tmp_path / "git"
    assert "files written to" in run_cli("templates", "export", str(out)).stdout
    assert (out / "email" / "introduction.j2").read_text() == (TEMPLATES / "email" / "introduction.j2").read_text()
    assert run_cli("templates", "import", str(out)).stdout.strip().endswith("nothing changed")

    intro = out / "email" / "introduction.j2"
    intro.write_text(intro.read_text().replace("{% block subject %}", "{% block subject %}Git: ", 1))
    imported = run_cli("templates", "import", str(out), "--by", "ops@cadence.example")
    assert "email/introduction.j2: version 2" in imported.stdout

    intro.write_text("{% block subject %}Hi {{ lead.first_name }{% endblock %}\n")
    refused = run_cli("templates", "import", str(out), expect=1)
    assert "email/introduction.j2:1: " in refused.stdout
    assert "nothing imported" in refused.stdout
    again = tmp_path / "again"
    run_cli("templates", "export", str(again))
    assert "Git: " in (again / "email" / "introduction.j2").read_text()  # the refused import changed nothing
