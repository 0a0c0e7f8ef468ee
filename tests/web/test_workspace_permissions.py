"""Who may open which page: every page of the workspace for every role, and for nobody signed in."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from tests.web.workspace import ADA, DEE, MAX, MIA, RITA, SAM, Seeded, post_form, signed_in

ROLES = {"rita (rep)": RITA, "sam (rep)": SAM, "mia (marketer)": MIA, "max (manager)": MAX}


def expectations(seeded: Seeded) -> dict[str, tuple[int, int, int, int]]:
    """Page -> the status for rita, sam, mia, max. Another rep's task or lead is 404, a role's missing page 403."""
    return {
        "/tasks": (200, 200, 403, 200),
        f"/tasks/{seeded.ada_call}": (200, 404, 403, 200),
        f"/tasks/{seeded.dee_call}": (404, 200, 403, 200),
        "/leads": (200, 200, 200, 200),
        f"/leads/{ADA}": (200, 404, 200, 200),
        f"/leads/{DEE}": (404, 200, 200, 200),
        "/cadences": (403, 403, 200, 200),
        "/templates": (403, 403, 200, 200),
        "/templates/email/introduction": (403, 403, 200, 200),
        "/dashboard": (403, 403, 403, 200),
        "/reps": (403, 403, 403, 200),
        "/not-enrolled": (403, 403, 403, 200),
        "/audit": (403, 403, 403, 200),
        f"/erase/{ADA}": (403, 403, 403, 200),
    }


@pytest.mark.one_database
def test_every_page_answers_each_role_as_the_rules_say(site: str, seeded: Seeded, subtests: pytest.Subtests) -> None:
    pages = expectations(seeded)
    for index, (role, email) in enumerate(ROLES.items()):
        with signed_in(site, email) as http:
            for path, statuses in pages.items():
                with subtests.test(role=role, page=path):
                    assert http.get(path).status_code == statuses[index]


@pytest.mark.one_database
def test_nobody_signed_in_is_sent_to_the_login_page_from_every_page(site: str, seeded: Seeded) -> None:
    with httpx.Client(base_url=site, timeout=10) as http:
        for path in expectations(seeded):
            response = http.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == f"/login?next={quote(path, safe='')}"
        for path in (f"/tasks/{seeded.ada_call}", f"/leads/{ADA}/pause", "/logout"):
            response = http.post(path, data={"outcome": "connected"})
            assert (response.status_code, response.headers["location"]) == (303, "/login"), path


@pytest.mark.one_database
def test_every_post_form_on_every_page_carries_the_sessions_csrf_token(site: str, seeded: Seeded) -> None:
    forms_seen = 0
    for email in ROLES.values():
        with signed_in(site, email) as http:
            tokens: set[str] = set()
            for path in expectations(seeded):
                page = http.get(path)
                if page.status_code != 200:
                    continue
                for form in re.findall(r'<form method="post".*?</form>', page.text, flags=re.S):
                    found = re.findall(r'<input type="hidden" name="csrf_token" value="([^"]+)">', form)
                    assert len(found) == 1, (email, path, form[:120])
                    tokens |= set(found)
                    forms_seen += 1
            assert len(tokens) == 1, email  # the session's one token
    assert forms_seen > 20  # logout on every page, outcomes, pause, decisions


@pytest.mark.parametrize("task_id", ["0", "-1", str(2**31), str(2**63), str(10**30)])
def test_a_task_id_no_task_can_have_is_a_plain_404_on_either_database(site: str, seeded: Seeded, task_id: str) -> None:
    with signed_in(site, MAX) as http:
        assert (http.get(f"/tasks/{task_id}").status_code, task_id) == (404, task_id)
        response = post_form(http, f"/tasks/{task_id}", {"outcome": "connected"})
        assert (response.status_code, task_id) == (404, task_id)
