"""The report for people: text and markdown tables, and one CSV of every figure (formulas neutralised)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cadence.adapters.csv_safety import csv_cell


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if value >= 0.0001 else f"{value:.2e}"


def _outcomes(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))


@dataclass(frozen=True)
class _Table:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _tables(report: dict[str, Any]) -> Iterator[_Table]:
    """The report as titled tables, for the text and markdown renderings."""
    funnel = report["funnel"]
    yield _Table("Funnel", ("stage", "count"), [(k.replace("_", " "), v) for k, v in funnel.items()])
    yield _Table(
        "Steps",
        ("cadence", "step", "day", "channel", "executed", "emails sent", "replies", "reply rate", "bounces",
         "unsubscribes", "tasks on time", "late", "skipped", "overdue"),
        [
            (s["cadence"], s["step"], s["day"], s["channel"], s["executed"], s["emails_sent"], s["replies"],
             _percent(s["reply_rate"]), s["bounces"], s["unsubscribes"], s["tasks_on_time"], s["tasks_late"],
             s["tasks_skipped"], s["tasks_overdue"])
            for s in report["steps"]
        ],
    )  # fmt: skip
    yield _Table(
        "Template variants",
        ("cadence", "step", "template", "sends", "replies", "reply rate", "test", "p-value", "verdict"),
        [
            (g["cadence"], g["step"], v["template"], v["sends"], v["replies"], _percent(v["reply_rate"]),
             (g["test"] or "") if i == 0 else "", _p(g["p_value"]) if i == 0 else "", g["verdict"] if i == 0 else "")
            for g in report["variants"]
            for i, v in enumerate(g["variants"])
        ],
    )  # fmt: skip
    for key, label in (("by_source", "source"), ("by_class", "class"), ("by_cadence", "cadence")):
        rows = report["conversion"][key]
        column = next(iter(rows[0])) if rows else label
        yield _Table(
            f"Conversion by {label}",
            (label, "enrolled", "contacted", "responded", "meetings", "handed off", "response rate", "conversion",
             "mean h to response", "mean h to decision"),
            [
                (r[column], r["enrolled"], r["contacted"], r["responded"], r["meetings_booked"], r["handed_off"],
                 _percent(r["response_rate"]), _percent(r["conversion_rate"]),
                 _number(r["mean_hours_to_first_response"]), _number(r["mean_hours_to_decision"]))
                for r in rows
            ],
        )  # fmt: skip
    timing = report["timing"]
    yield _Table(
        "Time from enrollment (hours)",
        ("to", "count", "mean", "median", "min", "max"),
        [
            (label, t["count"], _number(t["mean_hours"]), _number(t["median_hours"]), _number(t["min_hours"]),
             _number(t["max_hours"]))
            for label, t in (("first response", timing["first_response"]), ("decision", timing["decision"]))
        ],
    )  # fmt: skip
    decisions = report["decisions"]
    yield _Table(
        f"Decisions ({decisions['total']}; superseded {decisions['superseded']})",
        ("outcome", "count", "without reason"),
        [(d["outcome"], d["count"], d["without_reason"]) for d in decisions["by_outcome"]],
    )
    yield _Table(
        "Decisions by reason",
        ("outcome", "reason", "count"),
        [(d["outcome"], "(no reason)" if d["reason"] is None else d["reason"], d["count"])
         for d in decisions["by_reason"]],
    )  # fmt: skip
    flagged = decisions["meetings_without_answers"]
    yield _Table(
        f"FLAGGED: meetings booked without the qualifying answers ({flagged['count']})",
        ("lead", "owner", "outcome", "decided at", "why", "reason"),
        [(m["lead"], m["owner"], m["outcome"], m["decided_at"], m["why"], m["reason"]) for m in flagged["items"]],
    )
    yield _Table(
        "Owners",
        ("owner", "leads", "tasks on time", "late", "skipped", "overdue", "overdue (all periods)", "undecided",
         "outcomes"),
        [
            (o["owner"], o["leads"], o["tasks_on_time"], o["tasks_late"], o["tasks_skipped"], o["tasks_overdue"],
             o["overdue_all_periods"], o["undecided"], _outcomes(o["outcomes"]))
            for o in report["owners"]
        ],
    )  # fmt: skip
    yield _Table(
        "Stages of maturation (every lead now, whatever the period)",
        ("stage", "leads", "median days in stage"),
        [(s["name"], s["leads"], s["median_days"]) for s in report.get("stages", [])],
    )
    speed = report["first_touch"]
    yield _Table(
        "Time to first touch (minutes from enrollment)",
        ("by", "group", "leads", "touched", "not touched", "p50", "p90"),
        [
            (by, r[by], r["leads"], r["touched"], r["not_touched"], _number(r["p50_minutes"]),
             _number(r["p90_minutes"]))
            for by, rows in (("all", [speed["overall"]]), ("source", speed["by_source"]),
                             ("class", speed["by_class"]), ("owner", speed["by_owner"]))
            for r in rows
        ],
    )  # fmt: skip
    acc = report["accounts"]
    yield _Table(
        "Accounts",
        ("touched", "with 2+ engaged contacts", "meetings", "meetings per touched account"),
        [(acc["touched"], acc["engaged_two_or_more"], acc["meetings"], _number(acc["meetings_per_touched_account"]))],
    )
    yield _Table(
        "Meetings per account",
        ("account", "meetings", "engaged contacts"),
        [(m["account"], m["meetings"], m["engaged"]) for m in acc["with_meetings"]],
    )


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _period(report: dict[str, Any]) -> str:
    p = report["period"]
    return f"enrolled from {p['since'] or 'the beginning'} until {p['until'] or 'now'}; as of {p['now']}"


def render_text(report: dict[str, Any]) -> str:
    """The report as plain text tables."""
    out = [f"cadence report: {_period(report)}"]
    for t in _tables(report):
        cells = [list(t.headers), *[[_cell(c) for c in row] for row in t.rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(t.headers))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        out += ["", t.title, *lines]
        if not t.rows:
            out.append("(none)")
    out += ["", "Rules", *[f"- {rule}" for rule in report["rules"]]]
    return "\n".join(out) + "\n"


_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|!#~"})


def _md(value: Any) -> str:
    """A table cell: one line, markdown syntax escaped (reasons and names are free text: no links or images)."""
    return _cell(value).translate(_MARKDOWN_SPECIAL)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as markdown tables (the Prefect artifact and the weekly email)."""
    out = ["# cadence report", "", _md(_period(report))]
    for t in _tables(report):
        out += ["", f"## {_md(t.title)}", ""]
        if not t.rows:
            out.append("(none)")
            continue
        out.append("| " + " | ".join(_md(h) for h in t.headers) + " |")
        out.append("|" + "|".join(" --- " for _ in t.headers) + "|")
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in t.rows]
    out += ["", "## Rules", "", *[f"- {_md(rule)}" for rule in report["rules"]]]
    return "\n".join(out) + "\n"


def _csv_rows(report: dict[str, Any]) -> Iterable[tuple[str, str, str, Any]]:
    """(section, item, metric, value) for every figure of the report."""
    for key, value in report["period"].items():
        yield "period", "", key, value
    for key, value in report["funnel"].items():
        yield "funnel", "", key, value
    for s in report["steps"]:
        item = f"{s['cadence']} step {s['step']} (day {s['day']}, {s['channel']})"
        for key, value in s.items():
            if key not in ("cadence", "step", "day", "channel") and value is not None:
                yield "steps", item, key, value
    for g in report["variants"]:
        for v in g["variants"]:
            item = f"{g['cadence']} step {g['step']} {v['template']}"
            for key in ("sends", "replies", "reply_rate"):
                yield "variants", item, key, v[key]
        item = f"{g['cadence']} step {g['step']}"
        for key in ("test", "statistic", "df", "p_value", "meaningful", "verdict"):
            yield "variant_tests", item, key, g[key]
    for group, rows in report["conversion"].items():
        for r in rows:
            values = list(r.items())
            item = f"{values[0][0]} {values[0][1]}"
            for key, value in values[1:]:
                yield f"conversion_{group}", item, key, value
    for name, t in report["timing"].items():
        for key, value in t.items():
            yield "timing", f"to {name.replace('_', ' ')}", key, value
    decisions = report["decisions"]
    yield "decisions", "", "total", decisions["total"]
    yield "decisions", "", "superseded", decisions["superseded"]
    for d in decisions["by_outcome"]:
        yield "decisions_by_outcome", d["outcome"], "count", d["count"]
        yield "decisions_by_outcome", d["outcome"], "without_reason", d["without_reason"]
    for d in decisions["by_reason"]:
        yield "decisions_by_reason", f"{d['outcome']}: {d['reason'] or '(no reason)'}", "count", d["count"]
    flagged = decisions["meetings_without_answers"]
    yield "meetings_without_answers", "", "count", flagged["count"]
    for m in flagged["items"]:
        for key in ("owner", "outcome", "decided_at", "why", "reason"):
            yield "meetings_without_answers", m["lead"], key, m[key]
    for o in report["owners"]:
        for key, value in o.items():
            if key == "outcomes":
                for outcome, count in value.items():
                    yield "owners", o["owner"], f"outcome_{outcome}", count
            elif key != "owner":
                yield "owners", o["owner"], key, value
    for s in report.get("stages", []):
        yield "stages", s["stage"], "leads", s["leads"]
        yield "stages", s["stage"], "median_days", s["median_days"]
    speed = report["first_touch"]
    for by, rows in (("all", [speed["overall"]]), ("source", speed["by_source"]), ("class", speed["by_class"]),
                     ("owner", speed["by_owner"])):  # fmt: skip
        for r in rows:
            for key in ("leads", "touched", "not_touched", "p50_minutes", "p90_minutes"):
                yield f"first_touch_by_{by}", str(r[by]), key, r[key]
    acc = report["accounts"]
    for key in ("touched", "engaged_two_or_more", "meetings", "meetings_per_touched_account"):
        yield "accounts", "", key, acc[key]
    for m in acc["with_meetings"]:
        yield "accounts_with_meetings", m["account"], "meetings", m["meetings"]
    for i, rule in enumerate(report["rules"], 1):
        yield "rules", str(i), "rule", rule


def render_csv(report: dict[str, Any]) -> str:
    """The report as one CSV (section, item, metric, value), spreadsheet formulas neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "metric", "value"])
    for row in _csv_rows(report):
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()
