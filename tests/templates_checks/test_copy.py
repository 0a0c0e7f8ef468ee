"""The shipped copy reads as a salesperson would write it, for any team, rendered with real variables.

Every email and task template is rendered for every lead source cadence knows (the ones we only know
through tracking included) and for the complete, empty and hostile samples; the text a lead or a rep
reads is then checked for the phrases that must never appear.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cadence.adapters.templates import Templates, sample_variables
from cadence.core.qualification import DEFAULT_SOURCE_RANKS
from cadence.services.tasks import OUTCOMES
from tests.conftest import TEMPLATES, Cli

SAMPLES = sample_variables()
SAMPLE_IDS = ["complete", "missing", "hostile"]
SOURCES = [*sorted(DEFAULT_SOURCE_RANKS), None]
NOW = "2026-11-23T14:00:00+00:00"  # a Monday

EMAILS = sorted(f"email/{path.stem}" for path in (TEMPLATES / "email").glob("*.j2") if not path.name.startswith("_"))
TASKS = sorted(
    f"{path.parent.name}/{path.stem}"
    for folder in ("calls", "linkedin", "postcards", "research")
    for path in (TEMPLATES / folder).glob("*.j2")
)

# Written for one imaginary product, not for every team.
PRODUCT_PHRASES = ("new enquiries", "followed up at", "follow up new business")
# Only tracking tells us these; a lead must never read them.
TRACKING_PHRASES = (
    "reading our notes",
    "read our notes",
    "taking a look at what we do",
    "took a look at what we do",
    "seeing your interest",
    "you opened",
    "you visited",
    "visiting our",
    "spends time on",
    "the interest you have shown",
)


@pytest.fixture(scope="module")
def shipped() -> Templates:
    return Templates(TEMPLATES)


def with_source(sample: dict[str, Any], source: str | None) -> dict[str, Any]:
    data = copy.deepcopy(sample)
    data["lead"]["source"] = source
    return data


def lead_text(shipped: Templates, name: str, variables: dict[str, Any]) -> str:
    """What the reader sees: an email's subject, text and html (without the footer), or a task's text."""
    if name.startswith("email/"):
        email = shipped.render_email(name, variables)
        return "\n".join([email.subject, email.text.split("\n--\n")[0], email.html or ""])
    return shipped.render_text(name, variables)


def words(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
@pytest.mark.parametrize("name", EMAILS + TASKS)
def test_no_shipped_template_reveals_tracking_or_speaks_for_one_product(
    shipped: Templates, name: str, sample: dict[str, Any], source: str | None
) -> None:
    text = words(lead_text(shipped, name, with_source(sample, source)))
    for phrase in TRACKING_PHRASES + PRODUCT_PHRASES:
        assert phrase not in text, f"{name} says {phrase!r}"


@pytest.mark.parametrize("sample", SAMPLES, ids=SAMPLE_IDS)
@pytest.mark.parametrize("name", EMAILS + TASKS)
def test_no_shipped_template_says_seed_or_none(shipped: Templates, name: str, sample: dict[str, Any]) -> None:
    text = lead_text(shipped, name, sample)
    assert not re.search(r"\bseeds?\b", text, re.IGNORECASE)
    assert "None" not in text


def test_no_cadence_or_rule_file_says_seed_where_a_user_reads_it() -> None:
    for path in [*(TEMPLATES / "cadences").glob("*.yaml"), TEMPLATES / "qualification.yaml", TEMPLATES / "stages.yaml"]:
        assert not re.search(r"\bseeds?\b", path.read_text(encoding="utf-8"), re.IGNORECASE), path
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "seed" not in str(data.get("description", "")).lower()


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.j2")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_template_sources_marketers_read_never_say_seed(path: Path) -> None:
    assert not re.search(r"\bseeds?\b", path.read_text(encoding="utf-8"), re.IGNORECASE)


def test_web_pages_never_say_seed() -> None:
    pages = Path(__file__).resolve().parents[2] / "src" / "cadence" / "web" / "templates"
    for path in pages.glob("*.html"):
        assert not re.search(r"\bseeds?\b", path.read_text(encoding="utf-8"), re.IGNORECASE), path


# -- the Initial Benefit Statement ----------------------------------------------------------------

BENEFIT = "helps B2B sales teams follow up every lead, on time, on every channel"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "name", ["email/introduction", "email/follow-up", "calls/discovery", "calls/second-try", "calls/inbound"]
)
def test_the_introduction_and_the_call_openings_reintroduce_us_with_the_benefit_statement(
    shipped: Templates, name: str, source: str | None
) -> None:
    text = words(lead_text(shipped, name, with_source(SAMPLES[0], source)))
    assert f"northwind analytics {BENEFIT.lower()}." in text


@pytest.mark.parametrize("name", ["email/introduction", "calls/discovery", "calls/second-try", "calls/inbound"])
def test_without_a_benefit_statement_no_empty_sentence_is_left(shipped: Templates, name: str) -> None:
    text = lead_text(shipped, name, SAMPLES[1])
    assert "Northwind Analytics ." not in text
    assert "In one sentence" not in text
    assert not any(" ." in line or ".  " in line.strip() for line in text.splitlines())


# -- a resource, or no promise of one ------------------------------------------------------------


def test_the_resource_email_without_a_resource_promises_no_link(shipped: Templates) -> None:
    for sample in SAMPLES[:2]:
        email = shipped.render_email("email/resource", sample)
        body = email.text.split("\n--\n")[0]
        assert "http" not in body
        assert "send it across" not in body
        assert "library" not in body.lower()
        assert email.html is not None
        body_html = email.html.split("Best regards,")[0]
        assert body_html.count("href=") == 0
        assert "question" in body


def test_the_resource_email_with_a_resource_links_to_it(shipped: Templates) -> None:
    sample = copy.deepcopy(SAMPLES[0])
    sample["lead"]["custom"]["resource_url"] = "https://northwind.example/playbook"
    email = shipped.render_email("email/resource", sample)
    assert "https://northwind.example/playbook" in email.text
    assert "Our practical notes on lead follow-up for small sales teams" in email.text


# -- the LinkedIn task and the signature ----------------------------------------------------------


def test_the_linkedin_task_names_exactly_the_outcomes_a_linkedin_task_can_have(shipped: Templates) -> None:
    text = shipped.render_text("linkedin/connect", SAMPLES[0])
    named = set(re.findall(r'"([a-z_]+)"', text.split("Connection note")[1]))
    assert named == set(OUTCOMES["linkedin"]) | {"skipped"}


@pytest.mark.parametrize(
    "signature",
    [
        "Dana Reyes | Account Executive | +1 503 555 0100",
        "Dana Reyes\nAccount Executive\n+1 503 555 0100",
        "dana reyes, Account Executive, +1 503 555 0100",
    ],
)
def test_a_signature_that_starts_with_the_name_does_not_repeat_it(shipped: Templates, signature: str) -> None:
    sample = copy.deepcopy(SAMPLES[0])
    sample["owner"]["signature"] = signature
    email = shipped.render_email("email/introduction", sample)
    sign_off = email.text.split("Best regards,")[1].split("\n--\n")[0]
    assert sign_off.lower().count("dana reyes") == 1
    assert "Account Executive" in sign_off
    assert email.html is not None
    html_sign_off = email.html.split("Best regards,")[1].split("Unsubscribe")[0]
    assert html_sign_off.lower().count("dana reyes") == 1
    assert "Account Executive" in html_sign_off


# -- end to end, with the setting and a real lead -------------------------------------------------

LEADS_CSV = """\
Email,First Name,Last Name,Title,Company,Country,Timezone,Source,Interactions,Topic
ada@acme.example,Ada,Lovelace,VP Engineering,Acme,US,America/New_York,email_open,3,pipeline hygiene
"""


@pytest.fixture
def benefit_cli(run_cli: Cli, tmp_path: Path) -> Cli:
    cli = Cli({**run_cli.env, "CADENCE_COMPANY_BENEFIT": "helps sales teams answer every lead the same day."})
    cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--signature", "Rita Rep | Sales", "--now", NOW)
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS_CSV, encoding="utf-8")
    cli("leads", "import", str(leads), "--owner", "rita@cadence.example", "--now", NOW)
    return cli


def test_the_benefit_setting_reaches_the_introduction_of_a_real_lead(benefit_cli: Cli) -> None:
    result = benefit_cli("templates", "preview", "email/introduction", "--lead", "ada@acme.example", "--now", NOW)
    text = words(result.stdout)
    assert "cadence demo company helps sales teams answer every lead the same day." in text
    for phrase in TRACKING_PHRASES:
        assert phrase not in text
    assert result.stdout.split("Best regards,")[1].count("Rita Rep") == 1


def test_the_shipped_folder_passes_the_check(run_cli: Cli) -> None:
    assert run_cli("templates", "check", str(TEMPLATES)).stdout.strip().endswith("OK")


NAME_CSV = """\
Email,First Name,Last Name,Company,Country,Timezone,Source,Interactions
nia@names.example,Nia,Name,Names Ltd,US,America/New_York,webinar,1
"""


def test_cli_output_for_a_lead_without_class_never_says_none(run_cli: Cli, tmp_path: Path) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--now", NOW)
    leads = tmp_path / "names.csv"
    leads.write_text(NAME_CSV, encoding="utf-8")
    run_cli("leads", "import", str(leads), "--owner", "rita@cadence.example", "--now", NOW)
    shown = run_cli("leads", "show", "nia@names.example").stdout
    assert "class none" in shown
    assert "None" not in shown
    assert "seed" not in shown.lower()
