"""``cadence templates check`` and ``cadence templates preview``, end to end through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cadence.services.template_checks import Problem, check_templates
from tests.conftest import TEMPLATES, Cli

NOW = "2026-11-23T14:00:00+00:00"  # a Monday

LEADS_CSV = """\
Email,First Name,Last Name,Title,Company,Industry,Company Size,Country,Timezone,Source,Interactions,Topic
ada@acme.example,Ada,Lovelace,VP Engineering,Acme,Software,500,US,America/New_York,webinar,3,pipeline hygiene
"""


@pytest.fixture(scope="session", autouse=True)
def templates_command() -> None:
    """Register ``cadence templates`` unless cadence.cli does it already."""
    from cadence.cli import app
    from cadence.cli.templates import templates_app

    if not any(g.typer_instance is templates_app or g.name == "templates" for g in app.registered_groups):
        app.add_typer(templates_app, name="templates")


@pytest.fixture
def check_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI for commands that read files only (no database)."""
    monkeypatch.chdir(tmp_path)
    return Cli({"CADENCE_TEMPLATES_DIR": str(TEMPLATES), "CADENCE_DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped templates folder, to break."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    return copy


TEMPLATE_COUNT = len(list(TEMPLATES.rglob("*.j2")))
CADENCE_COUNT = len(list((TEMPLATES / "cadences").glob("*.yaml")))
SHIPPED_OK = f"{TEMPLATE_COUNT} templates and {CADENCE_COUNT} cadences OK"


def inject(path: Path, after: str, text: str) -> int:
    """Insert ``text`` as a new line after the first line containing ``after``; return the new line's number."""
    lines = path.read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if after in line)
    lines.insert(index + 1, text)
    path.write_text("\n".join(lines), encoding="utf-8")
    return index + 2


def line_of(path: Path, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")) if needle in line)


def problems_of(check_cli: Cli, folder: Path) -> list[str]:
    """Run the check on ``folder``, expecting failure; return its problem lines."""
    result = check_cli("templates", "check", str(folder), expect=1)
    lines = result.stdout.strip().split("\n")
    assert "problem" in lines[-1]
    return lines[:-1]


# -- check ----------------------------------------------------------------------------------------


def test_the_shipped_templates_and_cadences_pass_the_check_without_a_database(check_cli: Cli, tmp_path: Path) -> None:
    result = check_cli("templates", "check")
    assert result.stdout.strip() == SHIPPED_OK
    assert not (tmp_path / "unused.db").exists()


def test_the_check_of_the_shipped_folder_as_json_lists_no_problem(check_cli: Cli) -> None:
    report = check_cli("templates", "check", "--json").json()
    assert report["ok"] is True
    assert report["problems"] == []
    assert f"{report['templates']} templates and {report['cadences']} cadences OK" == SHIPPED_OK
    assert report["folder"] == str(TEMPLATES)


def test_check_templates_returns_nothing_for_the_shipped_folder() -> None:
    assert check_templates(TEMPLATES) == []


def test_a_syntax_error_is_reported_with_file_and_line(check_cli: Cli, folder: Path) -> None:
    template = folder / "email" / "resource.j2"
    line = inject(template, "{% block text %}", "{% if lead.first_name %}unclosed")
    problems = problems_of(check_cli, folder)
    assert len(problems) == 1
    assert problems[0].startswith(f"{template}:")
    assert "syntax error" in problems[0]
    assert int(problems[0].split(":")[1]) >= line


def test_a_misspelt_lead_field_is_reported_at_its_line_with_a_suggestion(check_cli: Cli, folder: Path) -> None:
    template = folder / "email" / "introduction.j2"
    line = inject(template, "{% block text %}", "Dear {{ lead.frist_name }},")
    problems = problems_of(check_cli, folder)
    assert problems == [f"{template}:{line}: lead has no 'frist_name'; did you mean 'first_name'?"]


def test_a_lead_field_read_by_subscript_is_checked_too(check_cli: Cli, folder: Path) -> None:
    template = folder / "calls" / "discovery.j2"
    line = inject(template, "#}", '{{ lead["titel"] | default("") }}')
    assert problems_of(check_cli, folder) == [f"{template}:{line}: lead has no 'titel'; did you mean 'title'?"]


def test_an_unknown_top_level_name_is_reported_at_its_line(check_cli: Cli, folder: Path) -> None:
    template = folder / "linkedin" / "connect.j2"
    line = inject(template, "#}", "{{ customer.name }}")
    problems = problems_of(check_cli, folder)
    assert len(problems) == 1
    assert problems[0].startswith(f"{template}:{line}: unknown variable 'customer' (templates here get: company, lead")


def test_a_custom_import_column_is_any_name_under_lead_custom(check_cli: Cli, folder: Path) -> None:
    inject(folder / "calls" / "discovery.j2", "#}", '{{ lead.custom.favourite_colour | default("") }}')
    assert check_cli("templates", "check", str(folder)).stdout.strip() == SHIPPED_OK


def test_an_unknown_lead_field_suggests_the_custom_columns(check_cli: Cli, folder: Path) -> None:
    template = folder / "calls" / "discovery.j2"
    line = inject(template, "#}", '{{ lead.favourite_colour | default("") }}')
    (problem,) = problems_of(check_cli, folder)
    assert problem.startswith(f"{template}:{line}: lead has no 'favourite_colour' (lead has: address_lines, city,")
    assert problem.endswith("a column of the lead import is lead.custom.favourite_colour")


def test_the_digest_may_use_only_the_digest_variables(check_cli: Cli, folder: Path) -> None:
    template = folder / "digest" / "rep.j2"
    line = inject(template, "#}", "{{ lead.first_name }}")
    (problem,) = problems_of(check_cli, folder)
    assert problem.startswith(f"{template}:{line}: unknown variable 'lead' (templates here get: company, date,")


def test_a_cadence_naming_a_missing_template_is_reported_at_the_step(check_cli: Cli, folder: Path) -> None:
    cadence = folder / "cadences" / "default.yaml"
    cadence.write_text(cadence.read_text().replace("email/check-in", "email/check-inn"))
    line = line_of(cadence, "email/check-inn")
    problems = problems_of(check_cli, folder)
    assert problems == [
        f"{cadence}:{line}: step 7 (email, day 12) names template 'email/check-inn', which does not exist "
        f"({folder / 'email' / 'check-inn.j2'})"
    ]


def test_a_broken_cadence_file_is_reported_and_the_others_are_still_checked(check_cli: Cli, folder: Path) -> None:
    broken = folder / "cadences" / "inbound.yaml"
    line = inject(broken, "steps:", "  - day: [1")
    other = folder / "cadences" / "nurture.yaml"
    other.write_text(other.read_text().replace("email/resource", "email/nope"))
    problems = problems_of(check_cli, folder)
    assert len(problems) == 2
    assert problems[0].startswith(f"{broken}:")
    assert "not valid YAML" in problems[0]
    assert int(problems[0].split(":")[1]) >= line
    assert problems[1].startswith(f"{other}:{line_of(other, 'email/nope')}: step 2 (email, day 7) names template")


def test_an_invalid_step_is_reported_with_the_line_yaml_gives(check_cli: Cli, folder: Path) -> None:
    cadence = folder / "cadences" / "nurture.yaml"
    cadence.write_text(cadence.read_text().replace("channel: linkedin", "channel: fax"))
    step_line = line_of(cadence, "day: 14")
    problems = problems_of(check_cli, folder)
    assert problems == [
        f"{cadence}:{step_line}: step 3: channel must be one of email|call|linkedin|postcard|research|task, not 'fax'"
    ]


def test_an_email_template_without_a_subject_block_is_reported(check_cli: Cli, folder: Path) -> None:
    template = folder / "email" / "check-in.j2"
    source = template.read_text()
    start = source.index("{% block subject %}")
    end = source.index("{% endblock %}", start) + len("{% endblock %}")
    template.write_text(source[:start] + source[end:])
    cadence = folder / "cadences" / "default.yaml"
    problems = problems_of(check_cli, folder)
    development = folder / "cadences" / "development.yaml"
    assert problems == [
        f"{cadence}:{line_of(cadence, 'email/check-in')}: step 7 (email, day 12) sends 'email/check-in' as an email, "
        "but it has no {% block subject %}",
        f"{development}:{line_of(development, 'email/check-in')}: step 4 (email, day 20) sends 'email/check-in' as "
        "an email, but it has no {% block subject %}",
        f"{template}: an email template needs {{% block subject %}} and {{% block text %}}",
    ]


def test_a_task_step_naming_an_email_template_is_reported(check_cli: Cli, folder: Path) -> None:
    cadence = folder / "cadences" / "nurture.yaml"
    cadence.write_text(cadence.read_text().replace("linkedin/connect", "email/final"))
    line = line_of(cadence, "template: email/final")
    problems = problems_of(check_cli, folder)
    assert problems == [
        f"{cadence}:{line}: step 3 (linkedin, day 14) is a task for the rep, but 'email/final' is an email "
        "template; use a linkedin template"
    ]


def test_an_email_step_naming_a_task_template_is_reported(check_cli: Cli, folder: Path) -> None:
    cadence = folder / "cadences" / "nurture.yaml"
    cadence.write_text(cadence.read_text().replace("email/resource", "calls/discovery"))
    (problem,) = problems_of(check_cli, folder)
    assert problem.startswith(f"{cadence}:{line_of(cadence, 'calls/discovery')}: step 2 (email, day 7) sends")
    assert problem.endswith("but it has no {% block subject %} and {% block text %}")


def test_a_template_failing_only_for_a_lead_without_optional_fields_is_reported(check_cli: Cli, folder: Path) -> None:
    template = folder / "email" / "final.j2"
    line = inject(template, "{% block text %}", "{{ lead.company.upper() }}")
    problems = problems_of(check_cli, folder)
    assert len(problems) == 1
    assert problems[0].startswith(f"{template}:{line}: ")
    assert "upper" in problems[0]
    assert problems[0].endswith("(rendering for a lead missing every optional field)")


def test_a_fault_in_a_partial_is_reported_once_with_the_templates_that_reveal_it(check_cli: Cli, folder: Path) -> None:
    partial = folder / "email" / "_signature.txt.j2"
    line = inject(partial, "{{ owner.name }}", "{{ owner.signature.upper() }}")
    (problem,) = problems_of(check_cli, folder)
    assert problem.startswith(f"{partial}:{line}: ")
    assert "(rendering email/check-in, email/final, " in problem
    assert problem.endswith(" for a lead missing every optional field)")


def test_printing_an_empty_optional_field_is_reported_with_the_advice_to_use_default(
    check_cli: Cli, folder: Path
) -> None:
    template = folder / "calls" / "second-try.j2"
    line = inject(template, "#}", "Title: {{ lead.title }}")
    (problem,) = problems_of(check_cli, folder)
    assert problem.startswith(f"{template}:{line}: printed an empty value (None): use | default(...)")


def test_a_template_no_cadence_uses_is_checked_too(check_cli: Cli, folder: Path) -> None:
    template = folder / "email" / "spare.j2"
    template.write_text(
        "{% block subject %}Hi{% endblock %}\n{% block text %}\n{{ lead.frist_name }}\n{% endblock %}\n"
    )
    assert problems_of(check_cli, folder) == [f"{template}:3: lead has no 'frist_name'; did you mean 'first_name'?"]


def test_an_include_of_a_missing_partial_is_reported_at_its_line(check_cli: Cli, folder: Path) -> None:
    partial = folder / "email" / "_signature.txt.j2"
    line = inject(partial, "{{ owner.name }}", '{% include "email/_legal" %}')
    problems = problems_of(check_cli, folder)
    assert problems == [f"{partial}:{line}: uses template 'email/_legal', which does not exist"]


def test_a_qualification_class_naming_an_unknown_cadence_is_reported_at_its_line(check_cli: Cli, folder: Path) -> None:
    rules = folder / "qualification.yaml"
    rules.write_text(rules.read_text().replace("cadence: nurture", "cadence: nurtur"))
    line = line_of(rules, "cadence: nurtur")
    problems = problems_of(check_cli, folder)
    assert problems == [
        f"{rules}:{line}: class 'C' names cadence 'nurtur', which does not exist; "
        "known: default, development, inbound, nurture, re-engage, referral"
    ]


def test_an_invalid_qualification_file_is_reported(check_cli: Cli, folder: Path) -> None:
    rules = folder / "qualification.yaml"
    rules.write_text(rules.read_text().replace("lead_threshold: 2", "lead_threshold: two"))
    (problem,) = problems_of(check_cli, folder)
    assert problem.startswith(f"{rules}: interest.lead_threshold must be a whole number")


def test_problems_are_sorted_by_file_then_line_and_counted(check_cli: Cli, folder: Path) -> None:
    template = folder / "email" / "introduction.j2"
    late = inject(template, "{% block html %}", "{{ lead.frist_name }}")
    early = inject(template, "{% block text %}", "{{ lead.lsat_name }}")
    rules = folder / "qualification.yaml"
    rules.write_text(rules.read_text().replace("cadence: nurture", "cadence: nurtur"))
    result = check_cli("templates", "check", str(folder), expect=1)
    lines = result.stdout.strip().split("\n")
    assert [line.split(": ")[0] for line in lines[:-1]] == [
        f"{template}:{early}",
        f"{template}:{late + 1}",
        f"{rules}:{line_of(rules, 'nurtur')}",
    ]
    assert lines[-1].startswith("3 problems in 2 files")


def test_the_json_report_gives_path_line_and_reason(check_cli: Cli, folder: Path) -> None:
    template = folder / "email" / "introduction.j2"
    line = inject(template, "{% block text %}", "{{ lead.frist_name }}")
    report = check_cli("templates", "check", str(folder), "--json", expect=1).json()
    assert report["ok"] is False
    assert report["problems"] == [
        {"path": str(template), "line": line, "reason": "lead has no 'frist_name'; did you mean 'first_name'?"}
    ]


def test_the_check_reads_the_configured_folder_by_default(check_cli: Cli, folder: Path) -> None:
    (folder / "email" / "final.j2").write_text("{{ broken")
    check_cli.env["CADENCE_TEMPLATES_DIR"] = str(folder)
    assert "final.j2:1: syntax error" in check_cli("templates", "check", expect=1).stdout


def test_a_missing_folder_is_a_problem(check_cli: Cli, tmp_path: Path) -> None:
    assert check_templates(tmp_path / "nowhere") == [
        Problem(str(tmp_path / "nowhere"), None, "no such folder (set CADENCE_TEMPLATES_DIR or give the folder)")
    ]
    check_cli("templates", "check", str(tmp_path / "nowhere"), expect=1)


# -- preview --------------------------------------------------------------------------------------


@pytest.fixture
def with_lead(run_cli: Cli, tmp_path: Path) -> Cli:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--now", NOW)
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS_CSV, encoding="utf-8")
    run_cli("leads", "import", str(leads), "--owner", "rita@cadence.example", "--now", NOW)
    return run_cli


@pytest.mark.one_database
def test_preview_shows_the_headers_and_the_text_of_the_email(with_lead: Cli) -> None:
    result = with_lead("templates", "preview", "email/introduction", "--lead", "ada@acme.example", "--now", NOW)
    headers, _, rest = result.stdout.partition("\n\n")
    fields = dict(line.split(": ", 1) for line in headers.split("\n"))
    assert fields["From"] == "Rita Rep <rita@cadence.example>"
    assert fields["To"] == "Ada Lovelace <ada@acme.example>"
    assert fields["Subject"] == "Ada, 15 minutes on pipeline hygiene?"
    assert fields["Date"] == "Mon, 23 Nov 2026 14:00:00 +0000"
    assert fields["List-Unsubscribe"].startswith("<http")
    assert "Message-ID" in fields
    assert "Content-Type" not in fields  # the MIME structure is not what a reader checks
    assert rest.startswith("Hi Ada,")
    assert "unsubscribe here: http" in rest
    assert "write it to a file with --html FILE" in rest


@pytest.mark.one_database
def test_preview_writes_the_html_part_with_inlined_styles(with_lead: Cli, tmp_path: Path) -> None:
    out = tmp_path / "preview.html"
    result = with_lead(
        "templates", "preview", "email/introduction", "--lead", "ada@acme.example", "--html", str(out), "--now", NOW
    )
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert 'style="' in html
    assert "<link" not in html
    assert "Hi Ada," in html
    assert f"written to {out}" in result.stdout


@pytest.mark.one_database
def test_preview_as_json_gives_headers_text_and_html(with_lead: Cli) -> None:
    data = with_lead("templates", "preview", "email/final", "--lead", "ada@acme.example", "--json", "--now", NOW).json()
    assert data["template"] == "email/final"
    assert data["headers"]["To"] == "Ada Lovelace <ada@acme.example>"
    assert data["text"].startswith("Hi Ada")
    assert data["html"] is None or data["html"].startswith("<!DOCTYPE html>")


def test_preview_sends_and_records_nothing(with_lead: Cli) -> None:
    before = with_lead("leads", "show", "ada@acme.example", "--json").json()
    with_lead("templates", "preview", "email/introduction", "--lead", "ada@acme.example", "--now", NOW)
    assert with_lead("leads", "show", "ada@acme.example", "--json").json() == before


@pytest.mark.one_database
def test_preview_of_an_unknown_lead_is_an_error(with_lead: Cli) -> None:
    result = with_lead("templates", "preview", "email/introduction", "--lead", "nobody@x.example", expect=1)
    assert "no lead with email nobody@x.example" in result.stderr


@pytest.mark.one_database
def test_preview_of_an_unknown_template_is_an_error(with_lead: Cli) -> None:
    result = with_lead("templates", "preview", "email/nope", "--lead", "ada@acme.example", expect=1)
    assert "no template named 'email/nope'" in result.stderr
    assert "email/introduction" in result.stderr  # the names to choose from
    assert "cadence-templates-" not in result.stderr  # not the runner's private copy of the store
    typo = with_lead("templates", "preview", "email/introduciton", "--lead", "ada@acme.example", expect=1)
    assert "did you mean email/introduction?" in typo.stderr


@pytest.mark.one_database
def test_preview_of_a_broken_template_names_the_file_and_line(with_lead: Cli, folder: Path) -> None:
    template = folder / "email" / "introduction.j2"
    line = inject(template, "{% block text %}", "{{ lead.frist_name }}")
    with_lead.env["CADENCE_TEMPLATES_DIR"] = str(folder)
    result = with_lead("templates", "preview", "email/introduction", "--lead", "ada@acme.example", expect=1)
    assert f"{template}:{line}: " in result.stderr
    assert "frist_name" in result.stderr


@pytest.mark.one_database
def test_preview_of_a_task_template_says_it_is_not_an_email(with_lead: Cli) -> None:
    result = with_lead("templates", "preview", "calls/discovery", "--lead", "ada@acme.example", expect=1)
    assert "calls/discovery is a task's instructions, not an email" in result.stderr
    assert "/templates/calls/discovery" in result.stderr  # where the workspace previews it
