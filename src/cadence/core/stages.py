"""Stages of maturation (seed 001): where a lead stands in the conversation, and what moves it (pure).

The stages and their rules are configuration (``templates/stages.yaml``), parsed here from plain
data by :func:`parse_stages`. A rule names one trigger (an intent a reply was read as, a task's
outcome such as ``call connected``, or a decision) and the stage it moves the lead to. Rules only
move a lead forward: a referral read from a lead already in a group meeting leaves it there. A
person moves a lead to any stage, with a reason (:func:`hand_move`). A lead with no stage stored
is in the first stage.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cadence.core.decisions import Outcome
from cadence.core.intent import INTENTS
from cadence.errors import ConfigurationError, ValidationError, shown, shown_keys

MAX_STAGES = 50
MAX_NAME = 100
MAX_REASON = 1000
TRIGGER_KINDS = ("intent", "task", "decision")
"""What a rule may name: an intent a reply was read as, a task's ``channel outcome``, a decision."""
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Stage:
    """One stage: its key (stored with the lead) and the name people read."""

    key: str
    name: str


@dataclass(frozen=True)
class StageRule:
    """When ``trigger`` happens (``intent interested``, ``task call connected``, ``decision meeting_booked``),
    the lead moves to ``stage`` (forward only)."""

    trigger: str
    stage: str
    line: int | None = None


@dataclass(frozen=True)
class Stages:
    """The stages in order, and the rules that move leads between them."""

    stages: tuple[Stage, ...]
    rules: tuple[StageRule, ...] = ()

    @property
    def first(self) -> Stage:
        """The stage of a lead that has none stored."""
        return self.stages[0]

    def get(self, key: str) -> Stage | None:
        """The stage named ``key``, if any."""
        return next((s for s in self.stages if s.key == key), None)

    def index(self, key: str | None) -> int:
        """The rank of stage ``key`` (no stage, or one no longer configured: the first)."""
        if key is None:
            return 0
        return next((i for i, s in enumerate(self.stages) if s.key == key), 0)

    def name(self, key: str | None) -> str:
        """The name people read for stage ``key`` (one no longer configured keeps its key)."""
        if key is None:
            return self.first.name
        stage = self.get(key)
        return stage.name if stage is not None else key


SEED_STAGES: tuple[tuple[str, str], ...] = (
    ("identify_contacts", "Identify contacts"),
    ("initial_conversation", "Initial conversation"),
    ("expanded_conversation", "Expanded conversation"),
    ("assessment", "Assessment"),
    ("mapping", "Mapping into the company"),
    ("vetting", "Vetting"),
    ("referrals", "Referrals"),
    ("group_meeting", "Group meeting"),
    ("handed_over", "Handed over"),
)
"""Seed 001's stages of maturation of a teleprospected lead, in order (the default)."""

DEFAULT_STAGES = Stages(
    stages=tuple(Stage(key, name) for key, name in SEED_STAGES),
    rules=(
        StageRule("intent interested", "initial_conversation"),
        StageRule("task call connected", "initial_conversation"),
        StageRule("task reply answered", "expanded_conversation"),
        StageRule("intent wrong_person", "mapping"),
        StageRule("intent referral", "referrals"),
        StageRule("decision meeting_booked", "group_meeting"),
        StageRule("decision qualified_handoff", "handed_over"),
    ),
)


@dataclass(frozen=True)
class StageMove:
    """A lead's move to another stage: to record as its current stage and in its history."""

    stage: str
    previous: str | None
    reason: str
    by: str


# -- parsing -------------------------------------------------------------------------------------------


def _at(line: object) -> str:
    return f" (line {line})" if isinstance(line, int) else ""


def _trigger(entry: Mapping[str, Any], line: object, task_outcomes: Mapping[str, frozenset[str]]) -> str:
    named = [kind for kind in TRIGGER_KINDS if kind in entry]
    if len(named) != 1:
        raise ConfigurationError(f"a rule names exactly one of intent, task or decision{_at(line)}")
    kind = named[0]
    value = entry[kind]
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"the rule's {kind} must be text{_at(line)}")
    value = " ".join(value.split())
    if kind == "intent" and value not in INTENTS:
        raise ConfigurationError(f"unknown intent {shown(value)}; choose one of {', '.join(INTENTS)}{_at(line)}")
    if kind == "decision" and value not in {o.value for o in Outcome}:
        choices = ", ".join(o.value for o in Outcome)
        raise ConfigurationError(f"unknown decision {shown(value)}; choose one of {choices}{_at(line)}")
    if kind == "task":
        channel, _, outcome = value.partition(" ")
        if channel not in task_outcomes or outcome not in task_outcomes[channel] | {"skipped"}:
            known = "; ".join(f"{c} {'/'.join(sorted(o))}" for c, o in sorted(task_outcomes.items()))
            raise ConfigurationError(
                f"unknown task outcome {shown(value)}: write the channel and the outcome ({known}){_at(line)}"
            )
    return f"{kind} {value}"


def parse_stages(data: object, *, task_outcomes: Mapping[str, frozenset[str]]) -> Stages:
    """The stages and rules of ``stages.yaml`` from plain data, or a :class:`ConfigurationError` with its line.

    ``task_outcomes``: the outcomes each task channel can have, which a ``task`` rule must name.
    """
    if not isinstance(data, dict):
        raise ConfigurationError("the file must be a mapping with a list of stages")
    unknown = [k for k in data if k not in ("__line__", "stages", "rules")]
    if unknown:
        where = _at(data.get("__line__"))
        raise ConfigurationError(f"unknown key(s) {shown_keys(unknown)}; expected stages, rules{where}")
    raw = data.get("stages")
    if not isinstance(raw, list) or not raw:
        raise ConfigurationError(f"stages must be a non-empty list{_at(data.get('__line__'))}")
    if len(raw) > MAX_STAGES:
        raise ConfigurationError(f"at most {MAX_STAGES} stages")
    stages: list[Stage] = []
    for entry in raw:
        line = entry.get("__line__") if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            raise ConfigurationError(f"each stage is a mapping with a key and a name, not {shown(entry)}")
        extra = [k for k in entry if k not in ("__line__", "key", "name")]
        if extra:
            raise ConfigurationError(f"unknown key(s) {shown_keys(extra)} in a stage; expected key, name{_at(line)}")
        key, name = entry.get("key"), entry.get("name")
        if not isinstance(key, str) or not _KEY.match(key):
            raise ConfigurationError(
                "a stage's key is lower-case letters, digits and _ (starting with a letter), "
                f"not {shown(key)}{_at(line)}"
            )
        if any(s.key == key for s in stages):
            raise ConfigurationError(f"stage {key!r} is listed twice{_at(line)}")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise ConfigurationError(f"stage {key!r} needs a name of 1 to {MAX_NAME} characters{_at(line)}")
        stages.append(Stage(key, " ".join(name.split())))
    rules_raw = data.get("rules") or []
    if not isinstance(rules_raw, list):
        raise ConfigurationError(f"rules must be a list{_at(data.get('__line__'))}")
    keys = {s.key for s in stages}
    rules: list[StageRule] = []
    for entry in rules_raw:
        if not isinstance(entry, dict):
            raise ConfigurationError(
                f"each rule is a mapping (intent, task or decision, and stage), not {shown(entry)}"
            )
        line = entry.get("__line__")
        extra = [k for k in entry if k not in ("__line__", "stage", *TRIGGER_KINDS)]
        if extra:
            raise ConfigurationError(
                f"unknown key(s) {shown_keys(extra)} in a rule; expected intent, task or decision, and stage{_at(line)}"
            )
        trigger = _trigger(entry, line, task_outcomes)
        target = entry.get("stage")
        if target not in keys:
            raise ConfigurationError(
                f"the rule for {trigger} moves to {shown(target)}, which is no stage; "
                f"known: {', '.join(s.key for s in stages)}{_at(line)}"
            )
        if any(r.trigger == trigger for r in rules):
            raise ConfigurationError(f"two rules for {trigger}{_at(line)}")
        rules.append(StageRule(trigger, str(target), line if isinstance(line, int) else None))
    return Stages(tuple(stages), tuple(rules))


# -- moving ---------------------------------------------------------------------------------------------


def triggers(
    *, intent: str | None = None, task: tuple[str, str] | None = None, decision: str | None = None
) -> list[str]:
    """The triggers one event fires, in the order rules are looked up (a decision last: it weighs most)."""
    found = []
    if intent is not None:
        found.append(f"intent {intent}")
    if task is not None:
        found.append(f"task {task[0]} {task[1]}")
    if decision is not None:
        found.append(f"decision {decision}")
    return found


def rule_move(stages: Stages, current: str | None, fired: Iterable[str], *, by: str) -> StageMove | None:
    """Where the rules move a lead in stage ``current`` when ``fired`` happened: the furthest stage they name,
    if it is beyond the current one; else None (rules never move a lead back)."""
    best: StageRule | None = None
    for trigger in fired:
        rule = next((r for r in stages.rules if r.trigger == trigger), None)
        if rule is not None and (best is None or stages.index(rule.stage) > stages.index(best.stage)):
            best = rule
    if best is None or stages.index(best.stage) <= stages.index(current) or best.stage == current:
        return None
    return StageMove(stage=best.stage, previous=current, reason=f"rule: {best.trigger}", by=by)


def hand_move(stages: Stages, current: str | None, target: str, *, reason: str | None, by: str) -> StageMove:
    """A person moves a lead to stage ``target`` (forward or back), with a reason; :class:`ValidationError` if
    the stage is unknown, the reason missing, or the lead is there already."""
    stage = stages.get(target.strip().lower().replace("-", "_").replace(" ", "_"))
    if stage is None:
        by_name = {s.name.lower(): s for s in stages.stages}
        stage = by_name.get(" ".join(target.split()).lower())
    if stage is None:
        raise ValidationError(f"unknown stage {shown(target)}; choose one of {', '.join(s.key for s in stages.stages)}")
    text = " ".join((reason or "").split())
    if not text:
        raise ValidationError("say why the lead moves (--reason): the stage history keeps it")
    if len(text) > MAX_REASON:
        raise ValidationError(f"the reason is longer than {MAX_REASON} characters")
    if stage.key == (current or stages.first.key):
        raise ValidationError(f"the lead is in {stage.name} already")
    return StageMove(stage=stage.key, previous=current, reason=text, by=by)


def median(values: list[float]) -> float | None:
    """The median of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
