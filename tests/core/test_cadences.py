"""Cadence files: what parse_cadence accepts, what it refuses and why, and versions."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from cadence.core.cadences import Cadence, CadenceSettings, Channel, Reenrollment, Step, parse_cadence
from cadence.errors import ConfigurationError

# A cadence that uses every field a file can hold.
FULL: dict[str, Any] = {
    "name": "default",
    "description": "The reference cadence",
    "settings": {
        "send_window": {"start": "08:00", "end": "17:00"},
        "business_days_only": True,
        "holidays": True,
        "min_gap_days": 1,
    },
    "steps": [
        {"day": 1, "channel": "research", "instructions": "Read their website and LinkedIn profile"},
        {"day": 2, "channel": "email", "template": "email/introduction"},
        {"day": 5, "channel": "email", "templates": ["email/second-a", "email/second-b"], "thread": "previous"},
        {"day": 7, "channel": "linkedin"},
        {"day": 8, "channel": "call"},
    ],
}


def full(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(FULL)
    data.update(changes)
    return data


def one_step(**step: Any) -> dict[str, Any]:
    return {"name": "t", "steps": [step]}


def with_settings(**settings: Any) -> dict[str, Any]:
    return {"name": "t", "steps": [{"day": 0, "channel": "call"}], "settings": settings}


class TestValidCadences:
    def test_a_full_cadence_is_parsed_field_by_field(self) -> None:
        parsed = parse_cadence(FULL)
        assert parsed == Cadence(
            name="default",
            description="The reference cadence",
            settings=CadenceSettings(),
            steps=(
                Step(day=1, channel=Channel.RESEARCH, instructions="Read their website and LinkedIn profile"),
                Step(day=2, channel=Channel.EMAIL, templates=("email/introduction",)),
                Step(day=5, channel=Channel.EMAIL, templates=("email/second-a", "email/second-b"), thread="previous"),
                Step(day=7, channel=Channel.LINKEDIN),
                Step(day=8, channel=Channel.CALL),
            ),
        )

    def test_settings_default_to_weekdays_eight_to_five_with_holidays_and_a_one_day_gap(self) -> None:
        parsed = parse_cadence({"name": "t", "steps": [{"day": 0, "channel": "call"}]})
        assert parsed.settings == CadenceSettings(
            window_start=time(8, 0),
            window_end=time(17, 0),
            business_days_only=True,
            skip_holidays=True,
            min_gap_days=1,
        )

    def test_custom_settings_are_read(self) -> None:
        parsed = parse_cadence(
            with_settings(
                send_window={"start": "9:30", "end": "11:00"},
                business_days_only=False,
                holidays=False,
                min_gap_days=3,
            )
        )
        assert parsed.settings == CadenceSettings(time(9, 30), time(11, 0), False, False, 3)

    def test_a_send_window_may_give_only_one_end(self) -> None:
        parsed = parse_cadence(with_settings(send_window={"end": "12:00"}))
        assert (parsed.settings.window_start, parsed.settings.window_end) == (time(8, 0), time(12, 0))

    def test_the_default_name_is_used_when_the_file_has_none(self) -> None:
        assert parse_cadence({"steps": [{"day": 0, "channel": "call"}]}, default_name="inbound").name == "inbound"

    def test_a_name_in_the_file_wins_over_the_default_name(self) -> None:
        assert parse_cadence(FULL, default_name="other").name == "default"

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("email", Channel.EMAIL), ("EMAIL", Channel.EMAIL), (" Call ", Channel.CALL), ("postcard", Channel.POSTCARD)],
    )
    def test_channel_names_ignore_case_and_spaces(self, raw: str, expected: Channel) -> None:
        parsed = parse_cadence(one_step(day=0, channel=raw, template="email/x"))
        assert parsed.steps[0].channel is expected

    @pytest.mark.parametrize(
        ("channel", "is_task"),
        [
            (Channel.EMAIL, False),
            (Channel.CALL, True),
            (Channel.LINKEDIN, True),
            (Channel.POSTCARD, True),
            (Channel.RESEARCH, True),
            (Channel.TASK, True),
        ],
    )
    def test_every_channel_but_email_makes_a_task_for_the_owner(self, channel: Channel, is_task: bool) -> None:
        assert channel.is_task is is_task

    def test_a_single_template_and_a_list_of_variants_are_both_accepted(self) -> None:
        parsed = parse_cadence(FULL)
        assert [s.templates for s in parsed.steps[1:3]] == [
            ("email/introduction",),
            ("email/second-a", "email/second-b"),
        ]
        assert parsed.steps[2].template == "email/second-a"

    def test_a_task_step_needs_no_template(self) -> None:
        assert parse_cadence(one_step(day=0, channel="call")).steps[0].template is None

    def test_text_is_stripped(self) -> None:
        parsed = parse_cadence(
            {
                "name": "t",
                "description": "  A description  ",
                "steps": [{"day": 0, "channel": "email", "template": " email/x ", "instructions": " Be brief "}],
            }
        )
        assert (parsed.description, parsed.steps[0].templates, parsed.steps[0].instructions) == (
            "A description",
            ("email/x",),
            "Be brief",
        )

    def test_steps_may_share_a_day(self) -> None:
        parsed = parse_cadence({"name": "t", "steps": [{"day": 2, "channel": "call"}, {"day": 2, "channel": "task"}]})
        assert [s.day for s in parsed.steps] == [2, 2]

    @pytest.mark.parametrize("day", [0, 1, 365])
    def test_days_from_zero_to_a_year_are_accepted(self, day: int) -> None:
        assert parse_cadence(one_step(day=day, channel="call")).steps[0].day == day

    def test_a_hundred_steps_are_accepted(self) -> None:
        steps = [{"day": i, "channel": "call"} for i in range(100)]
        assert len(parse_cadence({"name": "t", "steps": steps}).steps) == 100

    def test_line_numbers_are_not_part_of_the_definition(self) -> None:
        data = full(__line__=1)
        data["settings"]["__line__"] = 3
        data["settings"]["send_window"]["__line__"] = 4
        for number, step in enumerate(data["steps"], start=10):
            step["__line__"] = number
        assert parse_cadence(data) == parse_cadence(FULL)


def _steps(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "t", "steps": list(steps)}


class TestInvalidCadences:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            pytest.param(
                ["a list"], "a cadence file must be a mapping with name, settings and steps", id="not-a-mapping"
            ),
            pytest.param(None, "a cadence file must be a mapping", id="empty-file"),
            pytest.param(full(colour="red", mood="x"), "unknown key(s) colour, mood", id="unknown-keys"),
            pytest.param(
                full(name="Default"), "name must be lower-case letters, digits, - or _, not 'Default'", id="name-case"
            ),
            pytest.param(full(name="my cadence"), "not 'my cadence'", id="name-space"),
            pytest.param(full(name="-x"), "not '-x'", id="name-leading-dash"),
            pytest.param(full(name="x" * 64), "name must be lower-case", id="name-too-long"),
            pytest.param(full(name=42), "not 42", id="name-number"),
            pytest.param({"steps": [{"day": 0, "channel": "call"}]}, "name must be lower-case", id="no-name"),
            pytest.param({"name": "t"}, "steps must be a non-empty list", id="no-steps"),
            pytest.param({"name": "t", "steps": []}, "steps must be a non-empty list", id="empty-steps"),
            pytest.param({"name": "t", "steps": "day 1: call"}, "steps must be a non-empty list", id="steps-text"),
            pytest.param(
                {"name": "t", "steps": [{"day": i, "channel": "call"} for i in range(101)]},
                "a cadence has at most 100 steps",
                id="too-many-steps",
            ),
            pytest.param(full(description=3), "description must be text", id="description-number"),
        ],
    )
    def test_a_bad_cadence_is_refused_with_a_message(self, data: Any, message: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            parse_cadence(data)

    @pytest.mark.parametrize(
        ("step", "message"),
        [
            pytest.param("call on day 1", "step 1: a step is a mapping with day, channel and template", id="text"),
            pytest.param({"day": 1, "channel": "call", "when": "x"}, "step 1: unknown key(s) when", id="unknown-key"),
            pytest.param(
                {"channel": "call"}, "step 1: day must be a whole number from 0 to 365, not None", id="no-day"
            ),
            pytest.param({"day": -1, "channel": "call"}, "not -1", id="negative-day"),
            pytest.param(
                {"day": 366, "channel": "call"}, "day must be a whole number from 0 to 365, not 366", id="day-366"
            ),
            pytest.param({"day": "2", "channel": "call"}, "not '2'", id="day-text"),
            pytest.param({"day": 1.5, "channel": "call"}, "not 1.5", id="day-fraction"),
            pytest.param({"day": True, "channel": "call"}, "not True", id="day-bool"),
            pytest.param(
                {"day": 1, "channel": "fax"},
                "step 1: channel must be one of email|call|linkedin|postcard|research|task, not 'fax'",
                id="bad-channel",
            ),
            pytest.param({"day": 1}, "channel must be one of", id="no-channel"),
            pytest.param(
                {"day": 1, "channel": "email"}, "step 1: an email step needs a template", id="email-no-template"
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "a", "templates": ["b"]},
                "step 1: give template or templates, not both",
                id="template-and-templates",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "templates": []},
                "step 1: templates must be a name or a list of names",
                id="empty-templates",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "templates": ["a", 2]},
                "templates must be a name or a list of names",
                id="template-number-in-list",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": 3},
                "templates must be a name or a list of names",
                id="template-number",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "../secrets"},
                "step 1: '../secrets' is not a template name such as email/introduction",
                id="template-parent",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "email/../../etc/passwd"},
                "'email/../../etc/passwd' is not a template name",
                id="template-traversal",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "/etc/passwd"},
                "'/etc/passwd' is not a template name",
                id="template-absolute",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "email intro"},
                "'email intro' is not a template name",
                id="template-space",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": ""}, "'' is not a template name", id="template-empty"
            ),
            pytest.param(
                {"day": 1, "channel": "call", "instructions": 3}, "step 1: instructions must be text", id="instructions"
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "a", "thread": "first"},
                "step 1: thread can only be 'previous', not 'first'",
                id="thread-value",
            ),
            pytest.param(
                {"day": 1, "channel": "call", "thread": "previous"},
                "step 1: only an email step can be threaded",
                id="thread-on-call",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "a", "wait_for": "approval"},
                "step 1: wait_for can only be 'research', not 'approval'",
                id="wait-for-value",
            ),
            pytest.param(
                {"day": 1, "channel": "call", "wait_for": "research"},
                "step 1: only an email step can wait for the research",
                id="wait-for-on-call",
            ),
            pytest.param(
                {"day": 1, "channel": "email", "template": "a", "wait_for": "research"},
                "step 1: waits for the research, but no research step comes before it",
                id="wait-for-without-research",
            ),
        ],
    )
    def test_a_bad_step_is_refused_with_a_message(self, step: Any, message: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            parse_cadence(_steps(step))

    def test_the_message_names_which_step_is_wrong(self) -> None:
        data = _steps({"day": 0, "channel": "call"}, {"day": 1, "channel": "call"}, {"day": 2, "channel": "fax"})
        with pytest.raises(ConfigurationError, match=r"^step 3: channel"):
            parse_cadence(data)

    def test_steps_out_of_day_order_are_refused(self) -> None:
        data = _steps({"day": 5, "channel": "call"}, {"day": 2, "channel": "call"})
        with pytest.raises(
            ConfigurationError, match=re.escape("step 2: day 2 comes before day 5; list steps in day order")
        ):
            parse_cadence(data)

    @pytest.mark.parametrize(
        ("settings", "message"),
        [
            pytest.param("weekdays", "settings must be a mapping", id="not-a-mapping"),
            pytest.param({"timezone": "UTC"}, "settings: unknown key(s) timezone", id="unknown-key"),
            pytest.param(
                {"send_window": "08:00-17:00"}, "settings.send_window must have start and end", id="window-text"
            ),
            pytest.param(
                {"send_window": {"begin": "09:00", "end": "12:00"}},
                "send_window: unknown key(s) begin",
                id="window-unknown-key",
            ),
            pytest.param(
                {"send_window": {"start": "8am"}}, "send_window.start must be a time such as 08:00, not '8am'", id="8am"
            ),
            pytest.param(
                {"send_window": {"end": "24:00"}}, "send_window.end must be a time such as 08:00, not '24:00'", id="24h"
            ),
            pytest.param({"send_window": {"start": "08:60"}}, "not '08:60'", id="minute-60"),
            pytest.param({"send_window": {"start": "0800"}}, "not '0800'", id="no-colon"),
            pytest.param(
                {"send_window": {"start": None}}, "send_window.start must be a time such as 08:00, not None", id="null"
            ),
            pytest.param(
                {"send_window": {"start": "09:00", "end": "09:00"}},
                "send_window: end 09:00 must be after start 09:00",
                id="empty-window",
            ),
            pytest.param(
                {"send_window": {"start": "17:00", "end": "08:00"}},
                "send_window: end 08:00 must be after start 17:00",
                id="reversed-window",
            ),
            pytest.param(
                {"send_window": {"start": "18:00"}}, "end 17:00 must be after start 18:00", id="start-after-default-end"
            ),
            pytest.param(
                {"business_days_only": "yes"},
                "settings.business_days_only must be true or false, not 'yes'",
                id="business-days-text",
            ),
            pytest.param({"holidays": 1}, "settings.holidays must be true or false, not 1", id="holidays-number"),
            pytest.param({"min_gap_days": 0}, "settings.min_gap_days must be a whole number from 1 to 30", id="gap-0"),
            pytest.param(
                {"min_gap_days": 31}, "settings.min_gap_days must be a whole number from 1 to 30", id="gap-31"
            ),
            pytest.param({"min_gap_days": "2"}, "settings.min_gap_days must be a whole number", id="gap-text"),
            pytest.param({"min_gap_days": True}, "settings.min_gap_days must be a whole number", id="gap-bool"),
        ],
    )
    def test_bad_settings_are_refused_with_a_message(self, settings: Any, message: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            parse_cadence(with_settings(**settings) if isinstance(settings, dict) else full(settings=settings))

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            pytest.param(
                _steps(
                    {"day": 0, "channel": "call", "__line__": 7},
                    {"day": 1, "channel": "call", "when": 1, "__line__": 9},
                ),
                "step 2 (line 9): unknown key(s) when",
                id="step-unknown-key",
            ),
            pytest.param(
                _steps({"day": 0, "channel": "fax", "__line__": 7}),
                "step 1 (line 7): channel must be one of",
                id="channel",
            ),
            pytest.param(
                _steps({"day": 0, "channel": "email", "__line__": 7}),
                "step 1 (line 7): an email step needs a template",
                id="email-template",
            ),
            pytest.param(
                _steps({"day": 5, "channel": "call", "__line__": 7}, {"day": 2, "channel": "call", "__line__": 9}),
                "step 2 (line 9): day 2 comes before day 5",
                id="day-order",
            ),
            pytest.param(
                with_settings(colour="red", __line__=3), "settings (line 3): unknown key(s) colour", id="settings-key"
            ),
            pytest.param(
                with_settings(holidays="no", __line__=3),
                "settings.holidays (line 3) must be true or false",
                id="settings-flag",
            ),
            pytest.param(
                with_settings(min_gap_days=0, __line__=3),
                "settings.min_gap_days (line 3) must be a whole number",
                id="settings-gap",
            ),
            pytest.param(
                with_settings(send_window={"start": "12:00", "end": "09:00", "__line__": 4}, __line__=3),
                "send_window (line 4): end 09:00 must be after start 12:00",
                id="window-order",
            ),
            pytest.param(
                with_settings(send_window={"stop": "12:00", "__line__": 4}, __line__=3),
                "send_window (line 4): unknown key(s) stop",
                id="window-key",
            ),
        ],
    )
    def test_messages_give_the_line_of_the_offending_mapping(self, data: dict[str, Any], message: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            parse_cadence(data)

    def test_the_line_key_itself_is_not_an_unknown_key(self) -> None:
        assert parse_cadence(full(__line__=1)).name == "default"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the cadence data at a dotted ``path`` (list indexes as numbers)."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[int(last) if last.isdigit() else last]

    return change


def _append_step(data: dict[str, Any]) -> None:
    data["steps"].append({"day": 30, "channel": "call"})


def _swap_same_day_steps(data: dict[str, Any]) -> None:
    data["steps"][3]["day"] = 8
    data["steps"][3], data["steps"][4] = data["steps"][4], data["steps"][3]


class TestVersion:
    def test_a_version_is_twelve_hex_digits(self) -> None:
        assert re.fullmatch(r"[0-9a-f]{12}", parse_cadence(FULL).version)

    def test_the_same_definition_always_has_the_same_version(self) -> None:
        assert parse_cadence(FULL).version == parse_cadence(copy.deepcopy(FULL)).version

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(_set("name", "other"), id="name"),
            pytest.param(_set("description", "Another description"), id="description"),
            pytest.param(_delete("description"), id="description-removed"),
            pytest.param(_set("settings.send_window.start", "09:00"), id="window-start"),
            pytest.param(_set("settings.send_window.end", "16:30"), id="window-end"),
            pytest.param(_set("settings.business_days_only", False), id="business-days-only"),
            pytest.param(_set("settings.holidays", False), id="holidays"),
            pytest.param(_set("settings.min_gap_days", 2), id="min-gap-days"),
            pytest.param(_set("steps.0.day", 0), id="step-day"),
            pytest.param(_set("steps.4.channel", "task"), id="step-channel"),
            pytest.param(_set("steps.1.template", "email/hello"), id="step-template"),
            pytest.param(_set("steps.2.templates", ["email/second-b", "email/second-a"]), id="variant-order"),
            pytest.param(_set("steps.2.templates", ["email/second-a"]), id="variant-removed"),
            pytest.param(_set("steps.0.instructions", "Read their website"), id="step-instructions"),
            pytest.param(_delete("steps.0.instructions"), id="step-instructions-removed"),
            pytest.param(_delete("steps.2.thread"), id="step-thread-removed"),
            pytest.param(_append_step, id="step-added"),
            pytest.param(_delete("steps.4"), id="step-removed"),
            pytest.param(_swap_same_day_steps, id="same-day-steps-swapped"),
        ],
    )
    def test_any_edit_gives_a_new_version(self, change: Callable[[dict[str, Any]], None]) -> None:
        edited = copy.deepcopy(FULL)
        change(edited)
        assert parse_cadence(edited).version != parse_cadence(FULL).version

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(_set("__line__", 1), id="line-numbers"),
            pytest.param(_set("steps.1.__line__", 12), id="step-line-number"),
            pytest.param(_set("steps.1.template", "  email/introduction "), id="template-spaces"),
            pytest.param(_set("steps.1.channel", "EMAIL"), id="channel-case"),
            pytest.param(_set("description", " The reference cadence\n"), id="description-spaces"),
            pytest.param(_delete("settings"), id="default-settings-left-out"),
            pytest.param(_delete("settings.send_window"), id="default-window-left-out"),
            pytest.param(_set("settings.send_window.start", "8:00"), id="hour-without-leading-zero"),
        ],
    )
    def test_edits_that_do_not_change_the_meaning_keep_the_version(
        self, change: Callable[[dict[str, Any]], None]
    ) -> None:
        edited = copy.deepcopy(FULL)
        change(edited)
        assert parse_cadence(edited).version == parse_cadence(FULL).version

    def test_waiting_for_the_research_is_a_new_version_and_kept(self) -> None:
        research = {"day": 1, "channel": "research"}
        plain = parse_cadence(_steps(research, {"day": 2, "channel": "email", "template": "e"}))
        waits = parse_cadence(_steps(research, {"day": 2, "channel": "email", "template": "e", "wait_for": "research"}))
        assert waits.steps[1].wait_for == "research"
        assert plain.version != waits.version

    def test_one_template_or_a_list_of_one_give_the_same_version(self) -> None:
        single = parse_cadence(one_step(day=0, channel="email", template="email/x"))
        listed = parse_cadence(one_step(day=0, channel="email", templates=["email/x"]))
        assert single.version == listed.version


class TestToDict:
    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(FULL, id="full"),
            pytest.param({"name": "t", "steps": [{"day": 0, "channel": "call"}]}, id="minimal"),
            pytest.param(
                with_settings(
                    send_window={"start": "09:30", "end": "11:00"},
                    business_days_only=False,
                    holidays=False,
                    min_gap_days=4,
                ),
                id="custom-settings",
            ),
            pytest.param(
                {
                    "name": "t",
                    "steps": [
                        {"day": 1, "channel": "research"},
                        {"day": 2, "channel": "email", "template": "e", "wait_for": "research"},
                    ],
                },
                id="wait-for-research",
            ),
        ],
    )
    def test_parse_cadence_reads_back_what_to_dict_writes(self, data: dict[str, Any]) -> None:
        # Enrollments pin the definition as stored JSON and parse it again later.
        parsed = parse_cadence(data)
        stored = json.loads(json.dumps(parsed.to_dict()))
        again = parse_cadence(stored)
        assert (again, again.version) == (parsed, parsed.version)

    def test_to_dict_writes_times_as_hours_and_minutes(self) -> None:
        data = parse_cadence(with_settings(send_window={"start": "9:05", "end": "17:30"})).to_dict()
        assert data["settings"]["send_window"] == {"start": "09:05", "end": "17:30"}


class TestReenrollmentRules:
    """``reenroll``: a cooldown after the last touch and a cap of enrollments a year."""

    def test_the_rules_are_read(self) -> None:
        cadence = parse_cadence(full(reenroll={"cooldown_days": 30, "max_per_year": 2}))
        assert cadence.reenroll == Reenrollment(cooldown_days=30, max_per_year=2)

    def test_without_rules_anything_goes_and_the_version_is_that_of_a_file_without_them(self) -> None:
        assert parse_cadence(full()).reenroll == Reenrollment()
        assert parse_cadence(full()).version == parse_cadence(full(reenroll={})).version
        assert "reenroll" not in parse_cadence(full()).to_dict()

    def test_the_rules_are_part_of_the_definition(self) -> None:
        ruled = parse_cadence(full(reenroll={"cooldown_days": 30}))
        assert ruled.version != parse_cadence(full()).version
        assert parse_cadence(ruled.to_dict()) == ruled

    @pytest.mark.parametrize(
        ("rules", "message"),
        [
            ([30], "reenroll must be a mapping with cooldown_days and max_per_year"),
            ({"cooldown": 3, "__line__": 7}, "reenroll (line 7): unknown key(s) cooldown"),
            ({"cooldown_days": -1, "__line__": 7}, "reenroll.cooldown_days (line 7) must be a whole number from 0"),
            ({"cooldown_days": "30"}, "reenroll.cooldown_days must be a whole number from 0 to 3650, not '30'"),
            ({"cooldown_days": True}, "reenroll.cooldown_days must be a whole number"),
            ({"max_per_year": 0, "__line__": 9}, "reenroll.max_per_year (line 9) must be a whole number from 1 to 52"),
            ({"max_per_year": 1.5}, "reenroll.max_per_year must be a whole number from 1 to 52, not 1.5"),
        ],
    )
    def test_bad_rules_are_refused_with_the_line_and_the_reason(self, rules: Any, message: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            parse_cadence(full(reenroll=rules))

    def test_the_cooldown_refuses_within_n_days_of_the_last_touch(self) -> None:
        rules = Reenrollment(cooldown_days=30)
        last = datetime(2026, 12, 1, 10, tzinfo=UTC)
        assert rules.refusal(at=last + timedelta(days=29), last_touch_at=last, enrollments_past_year=0) == (
            "last touched less than 30 days ago (cooldown until 2026-12-31T10:00:00+00:00)"
        )
        assert rules.refusal(at=last + timedelta(days=30), last_touch_at=last, enrollments_past_year=0) is None
        assert rules.refusal(at=last, last_touch_at=None, enrollments_past_year=0) is None

    def test_the_cap_refuses_the_kth_enrollment_of_a_year(self) -> None:
        rules = Reenrollment(max_per_year=2)
        at = datetime(2026, 12, 1, tzinfo=UTC)
        assert rules.refusal(at=at, last_touch_at=None, enrollments_past_year=1) is None
        assert rules.refusal(at=at, last_touch_at=None, enrollments_past_year=2) == (
            "enrolled 2 times in the past year (at most 2)"
        )
