"""Message templates: the sandboxed renderer, its limits, and the templates that ship with cadence."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cadence.adapters.templates import (
    MAX_SUBJECT_CHARS,
    RenderedEmail,
    TemplateError,
    TemplateProblem,
    Templates,
    sample_variables,
)
from cadence.errors import CadenceError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "templates"
CADENCE_FILES = sorted((SHIPPED / "cadences").glob("*.yaml"))

FOOTER = "--\nUnsubscribe: {{ unsubscribe_url }}\n{{ company.name }}, {{ company.postal_address }}\n"
LAYOUT = (
    "<!DOCTYPE html><html><body>{{ body }}"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> {{ company.name }}, {{ company.postal_address }}</p>'
    "</body></html>"
)
SIMPLE_EMAIL = (
    "{% block subject %}Hello {{ lead.first_name | default('there') }}{% endblock %}\n"
    "{% block text %}Hi {{ lead.first_name | default('there') }}, "
    "from {{ lead.company | default('?') }}.{% endblock %}\n"
    "{% block html %}<p>Hi {{ lead.first_name | default('there') }}</p>{% endblock %}\n"
)

Folder = Callable[..., Templates]


def variables(**lead: Any) -> dict[str, Any]:
    """The complete sample, with some lead fields changed."""
    data = copy.deepcopy(sample_variables()[0])
    data["lead"].update(lead)
    return data


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    """Write templates (name -> source) into a fresh folder with a footer and layout; return its Templates."""

    def make(max_output_chars: int = 200_000, **files: str) -> Templates:
        sources = {"email/_footer.txt": FOOTER, "email/_layout.html": LAYOUT, **files}
        for name, source in sources.items():
            path = tmp_path / f"{name}.j2"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
        return Templates(tmp_path, max_output_chars=max_output_chars)

    return make


def write(templates: Templates, name: str, source: str) -> None:
    path = templates.folder / f"{name}.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


# -- The shipped templates --------------------------------------------------------------------


def cadence_template_names() -> list[str]:
    names: set[str] = set()
    for path in CADENCE_FILES:
        for step in yaml.safe_load(path.read_text(encoding="utf-8"))["steps"]:
            if step.get("template"):
                names.add(step["template"])
            names.update(step.get("templates") or [])
    return sorted(names)


def shipped_names() -> list[str]:
    return sorted(
        path.relative_to(SHIPPED).with_suffix("").as_posix()
        for path in SHIPPED.rglob("*.j2")
        if path.relative_to(SHIPPED).parts[0] in ("email", "calls", "linkedin", "postcards", "research", "digest")
    )


MESSAGES = [name for name in shipped_names() if not name.rsplit("/", 1)[-1].startswith("_")]
EMAILS = [name for name in MESSAGES if name.startswith("email/")]
TASKS = [name for name in MESSAGES if not name.startswith("email/")]
SAMPLES = sample_variables()
SAMPLE_IDS = ["complete", "missing", "hostile"]


@pytest.fixture(scope="module")
def shipped() -> Templates:
    return Templates(SHIPPED)


def test_every_template_a_cadence_names_exists(shipped: Templates) -> None:
    names = cadence_template_names()
    assert "email/introduction" in names
    missing = [name for name in names if not shipped.exists(name)]
    assert missing == []


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
@pytest.mark.parametrize("name", EMAILS)
def test_every_shipped_email_renders_for_every_sample(shipped: Templates, name: str, sample: dict[str, Any]) -> None:
    email = shipped.render_email(name, sample)
    assert isinstance(email, RenderedEmail)
    assert 0 < len(email.subject) <= MAX_SUBJECT_CHARS
    assert "\n" not in email.subject
    assert "\r" not in email.subject
    assert sample["unsubscribe_url"] in email.text
    assert sample["owner"]["name"] in email.text
    assert "{{" not in email.text.replace(str(sample["lead"]["title"]), "")
    assert "None" not in email.text
    if email.html is not None:
        assert email.html.startswith("<!DOCTYPE html>")
        assert "<script>" not in email.html


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
@pytest.mark.parametrize("name", TASKS)
def test_every_shipped_task_template_renders_for_every_sample(
    shipped: Templates, name: str, sample: dict[str, Any]
) -> None:
    text = shipped.render_text(name, sample)
    assert text.strip()
    assert "None" not in text


@pytest.mark.parametrize("name", shipped_names())
def test_check_finds_no_problem_in_any_shipped_template(shipped: Templates, name: str) -> None:
    assert shipped.check(name, []) == []


def test_the_introduction_and_the_resource_emails_have_an_html_part(shipped: Templates) -> None:
    for name in ("email/introduction", "email/resource"):
        assert shipped.render_email(name, SAMPLES[0]).html is not None


def test_the_introduction_acknowledges_what_the_lead_did_and_asks_for_a_short_call(shipped: Templates) -> None:
    email = shipped.render_email("email/introduction", SAMPLES[0])
    assert "joining our webinar on lead follow-up for small sales teams" in email.text
    assert "the other times you have been in touch" in email.text  # three interactions
    assert "short exploratory call" in email.text
    assert email.subject == "Ada, 15 minutes on lead follow-up for small sales teams?"


def test_the_introduction_falls_back_to_plain_words_when_nothing_is_known(shipped: Templates) -> None:
    email = shipped.render_email("email/introduction", SAMPLES[1])
    assert email.text.startswith("Hi there,")
    assert email.subject == "A quick question from Northwind Analytics"
    assert "Thank you for" not in email.text  # no interaction to thank them for


def test_successive_emails_of_the_default_cadence_all_read_differently(shipped: Templates) -> None:
    names = ["email/introduction", "email/follow-up", "email/resource", "email/check-in", "email/final"]
    emails = [shipped.render_email(name, SAMPLES[0]) for name in names]
    assert len({email.subject for email in emails}) == len(names)
    bodies = [email.text.split("Best regards,")[0] for email in emails]
    first_paragraphs = {body.split("\n\n")[1] for body in bodies}
    assert len(first_paragraphs) == len(names)


def test_the_follow_up_reintroduces_the_company_with_its_benefit_statement(shipped: Templates) -> None:
    text = shipped.render_email("email/follow-up", SAMPLES[0]).text
    assert "re-introduce us" in text
    assert "Northwind Analytics helps B2B sales teams follow up every lead" in text


def test_the_resource_email_shares_a_link_without_sales_talk(shipped: Templates) -> None:
    sample = variables(
        custom={"resource_title": "The follow-up playbook", "resource_url": "https://northwind.example/r"}
    )
    email = shipped.render_email("email/resource", sample)
    body = email.text.split("--\n")[0]
    assert "The follow-up playbook" in body
    assert "https://northwind.example/r" in body
    for word in ("call", "meeting", "demo", "price", "offer"):
        assert word not in body.lower()
    assert email.html is not None
    assert 'href="https://northwind.example/r"' in email.html


def test_the_resource_email_ignores_a_link_that_is_not_http(shipped: Templates) -> None:
    sample = variables(custom={"resource_url": "javascript:alert(1)"})
    email = shipped.render_email("email/resource", sample)
    assert email.html is not None
    assert "javascript:" not in email.text
    assert "javascript:" not in email.html


def test_the_final_email_says_it_is_the_last_after_three_weeks_of_trying(shipped: Templates) -> None:
    sample = copy.deepcopy(SAMPLES[0])
    sample["step"]["day"] = 21
    email = shipped.render_email("email/final", sample)
    assert "last email" in email.subject
    assert "about 3 weeks" in email.text
    assert "this is my last email" in email.text


def test_the_inbound_reply_promises_a_call_today(shipped: Templates) -> None:
    text = shipped.render_email("email/inbound-reply", SAMPLES[0]).text
    assert "call you today on +44 20 7946 0000" in text


def test_emails_are_signed_with_the_owners_name_and_signature(shipped: Templates) -> None:
    email = shipped.render_email("email/check-in", SAMPLES[0])
    assert "Best regards,\nDana Reyes\nAccount Executive, Northwind Analytics\n+1 503 555 0100" in email.text


def test_the_discovery_call_is_fact_finding_and_lists_the_qualifying_questions(shipped: Templates) -> None:
    text = shipped.render_text("calls/discovery", SAMPLES[0])
    assert "not a pitch" in text
    for question in SAMPLES[0]["qualifying_questions"]:
        assert question in text


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
def test_the_linkedin_connection_note_stays_under_300_characters(shipped: Templates, sample: dict[str, Any]) -> None:
    text = shipped.render_text("linkedin/connect", sample)
    found = re.search(r"Connection note \(.*\):\n\n(.*)\n\n", text)
    assert found is not None
    note = found.group(1)
    assert 0 < len(note) <= 300
    assert f"({len(note)} of 300 characters" in text


def test_the_postcard_task_gives_the_leads_mailing_address(shipped: Templates) -> None:
    text = shipped.render_text("postcards/thank-you", SAMPLES[0])
    assert "   12 Babbage Row\n   London EC1A 1AA, England\n   GB" in text
    assert "No postal address on file" in shipped.render_text("postcards/thank-you", SAMPLES[1])


def test_the_research_task_is_a_checklist_of_website_linkedin_news_and_interactions(shipped: Templates) -> None:
    text = shipped.render_text("research/company", SAMPLES[0])
    for item in ("Company website:", "LinkedIn profile:", "Recent news:", "What they interacted with: webinar"):
        assert item in text


def test_the_rep_digest_lists_overdue_tasks_first_then_todays(shipped: Templates) -> None:
    task = {
        "lead_name": "Grace Hopper",
        "lead_email": "grace@navy.example",
        "company": "Navy",
        "channel": "email",
        "due_at": "2025-03-14 10:00",
        "instructions_first_line": "Send the introduction.",
        "class": "B",
    }
    overdue = {**task, "lead_name": "Alan Turing", "channel": "call", "class": "A"}
    text = shipped.render_text("digest/rep", {"rep": "Dana Reyes", "overdue": [overdue], "today": [task]})
    assert text.startswith("Good morning Dana,")
    assert text.index("Alan Turing") < text.index("Due today: 1.") < text.index("Grace Hopper")
    assert "- [B] email: Grace Hopper (Navy), due 2025-03-14 10:00\n    Send the introduction." in text


def test_the_managers_copy_of_the_digest_names_each_tasks_owner(shipped: Templates) -> None:
    task = {
        "lead_name": "Alan Turing",
        "lead_email": "alan@bletchley.example",
        "company": None,
        "channel": "call",
        "due_at": "Mon 10 Mar 09:00",
        "instructions_first_line": "Discovery call.",
        "class": None,
        "owner": "dana@northwind.example",
    }
    variables = {"rep": {"name": "Manager"}, "overdue": [task], "today": [], "date": "2025-03-14", "escalation": True}
    text = shipped.render_text("digest/rep", variables)
    assert text.startswith("Overdue tasks on 2025-03-14:")
    assert "- [-] call: Alan Turing, due Mon 10 Mar 09:00, owner dana@northwind.example" in text


def test_the_rep_digest_says_so_when_nothing_is_due(shipped: Templates) -> None:
    text = shipped.render_text("digest/rep", {"rep": {"name": "Sam Ito"}, "overdue": [], "today": []})
    assert "Nothing is due today." in text


def test_sample_variables_cover_a_complete_an_empty_and_a_hostile_lead() -> None:
    complete, missing, hostile = sample_variables()[:3]
    assert all(value is not None for value in complete["lead"].values())
    optional = {
        k: v for k, v in missing["lead"].items() if k not in ("email", "interactions", "address_lines", "custom")
    }
    assert set(optional.values()) == {None}
    assert missing["lead"]["custom"] == {}
    assert "<script>" in hostile["lead"]["first_name"]
    assert "\r\n" in hostile["lead"]["company"]
    assert len(hostile["lead"]["industry"]) > 1000


# -- Rendering --------------------------------------------------------------------------------


def test_default_replaces_none_missing_and_empty_values(folder: Folder) -> None:
    templates = folder(
        **{"calls/x": "{{ lead.first_name | default('there') }}|{{ lead.nickname | d('-') }}|{{ 0 | default(5) }}"}
    )
    assert templates.render_text("calls/x", variables(first_name=None)) == "there|-|0"
    assert templates.render_text("calls/x", variables(first_name="")) == "there|-|0"
    assert templates.render_text("calls/x", variables(first_name="Ada")) == "Ada|-|0"


def test_a_lead_without_optional_fields_gets_them_as_none(folder: Folder) -> None:
    templates = folder(
        **{"calls/x": "{{ lead.title | default('no title') }}, {{ lead.custom.topic | default('no topic') }}"}
    )
    sample = variables()
    sample["lead"] = {"email": "bare@lead.example"}
    assert templates.render_text("calls/x", sample) == "no title, no topic"


def test_a_typo_in_a_variable_name_is_an_error_naming_the_file_and_line(folder: Folder) -> None:
    templates = folder(**{"calls/typo": "Call them.\n\nHi {{ lead.frist_name }}!\n"})
    with pytest.raises(TemplateError) as caught:
        templates.render_text("calls/typo", variables())
    assert caught.value.line == 3
    assert caught.value.path is not None
    assert caught.value.path.endswith("calls/typo.j2")
    assert re.search(r"calls/typo\.j2:3: .*frist_name", str(caught.value))
    assert isinstance(caught.value, CadenceError)


def test_printing_an_empty_optional_field_is_an_error_that_suggests_default(folder: Folder) -> None:
    templates = folder(**{"calls/x": "Title: {{ lead.title }}"})
    with pytest.raises(TemplateError, match=r"x\.j2:1: .*None.*default"):
        templates.render_text("calls/x", variables(title=None))


def test_lead_fields_are_escaped_in_the_html_part_but_not_in_text_or_subject(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL})
    email = templates.render_email("email/x", variables(first_name="<b>Bo & Co</b>"))
    assert email.subject == "Hello <b>Bo & Co</b>"
    assert "Hi <b>Bo & Co</b>," in email.text
    assert email.html is not None
    assert "<p>Hi &lt;b&gt;Bo &amp; Co&lt;/b&gt;</p>" in email.html
    assert "<b>Bo" not in email.html


def test_the_footer_is_in_the_text_and_the_layout_wraps_the_html(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL})
    sample = variables()
    email = templates.render_email("email/x", sample)
    assert email.text.startswith("Hi Ada, from Analytical Engines Ltd.\n\n--\nUnsubscribe: https://northwind.example/")
    assert email.text.endswith("USA\n")
    assert email.html is not None
    assert email.html.startswith("<!DOCTYPE html><html><head></head><body><p>Hi Ada</p>")  # as css_inline writes it
    assert 'href="https://northwind.example/unsubscribe?token=abc123&amp;lead=42"' in email.html
    assert "100 Harbor Street, Suite 4" in email.html


STYLED_LAYOUT = (
    "<!DOCTYPE html><html><head>"
    '<link rel="stylesheet" href="http://127.0.0.1:9/remote.css">'
    "<style>p { color: #123456 } .note { font-weight: bold } "
    "@media (max-width: 600px) { p { font-size: 18px } }</style>"
    "</head><body>{{ body }}"
    '<p class="note"><a href="{{ unsubscribe_url }}">Unsubscribe</a> '
    "{{ company.name }}, {{ company.postal_address }}</p>"
    "</body></html>"
)


def test_the_css_of_the_html_part_is_inlined_and_media_queries_are_kept(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL, "email/_layout.html": STYLED_LAYOUT})
    email = templates.render_email("email/x", variables())
    assert email.html is not None
    assert '<p style="color: #123456;">Hi Ada</p>' in email.html
    assert '<p class="note" style="color: #123456;font-weight: bold;">' in email.html
    assert "@media (max-width: 600px)" in email.html  # cannot be inlined: kept in a <style> element
    assert ".note {" not in email.html  # inlined rules leave the <style> element


def test_linked_stylesheets_are_removed_and_never_loaded(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL, "email/_layout.html": STYLED_LAYOUT})
    email = templates.render_email("email/x", variables())  # port 9 would refuse or hang a fetch
    assert email.html is not None
    assert "<link" not in email.html
    assert "remote.css" not in email.html


def test_an_html_email_always_has_a_plain_text_part_without_markup(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL, "email/_layout.html": STYLED_LAYOUT})
    email = templates.render_email("email/x", variables())
    assert email.html is not None
    assert email.text.startswith("Hi Ada, from Analytical Engines Ltd.")
    assert "<" not in email.text
    assert "style" not in email.text


def test_hostile_values_stay_escaped_in_attributes_once_the_css_is_inlined(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL, "email/_layout.html": STYLED_LAYOUT})
    sample = variables(first_name="<script>alert(1)</script>")
    sample["unsubscribe_url"] = 'https://northwind.example/u?t="><script>alert(2)</script>'
    email = templates.render_email("email/x", sample)
    assert email.html is not None
    assert "<script>" not in email.html
    assert 'href="https://northwind.example/u?t=&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in email.html
    assert '<p style="color: #123456;">Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>' in email.html


def test_style_rules_that_would_be_copied_onto_too_many_elements_are_refused(folder: Folder) -> None:
    email = SIMPLE_EMAIL.split("{% block html %}")[0] + "{% block html %}" + "<i></i>" * 1400 + "{% endblock %}"
    layout = STYLED_LAYOUT.replace("<style>", "<style>" + "i { color: red } " * 500)
    templates = folder(max_output_chars=20_000, **{"email/x": email, "email/_layout.html": layout})
    with pytest.raises(TemplateError, match="too many elements"):
        templates.render_email("email/x", variables())


def test_an_email_without_an_html_block_has_no_html_part(folder: Folder) -> None:
    templates = folder(**{"email/x": "{% block subject %}S{% endblock %}{% block text %}T{% endblock %}"})
    assert templates.render_email("email/x", variables()).html is None


def test_an_email_whose_footer_lacks_the_unsubscribe_link_is_refused(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL, "email/_footer.txt": "{{ company.name }}"})
    with pytest.raises(TemplateError, match="unsubscribe"):
        templates.render_email("email/x", variables())


def test_an_email_template_needs_a_subject_and_a_text_block(folder: Folder) -> None:
    templates = folder(**{"email/x": "{% block text %}T{% endblock %}"})
    with pytest.raises(TemplateError, match="block subject"):
        templates.render_email("email/x", variables())


def test_the_subject_is_one_line_and_at_most_250_characters(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL})
    email = templates.render_email("email/x", variables(first_name="Ada\r\nBcc: x@evil.example\t" + "word " * 100))
    assert email.subject.startswith("Hello Ada Bcc: x@evil.example word word")
    assert len(email.subject) <= MAX_SUBJECT_CHARS
    assert email.subject.endswith("…")
    assert not re.search(r"[\r\n\t]", email.subject)


def test_top_level_variables_and_macros_are_visible_in_every_block(folder: Folder) -> None:
    source = (
        "{% set who = lead.first_name | default('there') %}"
        "{% macro shout(text) %}{{ text | upper }}{% endmacro %}"
        "{% block subject %}{{ shout(who) }}{% endblock %}"
        "{% block text %}Hi {{ who }}{% endblock %}"
        "{% block html %}<p>{{ who }}</p>{% endblock %}"
    )
    email = folder(**{"email/x": source}).render_email("email/x", variables())
    assert email.subject == "ADA"
    assert email.text.startswith("Hi Ada\n")


def test_an_email_may_extend_a_base_template(folder: Folder) -> None:
    base = (
        "{% block subject %}Base{% endblock %}{% block text %}{% endblock %}"
        "{% block html %}<p>{{ self.text() }}</p>{% endblock %}"
    )
    child = "{% extends 'email/_base' %}{% block text %}Child {{ lead.first_name }}{% endblock %}"
    email = folder(**{"email/_base": base, "email/x": child}).render_email("email/x", variables())
    assert email.subject == "Base"
    assert email.text.startswith("Child Ada\n")
    assert email.html is not None
    assert "<p>Child Ada</p>" in email.html


def test_text_is_tidied_blank_lines_collapsed_and_trailing_spaces_removed(folder: Folder) -> None:
    templates = folder(**{"calls/x": "\n\nLine one   \n\n\n\nLine two\r\n\n"})
    assert templates.render_text("calls/x", variables()) == "Line one\n\nLine two"


def test_output_longer_than_the_limit_is_refused(folder: Folder) -> None:
    templates = folder(max_output_chars=1000, **{"calls/x": "{% for i in range(100) %}{{ 'x' * 50 }}{% endfor %}"})
    with pytest.raises(TemplateError, match="longer than 1000"):
        templates.render_text("calls/x", variables())


def test_partials_are_not_messages(folder: Folder) -> None:
    templates = folder()
    with pytest.raises(TemplateError, match="partial"):
        templates.render_text("email/_footer.txt", variables())


@pytest.mark.parametrize("name", ["../secret", "/etc/passwd", "email/../../x", "email//x", "", "email\\x", "./x"])
def test_names_that_leave_the_folder_are_refused(folder: Folder, name: str) -> None:
    templates = folder(**{"calls/x": "x"})
    assert not templates.exists(name)
    with pytest.raises(TemplateError):
        templates.render_text(name, variables())
    with pytest.raises(TemplateError):
        templates.version(name)


def test_a_missing_template_is_a_template_error(folder: Folder) -> None:
    templates = folder()
    assert not templates.exists("calls/nope")
    with pytest.raises(TemplateError, match="not found"):
        templates.render_text("calls/nope", variables())


def test_an_edited_template_is_picked_up_by_the_same_instance(folder: Folder) -> None:
    templates = folder(**{"calls/x": "one"})
    assert templates.render_text("calls/x", variables()) == "one"
    write(templates, "calls/x", "two, longer")
    assert templates.render_text("calls/x", variables()) == "two, longer"


# -- Versions ---------------------------------------------------------------------------------


def test_the_version_is_twelve_hex_characters_and_stable(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL})
    version = templates.version("email/x")
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    assert templates.version("email/x") == version


def test_the_version_changes_when_the_footer_changes(folder: Folder) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL})
    before = templates.version("email/x")
    write(templates, "email/_footer.txt", FOOTER + "Thank you.\n")
    assert templates.version("email/x") != before


def test_the_version_changes_when_an_included_partial_changes(folder: Folder) -> None:
    source = "{% block subject %}S{% endblock %}{% block text %}{% include 'email/_sig' %}{% endblock %}"
    templates = folder(**{"email/x": source, "email/_sig": "Dana"})
    before = templates.version("email/x")
    write(templates, "email/_sig", "Dana Reyes")
    assert templates.version("email/x") != before


def test_the_version_of_a_task_ignores_the_email_footer(folder: Folder) -> None:
    templates = folder(**{"calls/x": "Call"})
    before = templates.version("calls/x")
    write(templates, "email/_footer.txt", FOOTER + "Changed.\n")
    assert templates.version("calls/x") == before


def test_the_version_does_not_depend_on_where_the_folder_is(tmp_path: Path) -> None:
    for where in ("a", "b"):
        (tmp_path / where / "calls").mkdir(parents=True)
        (tmp_path / where / "calls" / "x.j2").write_text("Call them", encoding="utf-8")
    assert Templates(tmp_path / "a").version("calls/x") == Templates(tmp_path / "b").version("calls/x")


# -- check() ----------------------------------------------------------------------------------


def test_check_reports_a_syntax_error_with_its_line(folder: Folder) -> None:
    templates = folder(**{"calls/x": "one\ntwo\n{% if lead.first_name %}\nthree\n"})
    problems = templates.check("calls/x", [])
    assert len(problems) == 1
    problem = problems[0]
    assert isinstance(problem, TemplateProblem)
    assert problem.template == "calls/x"
    assert problem.path.endswith("calls/x.j2")
    assert problem.line == 4
    assert "syntax error" in problem.reason


def test_check_reports_a_fault_that_only_some_samples_reveal(folder: Folder) -> None:
    templates = folder(**{"calls/x": "Hello\n{{ lead.title | upper }}"})
    problems = templates.check("calls/x", [])
    assert [(p.line, "None" in p.reason or "upper" in p.reason) for p in problems] == [(2, True)]


def test_check_never_raises_for_a_missing_template_or_a_bad_name(folder: Folder) -> None:
    templates = folder()
    assert templates.check("calls/nope", [])[0].reason.startswith("template 'calls/nope' not found")
    assert templates.check("../x", []) != []


def test_check_uses_the_given_samples(folder: Folder) -> None:
    templates = folder(**{"calls/x": "{{ lead.first_name }}"})
    assert templates.check("calls/x", [variables()]) == []
    assert templates.check("calls/x", [variables(first_name=None)]) != []


# -- The sandbox (its hostile corpus is in tests/security/test_template_injection.py) ------------


def test_a_failed_render_leaves_the_instance_usable(folder: Folder) -> None:
    templates = folder(**{"calls/bad": "{{ 'x' * 10**9 }}", "calls/good": "fine"})
    with pytest.raises(TemplateError):
        templates.render_text("calls/bad", variables())
    assert templates.render_text("calls/good", variables()) == "fine"


def test_a_partial_may_be_included_once_per_item_of_a_long_list(folder: Folder) -> None:
    templates = folder(
        **{
            "digest/_line": "- {{ item }}\n",
            "digest/x": "{% for item in range(300) %}{% include 'digest/_line' %}{% endfor %}",
        }
    )
    text = templates.render_text("digest/x", {})
    assert text.count("- ") == 300


@pytest.mark.parametrize(
    ("key", "value"), [("unsubscribe_url", None), ("unsubscribe_url", " "), ("postal_address", "")]
)
def test_an_email_without_an_unsubscribe_link_or_postal_address_is_refused(
    folder: Folder, key: str, value: Any
) -> None:
    templates = folder(**{"email/x": SIMPLE_EMAIL, "email/_footer.txt": "--\n{{ company.name }}"})
    sample = variables()
    if key == "postal_address":
        sample["company"]["postal_address"] = value
    else:
        sample[key] = value
    with pytest.raises(TemplateError, match=r"unsubscribe|postal address"):
        templates.render_email("email/x", sample)


def test_a_render_s_time_limit_counts_its_own_cpu_not_time_spent_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded machine (or threads holding the GIL) must not fail a render; a render that computes too long must."""
    import threading
    import time

    from jinja2.exceptions import SecurityError

    from cadence.adapters.templates import limits

    monkeypatch.setattr(limits, "MAX_SECONDS", 0.05)
    waited = limits.Budget(max_chars=1000)
    threading.Event().wait(0.2)  # descheduled four times the limit: no CPU spent
    waited.step()
    busy = limits.Budget(max_chars=1000)

    def compute() -> None:  # past the limit: refused on the next step
        start = time.thread_time()
        while time.thread_time() - start < 1.0:
            busy.step()
            sum(range(2000))

    with pytest.raises(SecurityError, match="seconds of CPU time"):
        compute()
