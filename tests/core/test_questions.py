"""The qualifying questions as configuration: validated at load with the line and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadence.adapters.files import load_questions
from cadence.core.questions import DEFAULT_QUESTIONS, Question, parse_answer_items, validate_partial
from cadence.errors import ConfigurationError, ValidationError
from cadence.services.template_checks import check_templates
from tests.conftest import TEMPLATES


def test_the_shipped_file_holds_seed_001s_seven_and_an_absent_file_means_them(tmp_path: Path) -> None:
    assert load_questions(TEMPLATES) == DEFAULT_QUESTIONS
    assert len(DEFAULT_QUESTIONS) == 7
    assert load_questions(tmp_path) == DEFAULT_QUESTIONS


def test_ops_edit_the_questions_and_their_wording_is_tidied(tmp_path: Path) -> None:
    (tmp_path / "questions.yaml").write_text(
        "questions:\n  - key: budget\n    question: |\n      Is there a   budget\n      this year?\n"
        "  - {key: decides, question: 'Who decides?'}\n"
    )
    assert load_questions(tmp_path) == (
        Question("budget", "Is there a budget this year?"),
        Question("decides", "Who decides?"),
    )


FAULTS = [
    ("questions: []\n", ":1: 'questions' must be a non-empty list"),
    ("questions:\n  - key: Budget\n    question: x\n", ":2: key 'Budget' must be lower-case letters"),
    ("questions:\n  - key: a\n    question: x\n  - key: a\n    question: y\n", ":4: the key a is used by an earlier"),
    ("questions:\n  - key: a\n    question: '  '\n", ":2: question a has no text"),
    ("questions:\n  - key: a\n    question: x\n    answer: y\n", ":2: unknown key(s) answer"),
    ("questions:\n  - just text\n", "question 1: each question is a mapping"),
    ("questoins:\n  - key: a\n", ":1: unknown key(s) questoins"),
    ("questions:\n  - key: a\n   question: x\n", ":3: not valid YAML"),
]


@pytest.mark.parametrize(("text", "reason"), FAULTS, ids=[f[1].split(": ", 1)[-1][:30] for f in FAULTS])
def test_a_fault_names_the_file_the_line_and_the_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "questions.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as raised:
        load_questions(tmp_path)
    assert str(raised.value).startswith(str(path))
    assert reason in str(raised.value)


def test_templates_check_reports_a_broken_questions_file_with_its_line(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    (folder / "questions.yaml").write_text("questions:\n  - key: a\n    question: x\n  - key: a\n    question: y\n")
    [problem] = [p for p in check_templates(folder) if p.path.endswith("questions.yaml")]
    assert problem.line == 4
    assert "used by an earlier question" in problem.reason


def test_answers_typed_at_the_command_line_are_checked_against_the_questions() -> None:
    assert parse_answer_items(["committed=yes", "approves= the  CFO ", "fit="], DEFAULT_QUESTIONS) == {
        "committed": "yes",
        "approves": "the CFO",
    }
    with pytest.raises(ValidationError, match="is not KEY=VALUE"):
        parse_answer_items(["committed"], DEFAULT_QUESTIONS)
    with pytest.raises(ValidationError, match=r"unknown question key.*budget"):
        parse_answer_items(["budget=1k"], DEFAULT_QUESTIONS)
    with pytest.raises(ValidationError, match="longer than 2000"):
        validate_partial({"fit": "x" * 2001}, DEFAULT_QUESTIONS)
