"""What marketers see: the cadences as timelines, the templates with their checks, previews for any lead."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cadence.adapters.models import Lead, Touch
from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.conftest import TEMPLATES
from tests.web.workspace import ADA, DEE, MAX, MIA, RITA, Clock, Seeded, signed_in

# Pages and previews: no SQL of their own, so SQLite only (see tests/conftest.py).
pytestmark = pytest.mark.one_database

SVG = "{http://www.w3.org/2000/svg}"


def svgs(html: str) -> list[ET.Element]:
    """The page's inline SVG charts, parsed (they must be well-formed XML)."""
    return [ET.fromstring(found) for found in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


class Iframes(HTMLParser):
    """The attributes of every ``<iframe>`` of a page (the parser unescapes them)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.found.append(dict(attrs))


def iframes(html: str) -> list[dict[str, str | None]]:
    parser = Iframes()
    parser.feed(html)
    return parser.found


def test_the_cadences_page_draws_each_cadence_from_day_0_to_its_last_step_by_channel(site: str) -> None:
    with signed_in(site, MIA) as http:
        page = http.get("/cadences")
    assert page.status_code == 200
    charts = {chart.findtext(f"{SVG}title"): chart for chart in svgs(page.text)}
    assert set(charts) == {
        f"Cadence {name}: steps by day and channel"
        for name in ("default", "development", "inbound", "nurture", "re-engage", "referral")
    }
    default = charts["Cadence default: steps by day and channel"]
    assert default.get("role") == "img"
    texts = [t.text for t in default.iter(f"{SVG}text")]
    assert "Day 0: enrolled" in texts
    assert [t for t in texts if t in ("email", "call", "linkedin", "research", "postcard")] == [
        "email", "call", "linkedin", "research", "postcard",
    ]  # fmt: skip
    assert {"0", "1", "2", "21"} <= set(texts)  # the day axis, from Day 0 to the last step
    steps = [g.findtext(f"{SVG}title") for g in default.iter(f"{SVG}g")]
    assert len(steps) == 10
    assert steps[1] == "Step 2: day 2, email, email/introduction"
    assert steps[-1] == "Step 10: day 21, email, email/final"
    assert "used by classes A, B" in page.text
    assert '<a href="/templates/email/introduction"><code>email/introduction</code></a>' in page.text


def test_the_templates_page_lists_every_template_with_its_check_result(site: str) -> None:
    with signed_in(site, MIA) as http:
        page = http.get("/templates").text
    names = re.findall(r'<tr id="t-([^"]+)">', page)
    assert len(names) == 22
    assert {"email/introduction", "calls/discovery", "email/_layout.html", "digest/rep", "email/referral"} <= set(names)
    assert "All 22 templates and 6 cadences pass their checks." in page
    assert page.count('<span class="chip ok">OK</span>') == 22
    row = page[page.index('<tr id="t-email/introduction">') :].split("</tr>", 1)[0]
    assert "<td>email</td>" in row
    assert "default, step 2 (day 2); nurture, step 1 (day 1)" in row


def test_faults_in_the_templates_folder_show_on_the_templates_and_cadences_pages(
    workspace_settings: Settings, clock: Clock, seeded: Seeded, serve: Callable[[FastAPI], str], tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    follow_up = folder / "email" / "follow-up.j2"
    source = follow_up.read_text()
    line = source[: source.index("{% block text %}")].count("\n") + 2
    follow_up.write_text(source.replace("{% block text %}", "{% block text %}\n{{ lead.frist_name }}", 1))
    (folder / "cadences" / "broken.yaml").write_text("name: broken\nsteps:\n  - day: 1\n    channel: fax\n")
    app = create_app(workspace_settings.model_copy(update={"templates_dir": folder}), clock=clock)
    with signed_in(serve(app), MIA) as http:
        listing = http.get("/templates").text
        detail = http.get("/templates/email/follow-up").text
        cadences = http.get("/cadences").text
    row = listing[listing.index('<tr id="t-email/follow-up">') :].split("</tr>", 1)[0]
    assert f"line {line}: lead has no &#39;frist_name&#39;; did you mean &#39;first_name&#39;?" in row
    assert "problems found" in listing
    assert "cadences/broken.yaml" in listing
    assert "The check found 1 problem" in detail
    assert "cadences/broken.yaml" in cadences
    assert 'class="error" role="alert">' in cadences
    assert "Cadence default: steps by day and channel" in cadences  # the other cadences still show


def test_a_marketer_previews_an_email_for_any_lead_with_the_html_in_a_sandboxed_iframe(site: str, ctx: Context) -> None:
    with ctx.sessions() as s:
        touches = s.scalar(select(func.count()).select_from(Touch))
    with signed_in(site, MIA) as http:
        page = http.get("/templates/email/introduction", params={"lead": DEE})
    assert page.status_code == 200
    text = page.text
    assert '<th scope="row">To</th><td class="small">Dee Delta &lt;dee@delta.example&gt;</td>' in text
    assert '<th scope="row">From</th><td class="small">Sam Okafor &lt;sam@cadence.example&gt;</td>' in text
    assert "Subject" in text
    [frame] = iframes(text)
    assert frame["sandbox"] == ""  # every restriction: no scripts, forms, popups, navigation or same origin
    assert frame["title"] == "HTML part of the email to dee@delta.example"
    srcdoc = frame["srcdoc"] or ""
    assert srcdoc.lstrip().lower().startswith("<!doctype html")
    assert "Hi Dee," in srcdoc
    assert "<script" not in srcdoc.lower()
    assert "Hi Dee," in text.split('<pre class="text-part">', 1)[1]  # the text part
    assert "unsubscribe" in srcdoc.lower()
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Touch)) == touches  # nothing sent, nothing written


def test_the_preview_shows_the_variables_the_template_can_use_and_those_it_uses(site: str) -> None:
    with signed_in(site, MIA) as http:
        text = http.get("/templates/email/introduction", params={"lead": ADA}).text
    variables = re.findall(r"<dt><code(?: class=\"used\")?>([a-z_]+)</code></dt>", text)
    assert variables == ["lead", "owner", "company", "step", "qualifying_questions", "today", "unsubscribe_url"]
    assert '<code class="used">lead</code>' in text
    assert '<code class="used">first_name</code><span class="muted small"> Ada</span>' in text
    assert '<code class="used">interactions</code>' in text
    assert "<code>phone</code>" in text  # can be used, is not
    assert "<code>qualifying_questions</code>" in text


def test_a_preview_says_which_step_of_the_leads_cadence_it_stands_for(site: str) -> None:
    with signed_in(site, MIA) as http:
        used = http.get("/templates/email/follow-up", params={"lead": ADA}).text
        unused = http.get("/templates/email/inbound-reply", params={"lead": ADA}).text
    assert "to ada@analytical.example now, as step 3 (day 5) of default, from the files" in used
    assert "does not use this template" not in used
    assert "as step 1 (day 1) of default" in unused
    assert "ada@analytical.example's cadence does not use this template" in unused
    assert len(iframes(unused)) == 1  # still previewed


def test_a_task_template_preview_shows_the_instructions_the_rep_would_get(site: str) -> None:
    with signed_in(site, MIA) as http:
        text = http.get("/templates/calls/discovery", params={"lead": ADA}).text
    assert "Discovery call: Ada Lovelace" in text.split('<pre class="text-part">', 1)[1]
    assert iframes(text) == []


def test_a_preview_says_what_it_cannot_show(site: str) -> None:
    with signed_in(site, MIA) as http:
        unknown_lead = http.get("/templates/email/introduction", params={"lead": "nobody@nowhere.example"})
        default_lead = http.get("/templates/email/introduction")
        partial = http.get("/templates/email/_signature.html")
        layout = http.get("/templates/email/_layout.html")
        missing = http.get("/templates/email/no-such-template")
        escaping = http.get("/templates/../../etc/passwd")
    assert "no lead with email nobody@nowhere.example" in unknown_lead.text
    assert iframes(unknown_lead.text) == []
    assert len(iframes(default_lead.text)) == 1  # without a lead: the first lead
    assert "A partial is part of other templates" in partial.text
    assert "The layout wraps the HTML part of every email" in layout.text
    assert '<code class="used">body</code>' in layout.text
    assert (missing.status_code, missing.text) == (404, "Not Found")
    assert escaping.status_code == 404


def test_what_a_lead_says_about_itself_cannot_script_the_preview(site: str, ctx: Context) -> None:
    with ctx.sessions() as s, s.begin():
        lead = s.scalars(select(Lead).where(Lead.email == ADA)).one()
        lead.company = "<script>alert(1)</script>"
    with signed_in(site, MIA) as http:
        text = http.get("/templates/email/introduction", params={"lead": ADA}).text
    assert "<script>" not in text
    [frame] = iframes(text)
    assert "<script>" not in (frame["srcdoc"] or "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (frame["srcdoc"] or "")


def test_reps_cannot_open_the_marketers_pages_and_managers_can(site: str) -> None:
    pages = ("/cadences", "/templates", "/templates/email/introduction")
    with signed_in(site, RITA) as http:
        for path in pages:
            response = http.get(path)
            assert (response.status_code, response.text) == (403, "Forbidden"), path
    with signed_in(site, MAX) as http:
        assert [http.get(path).status_code for path in pages] == [200, 200, 200]
