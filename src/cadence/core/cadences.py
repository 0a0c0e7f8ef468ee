"""Cadence definitions: ordered steps on channels, with their scheduling settings (pure)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from cadence.errors import ConfigurationError, shown, shown_keys


class Channel(StrEnum):
    """How a step reaches the lead: an email we send, or a task for the lead's owner."""

    EMAIL = "email"
    CALL = "call"
    LINKEDIN = "linkedin"
    POSTCARD = "postcard"
    RESEARCH = "research"
    TASK = "task"

    @property
    def is_task(self) -> bool:
        """True for the channels that create a task for the owner instead of sending mail."""
        return self is not Channel.EMAIL


@dataclass(frozen=True)
class Step:
    """One step of a cadence: on ``day`` (offset from Day 0, the enrollment), do ``channel``.

    ``templates`` holds one template name, or several variants of which each lead gets one.
    """

    day: int
    channel: Channel
    templates: tuple[str, ...] = ()
    instructions: str | None = None
    thread: str | None = None
    wait_for: str | None = None
    """``research``: the step (an email) waits until the lead's research task is done."""

    @property
    def template(self) -> str | None:
        """The first (or only) template of the step."""
        return self.templates[0] if self.templates else None


@dataclass(frozen=True)
class CadenceSettings:
    """When a cadence may touch a lead.

    The send window is in the lead's local time, ``[window_start, window_end)``.
    ``min_gap_days`` is the least number of local calendar days between two touches that the
    cadence put on different days (steps sharing a day offset land together).
    """

    window_start: time = time(8, 0)
    window_end: time = time(17, 0)
    business_days_only: bool = True
    skip_holidays: bool = True
    min_gap_days: int = 1
    on_account_response: str = "pause"
    """When a colleague at the same account answers: ``pause`` (hold until the owner decides), ``stop`` or
    ``continue`` (:class:`cadence.core.accounts.AccountResponse`)."""
    account_max_active: int = 3
    """At most this many contacts of one account in automated steps at once; the others wait their turn."""


@dataclass(frozen=True)
class Reenrollment:
    """When a lead may be enrolled in a cadence again (the file's ``reenroll`` mapping).

    ``cooldown_days``: never within that many days of the lead's last touch; ``max_per_year``: at
    most that many enrollments of the lead (in any cadence) in the 365 days before, None for no cap.
    """

    cooldown_days: int = 0
    max_per_year: int | None = None

    def not_before(self, last_touch_at: datetime | None) -> datetime | None:
        """The earliest instant the cooldown allows, or None when it allows any."""
        if last_touch_at is None or self.cooldown_days == 0:
            return None
        return last_touch_at + timedelta(days=self.cooldown_days)

    def refusal(self, *, at: datetime, last_touch_at: datetime | None, enrollments_past_year: int) -> str | None:
        """Why the lead may not be enrolled at ``at``, or None when it may."""
        earliest = self.not_before(last_touch_at)
        if earliest is not None and at < earliest:
            return f"last touched less than {self.cooldown_days} days ago (cooldown until {earliest.isoformat()})"
        if self.max_per_year is not None and enrollments_past_year >= self.max_per_year:
            return f"enrolled {enrollments_past_year} times in the past year (at most {self.max_per_year})"
        return None


@dataclass(frozen=True)
class Cadence:
    """A named, versioned contact plan."""

    name: str
    steps: tuple[Step, ...]
    settings: CadenceSettings = field(default_factory=CadenceSettings)
    description: str | None = None
    reenroll: Reenrollment = field(default_factory=Reenrollment)

    @cached_property
    def version(self) -> str:
        """A content hash of the definition: any edit gives a new version (computed once: a cadence is frozen)."""
        payload = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """The definition as plain data (the inverse of :func:`parse_cadence`)."""
        settings = self.settings
        rules = {}
        if self.reenroll != Reenrollment():  # absent by default, so that older files keep their version
            rules["reenroll"] = {
                "cooldown_days": self.reenroll.cooldown_days,
                "max_per_year": self.reenroll.max_per_year,
            }
        return {
            **rules,
            "name": self.name,
            "description": self.description,
            "settings": {
                "send_window": {"start": f"{settings.window_start:%H:%M}", "end": f"{settings.window_end:%H:%M}"},
                "business_days_only": settings.business_days_only,
                "holidays": settings.skip_holidays,
                "min_gap_days": settings.min_gap_days,
                **_account_settings(settings),
            },
            "steps": [
                {
                    "day": s.day,
                    "channel": s.channel.value,
                    "templates": list(s.templates) or None,
                    "instructions": s.instructions,
                    "thread": s.thread,
                    **({"wait_for": s.wait_for} if s.wait_for else {}),
                }
                for s in self.steps
            ],
        }


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TEMPLATE = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")
_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_MAX_DAY = 365


def _where(data: Any) -> str:
    line = data.get("__line__") if isinstance(data, dict) else None
    return f" (line {line})" if isinstance(line, int) and not isinstance(line, bool) else ""


def _account_settings(settings: CadenceSettings) -> dict[str, Any]:
    """The account settings that differ from the defaults: absent by default, so older files keep their version."""
    defaults = CadenceSettings()
    found: dict[str, Any] = {}
    if settings.on_account_response != defaults.on_account_response:
        found["on_account_response"] = settings.on_account_response
    if settings.account_max_active != defaults.account_max_active:
        found["account_max_active"] = settings.account_max_active
    return found


def _parse_time(value: Any, what: str) -> time:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 reads an unquoted 17:00 as sexagesimal minutes (1020): take it as meant.
        return time(value // 60, value % 60)
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ConfigurationError(f"{what} must be a time such as 08:00, not {shown(value)}")
    return time(int(match.group(1)), int(match.group(2)))


def _parse_step(raw: Any, index: int) -> Step:
    where = f"step {index + 1}{_where(raw)}"
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: a step is a mapping with day, channel and template")
    unknown = set(raw) - {"day", "channel", "template", "templates", "instructions", "thread", "wait_for", "__line__"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown key(s) {shown_keys(unknown)}")
    day = raw.get("day")
    if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= _MAX_DAY:
        raise ConfigurationError(f"{where}: day must be a whole number from 0 to {_MAX_DAY}, not {shown(day)}")
    raw_channel = raw.get("channel")
    try:
        if not isinstance(raw_channel, str):
            raise ValueError(raw_channel)
        channel = Channel(raw_channel.strip().lower())
    except ValueError:
        choices = "|".join(c.value for c in Channel)
        raise ConfigurationError(f"{where}: channel must be one of {choices}, not {shown(raw_channel)}") from None
    if "template" in raw and "templates" in raw:
        raise ConfigurationError(f"{where}: give template or templates, not both")
    names = raw.get("templates", raw.get("template"))
    if names is None:
        templates: tuple[str, ...] = ()
    elif isinstance(names, str):
        templates = (names.strip(),)
    elif isinstance(names, list) and names and all(isinstance(n, str) for n in names):
        templates = tuple(n.strip() for n in names)
    else:
        raise ConfigurationError(f"{where}: templates must be a name or a list of names")
    for name in templates:
        if not _TEMPLATE.match(name) or ".." in name.split("/"):
            raise ConfigurationError(f"{where}: {shown(name)} is not a template name such as email/introduction")
    if channel is Channel.EMAIL and not templates:
        raise ConfigurationError(f"{where}: an email step needs a template")
    instructions = raw.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ConfigurationError(f"{where}: instructions must be text")
    thread = raw.get("thread")
    if thread is not None and thread != "previous":
        raise ConfigurationError(f"{where}: thread can only be 'previous', not {shown(thread)}")
    if thread is not None and channel is not Channel.EMAIL:
        raise ConfigurationError(f"{where}: only an email step can be threaded")
    wait_for = raw.get("wait_for")
    if wait_for is not None and wait_for != "research":
        raise ConfigurationError(f"{where}: wait_for can only be 'research', not {shown(wait_for)}")
    if wait_for is not None and channel is not Channel.EMAIL:
        raise ConfigurationError(f"{where}: only an email step can wait for the research")
    return Step(
        day=day,
        channel=channel,
        templates=templates,
        instructions=instructions.strip() if instructions else None,
        thread=thread,
        wait_for=wait_for,
    )


def _parse_settings(raw: Any) -> CadenceSettings:
    if raw is None:
        return CadenceSettings()
    if not isinstance(raw, dict):
        raise ConfigurationError(f"settings{_where(raw)} must be a mapping")
    known = {"send_window", "business_days_only", "holidays", "min_gap_days", "on_account_response",
             "account_max_active", "__line__"}  # fmt: skip
    unknown = set(raw) - known
    if unknown:
        raise ConfigurationError(f"settings{_where(raw)}: unknown key(s) {shown_keys(unknown)}")
    defaults = CadenceSettings()
    window = raw.get("send_window") or {}
    if not isinstance(window, dict):
        raise ConfigurationError(f"settings.send_window{_where(raw)} must have start and end")
    unknown = set(window) - {"start", "end", "__line__"}
    if unknown:
        raise ConfigurationError(f"send_window{_where(window)}: unknown key(s) {shown_keys(unknown)}")
    start = _parse_time(window.get("start", "08:00"), "send_window.start")
    end = _parse_time(window.get("end", "17:00"), "send_window.end")
    if end <= start:
        raise ConfigurationError(f"send_window{_where(window)}: end {end:%H:%M} must be after start {start:%H:%M}")
    flags = {}
    for key in ("business_days_only", "holidays"):
        value = raw.get(key, True)
        if not isinstance(value, bool):
            raise ConfigurationError(f"settings.{key}{_where(raw)} must be true or false, not {shown(value)}")
        flags[key] = value
    gap = raw.get("min_gap_days", defaults.min_gap_days)
    if not isinstance(gap, int) or isinstance(gap, bool) or not 1 <= gap <= 30:
        raise ConfigurationError(f"settings.min_gap_days{_where(raw)} must be a whole number from 1 to 30")
    on_response = raw.get("on_account_response", defaults.on_account_response)
    choices = ("pause", "stop", "continue")
    if on_response not in choices:
        raise ConfigurationError(
            f"settings.on_account_response{_where(raw)} must be one of {', '.join(choices)}, not {shown(on_response)}"
        )
    max_active = raw.get("account_max_active", defaults.account_max_active)
    if not isinstance(max_active, int) or isinstance(max_active, bool) or not 1 <= max_active <= 100:
        raise ConfigurationError(f"settings.account_max_active{_where(raw)} must be a whole number from 1 to 100")
    return CadenceSettings(
        window_start=start,
        window_end=end,
        business_days_only=flags["business_days_only"],
        skip_holidays=flags["holidays"],
        min_gap_days=gap,
        on_account_response=on_response,
        account_max_active=max_active,
    )


_MAX_COOLDOWN = 3650


def _parse_reenroll(raw: Any) -> Reenrollment:
    if raw is None:
        return Reenrollment()
    if not isinstance(raw, dict):
        raise ConfigurationError(f"reenroll{_where(raw)} must be a mapping with cooldown_days and max_per_year")
    unknown = set(raw) - {"cooldown_days", "max_per_year", "__line__"}
    if unknown:
        raise ConfigurationError(f"reenroll{_where(raw)}: unknown key(s) {shown_keys(unknown)}")
    cooldown = raw.get("cooldown_days", 0)
    if not isinstance(cooldown, int) or isinstance(cooldown, bool) or not 0 <= cooldown <= _MAX_COOLDOWN:
        raise ConfigurationError(
            f"reenroll.cooldown_days{_where(raw)} must be a whole number from 0 to {_MAX_COOLDOWN}, "
            f"not {shown(cooldown)}"
        )
    cap = raw.get("max_per_year")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= 52):
        raise ConfigurationError(
            f"reenroll.max_per_year{_where(raw)} must be a whole number from 1 to 52, not {shown(cap)}"
        )
    return Reenrollment(cooldown_days=cooldown, max_per_year=cap)


def parse_cadence(data: Any, *, default_name: str | None = None) -> Cadence:
    """Build a :class:`Cadence` from plain data (parsed YAML), or raise :class:`ConfigurationError`.

    Steps must be in day order. Mappings may carry a ``__line__`` key, which is used in messages.
    """
    if not isinstance(data, dict):
        raise ConfigurationError("a cadence file must be a mapping with name, settings and steps")
    unknown = set(data) - {"name", "description", "settings", "steps", "reenroll", "__line__"}
    if unknown:
        raise ConfigurationError(f"unknown key(s) {shown_keys(unknown)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(f"name must be lower-case letters, digits, - or _, not {shown(name)}")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ConfigurationError("steps must be a non-empty list")
    if len(raw_steps) > 100:
        raise ConfigurationError("a cadence has at most 100 steps")
    steps = tuple(_parse_step(raw, i) for i, raw in enumerate(raw_steps))
    for i in range(1, len(steps)):
        if steps[i].day < steps[i - 1].day:
            raise ConfigurationError(
                f"step {i + 1}{_where(raw_steps[i])}: day {steps[i].day} comes before day {steps[i - 1].day}; "
                "list steps in day order"
            )
    for i, step in enumerate(steps):
        if step.wait_for == "research" and not any(s.channel is Channel.RESEARCH for s in steps[:i]):
            raise ConfigurationError(
                f"step {i + 1}{_where(raw_steps[i])}: waits for the research, but no research step comes before it"
            )
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise ConfigurationError("description must be text")
    return Cadence(
        name=name,
        steps=steps,
        settings=_parse_settings(data.get("settings")),
        description=description.strip() if description else None,
        reenroll=_parse_reenroll(data.get("reenroll")),
    )
