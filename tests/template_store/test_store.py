"""The template store: versions in the database (SQLite and PostgreSQL), checks on save, export/import, runners."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import tests.flows.conftest as flow_fixtures
from cadence.adapters.smtp_sink import SmtpSink
from cadence.errors import AlreadyExists, ValidationError
from cadence.services import template_store
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.leads import import_leads
from cadence.settings import Settings
from flows.advance import flow_context
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed
from tests.flows.test_advance import MONDAY, SEND
from tests.reliability.test_races import WAITING_ON_A_LOCK

flow_env = flow_fixtures.flow_env

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
INTRO = "email/introduction.j2"


def seeded(ctx: Context) -> int:
    with ctx.sessions.begin() as s:
        return template_store.seed(s, TEMPLATES, now=NOW)


def test_an_empty_store_is_seeded_from_the_folder_once(ctx: Context) -> None:
    count = seeded(ctx)
    assert count == len(template_store.folder_files(TEMPLATES)) > 20
    assert seeded(ctx) == 0  # never again: the store is the truth from now on
    with ctx.sessions() as s:
        files = template_store.current_files(s)
    assert files[INTRO].version == 1
    assert files[INTRO].content == (TEMPLATES / INTRO).read_text(encoding="utf-8")
    assert "cadences/default.yaml" in files


def test_every_save_is_a_version_with_who_when_and_a_diff(ctx: Context) -> None:
    seeded(ctx)
    original = (TEMPLATES / INTRO).read_text(encoding="utf-8")
    changed = original.replace("{% block subject %}", "{% block subject %}Quick one: ", 1)
    with ctx.sessions.begin() as s:
        saved = template_store.save(s, INTRO, changed, by="mara@cadence.example", now=NOW, comment="shorter")
        again = template_store.save(s, INTRO, changed, by="mara@cadence.example", now=NOW)  # nothing new
    assert (saved.version, again.version) == (2, 2)
    with ctx.sessions() as s:
        versions = template_store.history(s, INTRO)
        lines = template_store.diff(s, INTRO, 1, 2)
    assert [(v.version, v.saved_by, v.comment) for v in versions] == [
        (2, "mara@cadence.example", "shorter"),
        (1, None, f"first version, from {TEMPLATES}"),
    ]
    assert versions[0].saved_at == NOW
    assert any(line.startswith("+") and "Quick one: " in line for line in lines)
    assert any(line.startswith("-") and "{% block subject %}" in line for line in lines)

    with ctx.sessions.begin() as s:
        restored = template_store.restore(s, INTRO, 1, by="mara@cadence.example", now=NOW + timedelta(hours=1))
    assert (restored.version, restored.content, restored.comment) == (3, original, "restored version 1")


@pytest.mark.parametrize(
    ("path", "content", "line", "reason"),
    [
        (INTRO, "{% block subject %}Hi {{ lead.first_name {% endblock %}\n", 1, "syntax error"),
        (INTRO, "{% block subject %}Hi{% endblock %}\n{% block text %}\n\n{{ lead.frist_name }}\n{% endblock %}\n",
         4, "frist_name"),
        ("cadences/default.yaml", "name: default\nsteps:\n  - day: x\n", None, ""),
    ],
)  # fmt: skip
def test_a_broken_file_is_refused_with_its_line_and_reason(
    ctx: Context, path: str, content: str, line: int | None, reason: str
) -> None:
    seeded(ctx)
    with ctx.sessions.begin() as s, pytest.raises(template_store.SaveRefused) as refused:
        template_store.save(s, path, content, by="mara@cadence.example", now=NOW)
    problems = refused.value.problems
    assert problems
    assert all(p.path == path for p in problems)
    if line is not None:
        assert problems[0].line == line
    assert reason in str(refused.value)
    with ctx.sessions() as s:
        assert template_store.current_files(s)[path].version == 1  # nothing saved


@pytest.mark.parametrize("path", ["../etc/passwd.j2", "/abs.j2", "email/.hidden.j2", "email/x.txt", "a\nb.j2", ""])
def test_a_path_outside_the_templates_folder_is_refused(ctx: Context, path: str) -> None:
    with ctx.sessions.begin() as s, pytest.raises(ValidationError, match="not a file of the templates"):
        template_store.save(s, path, "x", by=None, now=NOW)


def test_export_then_import_is_a_round_trip(ctx: Context, tmp_path: Path) -> None:
    seeded(ctx)
    with ctx.sessions() as s:
        assert template_store.export_folder(s, tmp_path / "out") == len(template_store.folder_files(TEMPLATES))
    assert template_store.folder_files(tmp_path / "out") == template_store.folder_files(TEMPLATES)
    with ctx.sessions.begin() as s:
        assert template_store.import_folder(s, tmp_path / "out", by="git", now=NOW) == []  # nothing changed

    intro = tmp_path / "out" / INTRO
    intro.write_text(intro.read_text().replace("{% block subject %}", "{% block subject %}From git: ", 1))
    with ctx.sessions.begin() as s:
        saved = template_store.import_folder(s, tmp_path / "out", by="git", now=NOW)
    assert [(v.path, v.version, v.saved_by) for v in saved] == [(INTRO, 2, "git")]

    intro.write_text("{% block subject %}{{ lead.first_name }{% endblock %}")
    new_one = tmp_path / "out" / "email" / "new_one.j2"
    new_one.write_text("{% block subject %}New{% endblock %}{% block text %}Hi{% endblock %}")
    with ctx.sessions.begin() as s, pytest.raises(template_store.SaveRefused) as refused:
        template_store.import_folder(s, tmp_path / "out", by="git", now=NOW)
    assert {p.path for p in refused.value.problems} == {INTRO}
    assert refused.value.problems[0].line == 1
    with ctx.sessions() as s:
        files = template_store.current_files(s)
    assert files[INTRO].version == 2
    assert "email/new_one.j2" not in files


def test_the_context_reads_the_store_and_sees_a_save_on_refresh(ctx: Context) -> None:
    assert ctx.templates_dir == TEMPLATES  # an empty store: the folder
    seeded(ctx)
    assert ctx.refresh_templates() is True
    first = ctx.templates_dir
    assert first != TEMPLATES
    assert (first / INTRO).read_text() == (TEMPLATES / INTRO).read_text()
    assert ctx.refresh_templates() is False  # nothing saved: same folder, nothing read again
    cadences = ctx.cadences
    with ctx.sessions.begin() as s:
        text = (TEMPLATES / INTRO).read_text().replace("{% block subject %}", "{% block subject %}Saved: ", 1)
        template_store.save(s, INTRO, text, by="mara@cadence.example", now=NOW)
    assert ctx.refresh_templates() is True
    assert ctx.templates_dir != first
    assert "Saved: " in (ctx.templates_dir / INTRO).read_text()
    assert ctx.cadences is not cadences  # read again from the new version

    other = Context(Settings(database_url=ctx.settings.database_url, templates_dir=TEMPLATES))
    try:
        assert other.templates_dir == ctx.templates_dir  # every runner: the same version, the same folder
    finally:
        other.close()


def test_a_runner_uses_a_saved_template_on_its_next_run(flow_env: SmtpSink) -> None:
    ctx = flow_context()
    seeded(ctx)
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    asyncio.run(run_until_idle(ctx, now=SEND, batch_size=10))
    with ctx.sessions.begin() as s:
        text = (TEMPLATES / INTRO).read_text().replace("{% block subject %}", "{% block subject %}Saved today: ", 1)
        template_store.save(s, INTRO, text, by="mara@cadence.example", now=NOW)
    with ctx.sessions.begin() as s:
        import_leads(s, [lead_row(1)], now=MONDAY, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                     cadence_override="nurture")  # fmt: skip
    asyncio.run(run_until_idle(ctx, now=SEND, batch_size=10))
    subjects = {m["To"].addresses[0].addr_spec: str(m["Subject"]) for m in flow_env.messages()}
    assert not subjects["lead0@acme.example"].startswith("Saved today: ")
    assert subjects["lead1@acme.example"].startswith("Saved today: ")


def _while_waiting(
    ctx: Context, first: Callable[[Session], object], second: Callable[[Session], object]
) -> list[object]:
    """Run ``first`` in a transaction, then ``second`` in another thread until it waits on ``first``'s lock,
    then commit ``first``: what ``second`` returned or raised."""
    outcome: list[object] = []

    def other() -> None:
        try:
            with ctx.sessions.begin() as s:
                outcome.append(second(s))
        except Exception as exc:  # what the second transaction met: checked by the caller
            outcome.append(exc)

    with ctx.sessions.begin() as s:
        first(s)
        thread = threading.Thread(target=other)
        thread.start()
        with ctx.engine.connect() as watch:
            for _ in range(600):
                if watch.execute(WAITING_ON_A_LOCK).scalar_one() or not thread.is_alive():
                    break
                watch.rollback()
                threading.Event().wait(0.1)
    thread.join(60)
    return outcome


@pytest.mark.postgresql
def test_two_first_visits_of_the_editor_at_once_seed_the_store_once(postgresql_ctx: Context) -> None:
    seed = functools.partial(template_store.seed, folder=TEMPLATES, now=NOW)
    assert _while_waiting(postgresql_ctx, seed, seed) == [0]  # the second finds the first's versions
    with postgresql_ctx.sessions() as s:
        files = template_store.current_files(s)
    assert {v.version for v in files.values()} == {1}
    assert len(files) == len(template_store.folder_files(TEMPLATES))


@pytest.mark.postgresql
def test_two_saves_of_one_file_at_once_keep_the_first_and_tell_the_second(postgresql_ctx: Context) -> None:
    seeded(postgresql_ctx)
    text = (TEMPLATES / INTRO).read_text()

    def save(marker: str) -> Callable[[Session], object]:
        changed = text.replace("{% block subject %}", "{% block subject %}" + marker, 1)
        return lambda s: template_store.save(s, INTRO, changed, by="mara@cadence.example", now=NOW)

    [second] = _while_waiting(postgresql_ctx, save("First: "), save("Second: "))
    assert isinstance(second, AlreadyExists)
    assert "saved by someone else meanwhile" in str(second)
    with postgresql_ctx.sessions() as s:
        current = template_store.current_files(s)[INTRO]
    assert (current.version, "First: " in current.content) == (2, True)
