"""The users of ``benchmarks/pages.py``: managers and reps in the workspace, and API clients (a locustfile).

Run by ``pages.py`` (``locust --headless -f benchmarks/pages_locust.py``), never on its own: the
file named by ``CADENCE_PAGES_SAMPLE`` says who logs in (a manager, a rep, their password), the API
key, and samples of lead addresses, task ids and account ids to ask for. Each request is named
after its page (``/leads/{email}``), so that the statistics are per page, not per address.

A user thinks 1 to 3 seconds between two pages, as a person does: 20 users are 20 people at work,
not 20 loops with no pause (which measures the queue, not a page).
"""

from __future__ import annotations

import json
import os
import random
import re
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

SAMPLE: dict[str, Any] = json.loads(Path(os.environ["CADENCE_PAGES_SAMPLE"]).read_text(encoding="utf-8"))
NEXT = count()
CSRF = re.compile(r'name="?csrf_token"?\s+value="?([^" >]+)')


@events.test_start.add_listener
def _reset_after_warmup(environment: Environment, **_kwargs: Any) -> None:
    """Forget the first ``CADENCE_PAGES_WARMUP`` seconds (logins, cold caches): they are not what is measured."""

    def reset() -> None:
        gevent.sleep(float(os.environ.get("CADENCE_PAGES_WARMUP", "0")))
        if environment.runner is not None:
            environment.runner.stats.reset_all()

    gevent.spawn(reset)


def _login(user: HttpUser, email: str) -> None:
    """Sign in through the login form, as a browser does (its CSRF token first)."""
    page = user.client.get("/login", name="/login")
    found = CSRF.search(page.text)
    if found is None:
        raise RuntimeError("no CSRF token on the login page")
    answer = user.client.post(
        "/login",
        data={"email": email, "password": SAMPLE["password"], "csrf_token": found.group(1)},
        name="POST /login",
        allow_redirects=False,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"login of {email} failed: {answer.status_code}")


def _get(user: HttpUser, path: str, name: str) -> None:
    """GET ``path``; anything but a 200 is a failure in the statistics."""
    with user.client.get(path, name=name, catch_response=True, allow_redirects=False) as answer:
        if answer.status_code != 200:
            answer.failure(f"{answer.status_code}")


class Manager(HttpUser):
    """A manager: the dashboard, every list, leads, accounts, tasks, the audit log, the editor."""

    weight = 3
    wait_time = between(1, 3)

    def on_start(self) -> None:
        _login(self, SAMPLE["managers"][next(NEXT) % len(SAMPLE["managers"])])

    @task(3)
    def dashboard(self) -> None:
        _get(self, "/dashboard", "/dashboard")

    @task(3)
    def leads(self) -> None:
        _get(self, "/leads", "/leads")

    @task(2)
    def leads_by_status(self) -> None:
        _get(self, f"/leads?status={random.choice(SAMPLE['statuses'])}", "/leads?status=")

    @task(2)
    def leads_by_owner(self) -> None:
        _get(self, f"/leads?owner={quote(random.choice(SAMPLE['owners']))}", "/leads?owner=")

    @task(2)
    def leads_search(self) -> None:
        _get(self, f"/leads?q={quote(random.choice(SAMPLE['searches']))}", "/leads?q=")

    @task(6)
    def lead(self) -> None:
        _get(self, f"/leads/{quote(random.choice(SAMPLE['leads']))}", "/leads/{email}")

    @task(2)
    def account(self) -> None:
        _get(self, f"/accounts/{random.choice(SAMPLE['accounts'])}", "/accounts/{id}")

    @task(2)
    def task_list(self) -> None:
        _get(self, "/tasks", "/tasks")

    @task(2)
    def tasks_of_rep(self) -> None:
        _get(self, f"/tasks?owner={quote(random.choice(SAMPLE['owners']))}", "/tasks?owner=")

    @task(3)
    def one_task(self) -> None:
        _get(self, f"/tasks/{random.choice(SAMPLE['tasks'])}", "/tasks/{id}")

    @task(1)
    def reps(self) -> None:
        _get(self, "/reps", "/reps")

    @task(1)
    def not_enrolled(self) -> None:
        _get(self, "/not-enrolled", "/not-enrolled")

    @task(1)
    def audit(self) -> None:
        _get(self, "/audit", "/audit")

    @task(1)
    def cadences(self) -> None:
        _get(self, "/cadences", "/cadences")

    @task(1)
    def templates(self) -> None:
        _get(self, "/templates", "/templates")

    @task(1)
    def editor(self) -> None:
        _get(self, "/editor/cadences/default.yaml", "/editor/{path}")

    @task(1)
    def mailboxes(self) -> None:
        _get(self, "/mailboxes", "/mailboxes")

    @task(1)
    def webhooks(self) -> None:
        _get(self, "/webhooks", "/webhooks")


class Rep(HttpUser):
    """A rep: their own tasks, their leads, one task and one lead at a time."""

    weight = 2
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.rep = list(SAMPLE["reps"])[next(NEXT) % len(SAMPLE["reps"])]
        self.own: dict[str, list[Any]] = SAMPLE["reps"][self.rep]
        _login(self, self.rep)

    @task(3)
    def task_list(self) -> None:
        _get(self, "/tasks", "/tasks (rep)")

    @task(2)
    def leads(self) -> None:
        _get(self, "/leads", "/leads (rep)")

    @task(3)
    def lead(self) -> None:
        _get(self, f"/leads/{quote(random.choice(self.own['leads']))}", "/leads/{email} (rep)")

    @task(3)
    def one_task(self) -> None:
        _get(self, f"/tasks/{random.choice(self.own['tasks'])}", "/tasks/{id} (rep)")


class ApiClient(HttpUser):
    """A program reading the API: leads and tasks."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {SAMPLE['api_key']}"

    @task(3)
    def lead(self) -> None:
        _get(self, f"/api/v1/leads/{quote(random.choice(SAMPLE['leads']))}", "GET /api/v1/leads/{email}")

    @task(2)
    def task_list(self) -> None:
        _get(self, "/api/v1/tasks?status=open&due=overdue", "GET /api/v1/tasks")

    @task(1)
    def tasks_of_rep(self) -> None:
        _get(self, f"/api/v1/tasks?owner={quote(random.choice(SAMPLE['owners']))}", "GET /api/v1/tasks?owner=")
