"""``cadence inbound classify``: what message files say, printed as text or JSON, without the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "replies"
LABELS = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI with a database that cannot be reached: classifying must not need one."""
    monkeypatch.chdir(tmp_path)
    return Cli({"CADENCE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=1"})


def first(intent: str, *, with_date: bool = False) -> str:
    return next(
        n for n, label in sorted(LABELS.items()) if label["intent"] == intent and (label["date"] or not with_date)
    )


def test_json_gives_each_files_intent_confidence_date_referral_and_evidence(cli: Cli) -> None:
    names = [first("referral"), first("not_now", with_date=True), first("bounce")]
    out = cli("inbound", "classify", "--json", *(str(CORPUS / n) for n in names)).json()
    assert [set(item) for item in out] == [{"file", "intent", "confidence", "date", "referral", "evidence"}] * 3
    assert [item["intent"] for item in out] == ["referral", "not_now", "bounce"]
    assert out[0]["referral"] == LABELS[names[0]]["referral"]
    assert out[1]["date"] == LABELS[names[1]]["date"]
    assert out[2]["referral"] is None
    assert all(item["evidence"] for item in out)


def test_text_names_the_file_the_intent_and_the_evidence(cli: Cli) -> None:
    name = first("not_interested")
    out = cli("inbound", "classify", str(CORPUS / name)).stdout
    assert out.startswith(f"{CORPUS / name}: not_interested (0.")
    assert len(out.splitlines()) >= 2, "the evidence follows, indented"


def test_bad_files_are_one_line_errors_each_and_the_rest_is_printed(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "junk.eml").write_bytes(b"\x00\xff\xfe" * 1000)
    (tmp_path / "notes.txt").write_text("not a message at all\n")
    good = str(CORPUS / first("interested"))
    result = cli("inbound", "classify", "missing.eml", "junk.eml", "notes.txt", good, expect=1)
    assert result.stdout.startswith(f"{good}: interested")
    assert result.stderr.splitlines() == [
        "error: 'missing.eml': no such file",
        "error: 'junk.eml': not a message (binary data)",
        "error: 'notes.txt': not a message (no From, Date or Subject header)",
        "error: 3 of 4 files could not be read",
    ]


def test_json_lists_the_errors_with_the_readings(cli: Cli) -> None:
    result = cli("inbound", "classify", "--json", "missing.eml", expect=1)
    assert json.loads(result.stdout) == [{"file": "missing.eml", "error": "no such file"}]


def test_without_files_it_is_a_usage_error(cli: Cli) -> None:
    assert cli("inbound", "classify", expect=2).exit_code == 2
