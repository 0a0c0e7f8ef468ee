"""Stages of maturation, pure: parsing ``stages.yaml`` (each fault at its line) and what moves a lead."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadence.adapters.files import load_stages, load_yaml
from cadence.core.stages import DEFAULT_STAGES, SEED_STAGES, hand_move, median, parse_stages, rule_move, triggers
from cadence.errors import ConfigurationError, ValidationError
from cadence.services.tasks import OUTCOMES
from tests.conftest import TEMPLATES


def test_the_shipped_file_is_seed_001s_nine_stages_and_the_default_rules() -> None:
    shipped = load_stages(TEMPLATES, OUTCOMES)
    assert [(s.key, s.name) for s in shipped.stages] == list(SEED_STAGES)
    assert [(r.trigger, r.stage) for r in shipped.rules] == [(r.trigger, r.stage) for r in DEFAULT_STAGES.rules]
    assert shipped.stages[4].name == "Mapping into the company"


def test_without_the_file_seed_001s_stages_apply(tmp_path: Path) -> None:
    assert load_stages(tmp_path, OUTCOMES) == DEFAULT_STAGES


FAULTS = [
    ("stages: []\n", 1, "stages must be a non-empty list"),
    ("stages:\n  - key: a\n    name: A\n  - key: a\n    name: B\n", 4, "stage 'a' is listed twice"),
    ("stages:\n  - key: Bad Key\n    name: A\n", 2, "a stage's key is lower-case letters"),
    ("stages:\n  - key: a\n    name: ''\n", 2, "stage 'a' needs a name"),
    ("stages:\n  - key: a\n    name: A\nrules:\n  - intent: happy\n    stage: a\n", 5, "unknown intent 'happy'"),
    ("stages:\n  - key: a\n    name: A\nrules:\n  - decision: won\n    stage: a\n", 5, "unknown decision 'won'"),
    ("stages:\n  - key: a\n    name: A\nrules:\n  - task: call shouted\n    stage: a\n", 5,
     "unknown task outcome 'call shouted'"),
    ("stages:\n  - key: a\n    name: A\nrules:\n  - intent: referral\n    stage: b\n", 5,
     "moves to 'b', which is no stage"),
    ("stages:\n  - key: a\n    name: A\nrules:\n  - intent: referral\n    decision: qualified\n    stage: a\n", 5,
     "a rule names exactly one of intent, task or decision"),
    ("stages:\n  - key: a\n    name: A\nrules:\n  - intent: referral\n    stage: a\n  - intent: referral\n"
     "    stage: a\n", 7, "two rules for intent referral"),
    ("stages:\n  - key: a\n    name: A\nsteps: 3\n", 1, "unknown key(s) steps"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "reason"), FAULTS, ids=[f[2][:30] for f in FAULTS])
def test_a_faulty_file_is_refused_with_its_line_and_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        parse_stages(load_yaml(path), task_outcomes=OUTCOMES)
    assert reason in str(caught.value)
    assert f"(line {line})" in str(caught.value)


def test_rules_move_a_lead_forward_to_the_furthest_stage_they_name() -> None:
    move = rule_move(DEFAULT_STAGES, None, triggers(intent="interested"), by="cadence")
    assert move is not None
    assert (move.stage, move.previous, move.reason) == ("initial_conversation", None, "rule: intent interested")
    both = rule_move(DEFAULT_STAGES, None, triggers(task=("call", "connected"), decision="meeting_booked"), by="x")
    assert both is not None
    assert both.stage == "group_meeting"


def test_rules_never_move_a_lead_back_nor_where_it_is() -> None:
    assert rule_move(DEFAULT_STAGES, "group_meeting", triggers(intent="referral"), by="cadence") is None
    assert rule_move(DEFAULT_STAGES, "referrals", triggers(intent="referral"), by="cadence") is None
    assert rule_move(DEFAULT_STAGES, None, triggers(intent="out_of_office"), by="cadence") is None


def test_a_person_moves_a_lead_anywhere_with_a_reason() -> None:
    back = hand_move(DEFAULT_STAGES, "group_meeting", "Assessment", reason=" needs  a second look ", by="rita")
    assert (back.stage, back.previous, back.by) == ("assessment", "group_meeting", "rita")
    assert back.reason == "needs a second look"
    with pytest.raises(ValidationError, match="say why"):
        hand_move(DEFAULT_STAGES, None, "vetting", reason="  ", by="rita")
    with pytest.raises(ValidationError, match="unknown stage 'won'; choose one of identify_contacts"):
        hand_move(DEFAULT_STAGES, None, "won", reason="because", by="rita")
    with pytest.raises(ValidationError, match="in Identify contacts already"):
        hand_move(DEFAULT_STAGES, None, "identify_contacts", reason="because", by="rita")


def test_the_median_of_an_even_and_an_odd_count() -> None:
    assert median([]) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
