"""Qualification: is this person a name or a lead, do they fit the persona, which class (pure).

The rules come from ``templates/qualification.yaml`` (ops edit it); :func:`parse_rules` validates
them and :func:`qualify` applies them to one lead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cadence.core.leads import LeadData
from cadence.errors import ConfigurationError, shown, shown_keys


class Kind(StrEnum):
    """What a person is to us (seed 002)."""

    NAME = "name"  # not enough interest yet: stored, not enrolled
    UNFIT = "unfit"  # interested, but not our buyer persona: stored, not enrolled
    LEAD = "lead"  # persona fit and interest (or an inbound request): enrolled


# Seed 004's order: form fill > visits to target pages > mail campaign opens > target market lists.
DEFAULT_SOURCE_RANKS: dict[str, int] = {
    "contact_request": 1,
    "form_fill": 1,
    "target_page_visit": 2,
    "email_open": 3,
    "target_list": 4,
}


@dataclass(frozen=True)
class Persona:
    """The buyer persona. An empty criterion accepts everyone."""

    industries: frozenset[str] = frozenset()
    company_size_min: int | None = None
    company_size_max: int | None = None
    title_patterns: tuple[re.Pattern[str], ...] = ()

    def misses(self, lead: LeadData) -> list[str]:
        """The persona criteria that ``lead`` does not meet (empty when it fits)."""
        missing: list[str] = []
        if self.industries and (lead.industry or "").strip().lower() not in self.industries:
            missing.append("industry")
        if self.company_size_min is not None or self.company_size_max is not None:
            size = lead.company_size
            if (
                size is None
                or (self.company_size_min is not None and size < self.company_size_min)
                or (self.company_size_max is not None and size > self.company_size_max)
            ):
                missing.append("company_size")
        if self.title_patterns and not any(p.search(lead.title or "") for p in self.title_patterns):
            missing.append("title")
        return missing

    def reasons(self, lead: LeadData) -> list[str]:
        """Why ``lead`` does not fit, one sentence per criterion missed, naming its value (empty when it fits)."""
        reasons: list[str] = []
        for miss in self.misses(lead):
            if miss == "industry":
                reasons.append(
                    f"industry {shown(lead.industry)} not in persona" if lead.industry else "no industry given"
                )
            elif miss == "company_size":
                low = self.company_size_min if self.company_size_min is not None else 0
                wanted = f"{low} to {self.company_size_max}" if self.company_size_max is not None else f"{low} or more"
                if lead.company_size is None:
                    reasons.append(f"no company size given (persona: {wanted})")
                else:
                    reasons.append(f"company size {lead.company_size} outside persona ({wanted})")
            else:
                reasons.append(
                    f"title {shown(lead.title)} matches no persona title" if lead.title else "no title given"
                )
        return reasons


@dataclass(frozen=True)
class ClassRule:
    """A lead class: the first rule whose conditions all hold gives the lead its class."""

    name: str
    cadence: str
    priority: int
    max_source_rank: int | None = None
    min_interactions: int | None = None
    min_company_size: int | None = None
    first_touch_minutes: int | None = None
    """The first-touch SLA in business minutes (:mod:`cadence.core.first_touch`); None: no SLA."""

    def matches(self, lead: LeadData, source_rank: int) -> bool:
        """True when ``lead`` meets every condition of this class."""
        if self.max_source_rank is not None and source_rank > self.max_source_rank:
            return False
        if self.min_interactions is not None and lead.interactions < self.min_interactions:
            return False
        if self.min_company_size is not None and (lead.company_size or 0) < self.min_company_size:
            return False
        return True


@dataclass(frozen=True)
class Rules:
    """All qualification rules."""

    lead_threshold: int = 2
    inbound_sources: frozenset[str] = frozenset({"contact_request"})
    source_ranks: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SOURCE_RANKS))
    persona: Persona = field(default_factory=Persona)
    classes: tuple[ClassRule, ...] = (ClassRule(name="standard", cadence="default", priority=2),)
    inbound: ClassRule = ClassRule(name="inbound", cadence="inbound", priority=0)

    @property
    def unknown_source_rank(self) -> int:
        """The rank of a source the rules do not list: below every listed one."""
        return max(self.source_ranks.values(), default=0) + 1

    def first_touch_minutes(self, lead_class: str | None) -> int | None:
        """The first-touch SLA of ``lead_class`` in business minutes (None: the class has none)."""
        for rule in (*self.classes, self.inbound):
            if rule.name == lead_class:
                return rule.first_touch_minutes
        return None

    def source_rank(self, source: str | None) -> int:
        """The rank of ``source`` (1 is best)."""
        return self.source_ranks.get((source or "").lower(), self.unknown_source_rank)


@dataclass(frozen=True)
class Qualification:
    """The outcome of qualifying one lead."""

    kind: Kind
    persona_fit: bool
    inbound: bool
    source_rank: int
    lead_class: str | None
    cadence: str | None
    priority: int | None
    reasons: tuple[str, ...] = ()


def qualify(lead: LeadData, rules: Rules) -> Qualification:
    """Classify ``lead``: name, unfit or lead; and for a lead its class, cadence and priority.

    An inbound contact request is a lead on one touch and always followed up, fit or not.
    """
    rank = rules.source_rank(lead.source)
    misses = rules.persona.misses(lead)
    fit = not misses
    inbound = (lead.source or "").strip().lower() in rules.inbound_sources
    if inbound:
        rule = rules.inbound
        return Qualification(Kind.LEAD, fit, True, rank, rule.name, rule.cadence, rule.priority, ("inbound request",))
    if lead.interactions < rules.lead_threshold:
        count = {0: "no interaction", 1: "one interaction"}.get(lead.interactions, f"{lead.interactions} interactions")
        reason = f"{count}: a name ({rules.lead_threshold} make a lead)"
        return Qualification(Kind.NAME, fit, False, rank, None, None, None, (reason, *rules.persona.reasons(lead)))
    if not fit:
        return Qualification(Kind.UNFIT, False, False, rank, None, None, None, tuple(rules.persona.reasons(lead)))
    for rule in rules.classes:
        if rule.matches(lead, rank):
            return Qualification(Kind.LEAD, True, False, rank, rule.name, rule.cadence, rule.priority)
    return Qualification(Kind.UNFIT, True, False, rank, None, None, None, ("no class matches",))


def _int(raw: Any, what: str, *, minimum: int = 0) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < minimum:
        raise ConfigurationError(f"{what} must be a whole number of at least {minimum}, not {shown(raw)}")
    return raw


def _opt_int(raw: Any, what: str) -> int | None:
    return None if raw is None else _int(raw, what)


def _check_keys(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(raw) - allowed - {"__line__"}
    if unknown:
        line = f" (line {raw['__line__']})" if raw.get("__line__") else ""
        raise ConfigurationError(f"{where}{line}: unknown key(s) {shown_keys(unknown)}")


def _class_rule(raw: Any, where: str) -> ClassRule:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a mapping with name, cadence and priority")
    _check_keys(raw, {"name", "cadence", "priority", "when", "first_touch_minutes"}, where)
    name, cadence = raw.get("name"), raw.get("cadence")
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{where}: name is required")
    if not isinstance(cadence, str) or not cadence.strip():
        raise ConfigurationError(f"{where} ({name}): cadence is required")
    when = raw.get("when") or {}
    if not isinstance(when, dict):
        raise ConfigurationError(f"{where} ({name}): when must be a mapping")
    _check_keys(when, {"max_source_rank", "min_interactions", "min_company_size"}, f"{where} ({name}).when")
    return ClassRule(
        name=name.strip(),
        cadence=cadence.strip(),
        priority=_int(raw.get("priority", 2), f"{where} ({name}).priority"),
        max_source_rank=_opt_int(when.get("max_source_rank"), f"{name}.when.max_source_rank"),
        min_interactions=_opt_int(when.get("min_interactions"), f"{name}.when.min_interactions"),
        min_company_size=_opt_int(when.get("min_company_size"), f"{name}.when.min_company_size"),
        first_touch_minutes=_sla_minutes(raw.get("first_touch_minutes"), f"{where} ({name}).first_touch_minutes"),
    )


MAX_FIRST_TOUCH_MINUTES = 60 * 24 * 30
"""A first-touch SLA of at most 30 days of business minutes."""


def _sla_minutes(raw: Any, what: str) -> int | None:
    if raw is None:
        return None
    value = _int(raw, what, minimum=1)
    if value > MAX_FIRST_TOUCH_MINUTES:
        raise ConfigurationError(f"{what} is at most {MAX_FIRST_TOUCH_MINUTES} business minutes, not {value}")
    return value


def parse_rules(data: Any) -> Rules:
    """Build :class:`Rules` from plain data (parsed YAML), or raise :class:`ConfigurationError`."""
    if data is None:
        return Rules()
    if not isinstance(data, dict):
        raise ConfigurationError("qualification rules must be a mapping")
    _check_keys(data, {"interest", "persona", "source_ranks", "classes", "inbound"}, "qualification")
    interest = data.get("interest") or {}
    if not isinstance(interest, dict):
        raise ConfigurationError("interest must be a mapping")
    _check_keys(interest, {"lead_threshold", "inbound_sources"}, "interest")
    threshold = _int(interest.get("lead_threshold", 2), "interest.lead_threshold", minimum=1)
    inbound_sources = interest.get("inbound_sources", ["contact_request"])
    if not isinstance(inbound_sources, list) or not all(isinstance(s, str) for s in inbound_sources):
        raise ConfigurationError("interest.inbound_sources must be a list of source names")
    ranks_raw = data.get("source_ranks", DEFAULT_SOURCE_RANKS)
    if not isinstance(ranks_raw, dict):
        raise ConfigurationError("source_ranks must map source names to ranks (1 is best)")
    if not all(isinstance(k, str) for k in ranks_raw):
        raise ConfigurationError("source_ranks must map source names to ranks (1 is best)")
    ranks = {
        k.strip().lower(): _int(v, f"source_ranks.{k[:60]}", minimum=1) for k, v in ranks_raw.items() if k != "__line__"
    }
    persona_raw = data.get("persona") or {}
    if not isinstance(persona_raw, dict):
        raise ConfigurationError("persona must be a mapping")
    _check_keys(persona_raw, {"industries", "company_size", "titles"}, "persona")
    industries = persona_raw.get("industries") or []
    titles = persona_raw.get("titles") or []
    size = persona_raw.get("company_size") or {}
    if not isinstance(industries, list) or not all(isinstance(i, str) for i in industries):
        raise ConfigurationError("persona.industries must be a list of industry names")
    if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
        raise ConfigurationError("persona.titles must be a list of patterns")
    if not isinstance(size, dict):
        raise ConfigurationError("persona.company_size must have min and/or max")
    _check_keys(size, {"min", "max"}, "persona.company_size")
    patterns = []
    for title in titles:
        try:
            patterns.append(re.compile(title, re.IGNORECASE))
        except (re.error, OverflowError, RecursionError) as exc:  # the last two: repeats or nesting too large
            reason = exc if isinstance(exc, re.error) else "too large or nested too deeply"
            raise ConfigurationError(f"persona.titles: {shown(title)} is not a valid pattern: {reason}") from None
    classes_raw = data.get("classes")
    if classes_raw is None:
        classes = Rules().classes
    elif isinstance(classes_raw, list) and classes_raw:
        classes = tuple(_class_rule(c, f"classes[{i + 1}]") for i, c in enumerate(classes_raw))
    else:
        raise ConfigurationError("classes must be a non-empty list")
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        raise ConfigurationError("class names must be unique")
    inbound = _class_rule(data["inbound"], "inbound") if data.get("inbound") else Rules().inbound
    return Rules(
        lead_threshold=threshold,
        inbound_sources=frozenset(s.strip().lower() for s in inbound_sources),
        source_ranks=ranks,
        persona=Persona(
            industries=frozenset(i.strip().lower() for i in industries),
            company_size_min=_opt_int(size.get("min"), "persona.company_size.min"),
            company_size_max=_opt_int(size.get("max"), "persona.company_size.max"),
            title_patterns=tuple(patterns),
        ),
        classes=classes,
        inbound=inbound,
    )
