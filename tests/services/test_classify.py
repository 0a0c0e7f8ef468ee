"""Classifying message files without a database: one result per file, a one-line error for a bad one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from cadence.services.classify import classify_files

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "replies"
KEYS = {"file", "intent", "confidence", "date", "referral", "evidence"}


def test_each_message_file_gives_intent_date_referral_and_evidence() -> None:
    labels = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))
    names = [n for n, label in labels.items() if label["referral"] and label["referral"]["email"]][:1]
    names += [n for n, label in labels.items() if label["intent"] == "not_now" and label["date"]][:1]
    results = classify_files([CORPUS / name for name in names])
    assert [set(r) for r in results] == [KEYS, KEYS]
    referral, not_now = results
    assert referral["intent"] == "referral"
    assert referral["referral"] == labels[names[0]]["referral"]
    assert (not_now["intent"], not_now["date"]) == ("not_now", labels[names[1]]["date"])
    assert referral["file"] == str(CORPUS / names[0])
    assert json.loads(json.dumps(results)) == results, "plain JSON data"


def test_bad_files_give_a_one_line_error_each_and_the_others_are_read(tmp_path: Path) -> None:
    (tmp_path / "junk.eml").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "text.eml").write_text("just some notes\nnothing like a message\n")
    (tmp_path / "empty.eml").write_bytes(b"")
    (tmp_path / "dir.eml").mkdir()
    good = tmp_path / "good.eml"
    good.write_text(
        "From: dana@acme.example\nSubject: Re: hi\nDate: Mon, 07 Dec 2026 10:15:00 +0100\n\nNot interested.\n"
    )
    paths = [tmp_path / n for n in ("missing.eml", "junk.eml", "text.eml", "empty.eml", "dir.eml", "good.eml")]
    results = classify_files(paths)
    errors = {Path(r["file"]).name: r["error"] for r in results if "error" in r}
    assert errors == {
        "missing.eml": "no such file",
        "junk.eml": "not a message (binary data)",
        "text.eml": "not a message (no From, Date or Subject header)",
        "empty.eml": "empty file",
        "dir.eml": "not a file",
    }
    assert results[-1]["intent"] == "not_interested"


def test_a_message_without_date_resolves_dates_against_the_time_given(tmp_path: Path) -> None:
    path = tmp_path / "no-date.eml"
    path.write_text("From: dana@acme.example\nSubject: Re: hi\n\nNot right now, try me next month.\n")
    [without] = classify_files([path])
    [with_time] = classify_files([path], at=datetime(2027, 5, 20, tzinfo=UTC))
    assert (without["intent"], without["date"]) == ("not_now", None)
    assert with_time["date"] == "2027-06-01"
