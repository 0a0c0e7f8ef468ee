"""Templates and cadences edited in the browser: checked saves, versions, diffs, restore; roles and CSRF."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.conftest import TEMPLATES
from tests.web.workspace import MAX, MIA, RITA, post_form, signed_in

pytestmark = pytest.mark.one_database  # the store itself runs on both databases in tests/template_store

INTRO = "email/introduction.j2"


def textarea(html: str) -> str:
    found = re.search(r'<textarea id="content"[^>]*>(.*?)</textarea>', html, flags=re.S)
    assert found is not None
    return unescape(found.group(1))


def test_a_marketer_saves_a_template_and_its_preview_uses_it(site: str) -> None:
    with signed_in(site, MIA) as http:
        page = http.get(f"/editor/{INTRO}")
        assert page.status_code == 200
        original = textarea(page.text)
        assert original == (TEMPLATES / INTRO).read_text(encoding="utf-8")  # the store, seeded on first use
        changed = original.replace("{% block subject %}", "{% block subject %}Saved here: ", 1)
        saved = post_form(http, f"/editor/{INTRO}", {"content": changed, "comment": "a shorter hook"})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/editor/{INTRO}"
        page = http.get(f"/editor/{INTRO}")
        assert "version 2" in page.text
        assert "Saved here: " in unescape(re.search(r'id="preview-subject">(.*?)<', page.text).group(1))  # type: ignore[union-attr]
        assert "a shorter hook" in page.text
        assert MIA in page.text
        diff = http.get(f"/editor/{INTRO}?old=1&new=2")
        assert "<ins>+{% block subject %}Saved here: " in unescape(diff.text)
        template_page = http.get("/templates/email/introduction")
        assert "Saved here: " in unescape(template_page.text)  # every page reads the store


def test_a_broken_save_is_refused_with_its_line_and_reason_and_keeps_the_text(site: str) -> None:
    broken = "{% block subject %}Hi{% endblock %}\n{% block text %}\n{{ lead.frist_name }}\n{% endblock %}\n"
    with signed_in(site, MAX) as http:  # managers edit too
        refused = post_form(http, f"/editor/{INTRO}", {"content": broken})
        assert refused.status_code == 422
        assert "Not saved" in refused.text
        assert "line 3: " in refused.text
        assert "frist_name" in refused.text
        assert textarea(refused.text) == broken  # nothing typed is lost
        assert "version 1" in http.get(f"/editor/{INTRO}").text


def test_restoring_a_version_saves_it_again_as_the_newest(site: str) -> None:
    with signed_in(site, MIA) as http:
        original = textarea(http.get(f"/editor/{INTRO}").text)
        post_form(
            http, f"/editor/{INTRO}", {"content": original.replace("{% block subject %}", "{% block subject %}X ")}
        )
        restored = post_form(http, f"/editor/{INTRO}", {"restore": "1"})
        assert restored.status_code == 303
        page = http.get(f"/editor/{INTRO}")
        assert textarea(page.text) == original
        assert "restored version 1" in page.text
        assert "version 3" in page.text


def test_a_cadence_file_is_edited_and_checked_too(site: str) -> None:
    with signed_in(site, MIA) as http:
        refused = post_form(http, "/editor/cadences/nurture.yaml", {"content": "name: nurture\nsteps: 3\n"})
        assert refused.status_code == 422
        assert "Not saved" in refused.text


def test_reps_cannot_edit_and_a_post_needs_the_csrf_token(site: str) -> None:
    with signed_in(site, RITA) as http:
        assert http.get(f"/editor/{INTRO}").status_code == 403
        assert post_form(http, f"/editor/{INTRO}", {"content": "x"}).status_code == 403
    with signed_in(site, MIA) as http:
        forged = http.post(f"/editor/{INTRO}", data={"content": "x", "csrf_token": "not-the-token"})
        assert forged.status_code == 403
        assert http.get("/editor/../../etc/passwd.j2").status_code == 404
        assert http.get("/editor/email/nothing_here.j2").status_code == 404


def test_the_cadences_page_counts_enrollments_per_version_and_flags_older_ones(site: str) -> None:
    with signed_in(site, MIA) as http:
        before = http.get("/cadences").text
        running = re.search(r'id="running-default">(.*?)</p>', before, flags=re.S)
        assert running is not None
        assert re.search(r"\d+ enrollments? on version \w+ \(current\)", running.group(1))
        assert 'id="older-default"' not in before

        text = (TEMPLATES / "cadences" / "default.yaml").read_text(encoding="utf-8")
        changed = text.replace("description: The follow-up plan", "description: The three-week plan", 1)
        assert post_form(http, "/editor/cadences/default.yaml", {"content": changed}).status_code == 303
        after = http.get("/cadences").text
        older = re.search(r'id="older-default">(.*?)</p>', after, flags=re.S)
        assert older is not None
        assert "on an older version than the current one" in older.group(1)
        assert "The three-week plan" in after
