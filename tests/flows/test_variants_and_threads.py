"""Template variants (A/B) and threaded follow-ups, sent for real."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cadence.adapters.models import Touch
from cadence.adapters.smtp_sink import SmtpSink
from flows.advance import advance_cadences, flow_context
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)

AB_CADENCE = """\
name: ab
settings:
  send_window: {start: "08:00", end: "17:00"}
steps:
  - day: 1
    channel: email
    templates: [email/introduction, email/check-in]
  - day: 3
    channel: email
    template: email/follow-up
    thread: previous
"""


def test_each_lead_gets_one_variant_for_good_and_the_follow_up_replies_in_its_thread(
    flow_env: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "cadences" / "ab.yaml").write_text(AB_CADENCE)
    monkeypatch.setenv("CADENCE_TEMPLATES_DIR", str(templates))
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(20)], now=MONDAY, cadence="ab")
    asyncio.run(advance_cadences(now=MONDAY + timedelta(days=1, hours=1)))
    asyncio.run(advance_cadences(now=MONDAY + timedelta(days=3, hours=1)))
    with ctx.sessions() as s:
        touches = list(s.scalars(select(Touch).order_by(Touch.lead_id, Touch.step_index)))
    first = {t.lead_id: t for t in touches if t.step_index == 0}
    second = {t.lead_id: t for t in touches if t.step_index == 1}
    variants = Counter(t.template for t in first.values())
    assert set(variants) == {"email/introduction", "email/check-in"}  # both variants in use
    assert min(variants.values()) >= 4  # and roughly split
    messages = {m["Message-ID"]: m for m in flow_env.messages()}
    assert len(messages) == 40
    for lead_id, touch in first.items():
        opening = messages[touch.message_id]
        follow_up = messages[second[lead_id].message_id]
        assert follow_up["In-Reply-To"] == touch.message_id
        assert follow_up["References"] == touch.message_id
        assert follow_up["Subject"] == f"Re: {opening['Subject']}"
        assert second[lead_id].template == "email/follow-up"


@pytest.mark.one_database
def test_the_variant_choice_is_deterministic(flow_env: SmtpSink) -> None:
    from cadence.services.advance.compose import choose_variant as _choose_variant

    names = ("email/a", "email/b", "email/c")
    picks = [_choose_variant(names, f"lead{i}@acme.example", 7, 0) for i in range(60)]
    assert picks == [_choose_variant(names, f"lead{i}@acme.example", 7, 0) for i in range(60)]
    assert set(picks) == set(names)
