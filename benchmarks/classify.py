"""How well the reply classifier reads the labelled corpus of ``tests/fixtures/replies``.

    python benchmarks/classify.py [--corpus DIR] [--repeat N] [--show-misses]

Reads every ``.eml`` of the corpus with :func:`cadence.core.intent.read_message` and compares the
intent with ``labels.json``. Prints the accuracy per intent, the misses (with ``--show-misses``), the
dates and referrals read right, and, last, one JSON line:
``{"messages", "accuracy", "by_intent", "by_language", "confusion", "unsafe", "unsafe_pairs", "dates_right",
"referrals_right", "per_message_ms", "target", "ok"}``. ``confusion`` says how the replies of the four
safety-relevant intents (``interested``, ``referral``, ``not_interested``, ``unsubscribe_request``) were
read; ``unsafe`` counts replies labelled ``interested`` or ``referral`` that were read as
``not_interested`` or ``unsubscribe_request``. The floor is the
target in the line (accuracy at least 0.9, no unsafe reading); the exit code is 0 when it is met.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cadence.core.intent import INTENTS, UNSAFE_PAIRS, Reading, read_message  # noqa: E402
from cadence.services.classify import parse_message  # noqa: E402

TARGET = {"accuracy": 0.9, "unsafe": 0}
SAFETY_RELEVANT = ("interested", "referral", "not_interested", "unsubscribe_request")


HOSTILE = {
    "negations": "not " * 50_000,
    "cues": "please contact " * 20_000,
    "names": "Jane " * 50_000 + "@",
    "digits": "1 2 3 4 5 6 7 8 9 " * 20_000,
    "relative dates": "in 12 " * 30_000,
    "at signs": "a@" * 50_000,
    "quotes": "> quoted\n" * 50_000,
}
"""Texts built to make a careless pattern backtrack (the same as tests/core/test_intent.py's)."""


def hostile_figures() -> dict[str, dict[str, float]]:
    """Per hostile text: the milliseconds a reading takes, and its ratio to a floor measured now on the same
    text (one pass of a word pattern over it): linear readings stay within a small multiple of the floor."""
    import re
    from datetime import UTC, datetime

    from cadence.core.intent import read_text

    at = datetime(2026, 12, 7, tzinfo=UTC)

    figures: dict[str, dict[str, float]] = {}
    for name, text in HOSTILE.items():
        started = time.perf_counter()
        re.findall(r"\w+", text.lower())
        floor = time.perf_counter() - started
        started = time.perf_counter()
        read_text(text, at=at, sender="lead@acme.example")
        took = time.perf_counter() - started
        figures[name] = {"ms": round(took * 1000, 1), "floor_ms": round(floor * 1000, 1),
                         "ratio": round(took / floor, 1) if floor else 0.0}  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "fixtures" / "replies")
    parser.add_argument("--repeat", type=int, default=20, help="passes over the corpus for the timing")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)

    labels = json.loads((args.corpus / "labels.json").read_text(encoding="utf-8"))
    messages = {name: parse_message((args.corpus / name).read_bytes()) for name in sorted(labels)}
    readings: dict[str, Reading] = {}
    started = time.perf_counter()
    for _ in range(max(1, args.repeat)):
        readings = {name: read_message(message) for name, message in messages.items()}
    elapsed = time.perf_counter() - started

    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    language_right: Counter[str] = Counter()
    language_total: Counter[str] = Counter()
    confusion: dict[str, Counter[str]] = {i: Counter() for i in SAFETY_RELEVANT}
    unsafe: Counter[str] = Counter()
    dates = [0, 0]
    referrals = [0, 0]
    for name, label in labels.items():
        reading, expected = readings[name], label["intent"]
        total[expected] += 1
        language_total[label["language"]] += 1
        if expected in confusion:
            confusion[expected][reading.intent] += 1
        if reading.intent == expected:
            right[expected] += 1
            language_right[label["language"]] += 1
        elif args.show_misses:
            print(f"miss {name}: {expected} read as {reading.intent} {reading.confidence} {reading.evidence}")
        if (expected, reading.intent) in UNSAFE_PAIRS:
            unsafe[f"{expected}->{reading.intent}"] += 1
        if label.get("date") and reading.intent == expected:
            dates[1] += 1
            got = reading.date.isoformat() if reading.date else None
            dates[0] += got == label["date"]
            if got != label["date"] and args.show_misses:
                print(f"date {name}: {label['date']} read as {got}")
        if label.get("referral") and reading.intent == expected:
            referrals[1] += 1
            got_referral = reading.referral.as_dict() if reading.referral else None
            referrals[0] += got_referral == label["referral"]
            if got_referral != label["referral"] and args.show_misses:
                print(f"referral {name}: {label['referral']} read as {got_referral}")

    by_intent = {i: round(right[i] / total[i], 3) for i in INTENTS if total[i]}
    for intent in INTENTS:
        if total[intent]:
            print(f"{intent:20} {right[intent]:4}/{total[intent]:<4} {by_intent[intent]:.0%}", file=sys.stderr)
    count = sum(total.values())
    accuracy = round(sum(right.values()) / count, 3) if count else 0.0
    unsafe_count = sum(unsafe.values())
    line = {
        "messages": count,
        "accuracy": accuracy,
        "by_intent": by_intent,
        "by_language": {k: round(language_right[k] / n, 3) for k, n in sorted(language_total.items())},
        "confusion": {i: dict(c.most_common()) for i, c in confusion.items()},
        "unsafe": unsafe_count,
        "unsafe_pairs": dict(unsafe),
        "dates_right": f"{dates[0]}/{dates[1]}",
        "referrals_right": f"{referrals[0]}/{referrals[1]}",
        "per_message_ms": round(elapsed * 1000 / (count * max(1, args.repeat)), 3) if count else 0.0,
        "hostile": hostile_figures(),
        "target": TARGET,
        "ok": accuracy >= TARGET["accuracy"] and unsafe_count <= TARGET["unsafe"],
    }
    print(json.dumps(line), flush=True)
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
