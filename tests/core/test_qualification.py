"""Qualification: name or lead, persona fit, inbound requests, classes and source ranks."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from cadence.core.leads import LeadData
from cadence.core.qualification import (
    DEFAULT_SOURCE_RANKS,
    ClassRule,
    Kind,
    Qualification,
    Rules,
    parse_rules,
    qualify,
)
from cadence.errors import ConfigurationError

# Rules as ops would write them in templates/qualification.yaml.
RULES: dict[str, Any] = {
    "interest": {"lead_threshold": 2, "inbound_sources": ["contact_request"]},
    "persona": {
        "industries": ["Software", "Manufacturing"],
        "company_size": {"min": 50, "max": 5000},
        "titles": [r"\bVP\b", "director", "head of", "chief"],
    },
    "source_ranks": {"contact_request": 1, "form_fill": 1, "target_page_visit": 2, "email_open": 3, "target_list": 4},
    "classes": [
        {"name": "a", "cadence": "high-touch", "priority": 1, "when": {"max_source_rank": 2, "min_company_size": 500}},
        {"name": "b", "cadence": "default", "priority": 2, "when": {"max_source_rank": 3}},
        {"name": "c", "cadence": "light", "priority": 3},
    ],
    "inbound": {"name": "inbound", "cadence": "inbound", "priority": 0},
}


def rules(**changes: Any) -> Rules:
    data = copy.deepcopy(RULES)
    data.update(changes)
    return parse_rules(data)


def lead(**fields: Any) -> LeadData:
    """A lead that fits the persona, with two interactions from a form fill, unless told otherwise."""
    values: dict[str, Any] = {
        "email": "jane@acme.example",
        "industry": "Software",
        "company_size": 200,
        "title": "VP Sales",
        "interactions": 2,
        "source": "form_fill",
    }
    values.update(fields)
    return LeadData(**values)


class TestInterest:
    @pytest.mark.parametrize(
        ("interactions", "threshold", "kind"),
        [
            (0, 2, Kind.NAME),
            (1, 2, Kind.NAME),  # one webinar makes a name
            (2, 2, Kind.LEAD),  # two interactions make a lead
            (7, 2, Kind.LEAD),
            (2, 3, Kind.NAME),
            (3, 3, Kind.LEAD),
            (1, 1, Kind.LEAD),
        ],
    )
    def test_interactions_below_the_threshold_make_a_name(self, interactions: int, threshold: int, kind: Kind) -> None:
        result = qualify(lead(interactions=interactions), rules(interest={"lead_threshold": threshold}))
        assert result.kind is kind

    def test_a_name_says_how_many_interactions_make_a_lead(self) -> None:
        result = qualify(lead(interactions=1), rules())
        assert result == Qualification(
            kind=Kind.NAME,
            persona_fit=True,
            inbound=False,
            source_rank=1,
            lead_class=None,
            cadence=None,
            priority=None,
            reasons=("one interaction: a name (2 make a lead)",),
        )

    def test_interest_is_judged_before_persona_fit(self) -> None:
        result = qualify(lead(interactions=1, industry="Retail"), rules())
        assert (result.kind, result.persona_fit) == (Kind.NAME, False)


class TestInboundRequests:
    @pytest.mark.parametrize(
        "fields",
        [
            pytest.param({}, id="fit"),
            pytest.param({"interactions": 1}, id="one-touch"),
            pytest.param({"interactions": 0}, id="no-recorded-interaction"),
            pytest.param({"industry": "Retail"}, id="wrong-industry"),
            pytest.param({"company_size": 3, "title": "Intern", "interactions": 1}, id="unfit-in-every-way"),
        ],
    )
    def test_an_inbound_request_is_a_lead_with_the_inbound_class_regardless_of_fit(
        self, fields: dict[str, Any]
    ) -> None:
        result = qualify(lead(source="contact_request", **fields), rules())
        assert (result.kind, result.inbound, result.lead_class, result.cadence, result.priority, result.reasons) == (
            Kind.LEAD,
            True,
            "inbound",
            "inbound",
            0,
            ("inbound request",),
        )

    def test_an_inbound_request_still_records_whether_the_persona_fits(self) -> None:
        assert qualify(lead(source="contact_request", industry="Retail"), rules()).persona_fit is False

    def test_the_inbound_sources_and_class_come_from_the_rules(self) -> None:
        custom = rules(
            interest={"inbound_sources": [" Demo_Request "]},
            inbound={"name": "hot", "cadence": "call-now", "priority": 0},
        )
        result = qualify(lead(source="demo_request", interactions=0), custom)
        assert (result.kind, result.lead_class, result.cadence) == (Kind.LEAD, "hot", "call-now")

    def test_a_source_not_listed_as_inbound_is_not_inbound(self) -> None:
        custom = rules(interest={"inbound_sources": ["demo_request"]})
        assert qualify(lead(source="contact_request", interactions=1), custom).kind is Kind.NAME

    def test_the_default_rules_treat_a_contact_request_as_inbound(self) -> None:
        result = qualify(lead(source="contact_request", interactions=0), Rules())
        assert (result.kind, result.lead_class, result.priority) == (Kind.LEAD, "inbound", 0)


class TestPersonaFit:
    @pytest.mark.parametrize(
        ("fields", "misses"),
        [
            pytest.param({"industry": "Retail"}, ("industry 'Retail' not in persona",), id="industry"),
            pytest.param({"industry": None}, ("no industry given",), id="no-industry"),
            pytest.param({"company_size": 49}, ("company size 49 outside persona (50 to 5000)",), id="too-small"),
            pytest.param({"company_size": 5001}, ("company size 5001 outside persona (50 to 5000)",), id="too-big"),
            pytest.param({"company_size": None}, ("no company size given (persona: 50 to 5000)",), id="unknown-size"),
            pytest.param({"title": "Intern"}, ("title 'Intern' matches no persona title",), id="title"),
            pytest.param({"title": None}, ("no title given",), id="no-title"),
            pytest.param({"title": "Evp"}, ("title 'Evp' matches no persona title",), id="vp-is-a-word"),
            pytest.param(
                {"industry": "Retail", "company_size": 10, "title": "Intern"},
                (
                    "industry 'Retail' not in persona",
                    "company size 10 outside persona (50 to 5000)",
                    "title 'Intern' matches no persona title",
                ),
                id="everything",
            ),
        ],
    )
    def test_a_lead_outside_the_persona_is_unfit_with_the_reasons(
        self, fields: dict[str, Any], misses: tuple[str, ...]
    ) -> None:
        result = qualify(lead(interactions=3, **fields), rules())
        assert (result.kind, result.persona_fit, result.lead_class) == (Kind.UNFIT, False, None)
        assert result.reasons == misses

    def test_a_name_that_does_not_fit_says_both(self) -> None:
        result = qualify(lead(interactions=0, title="CFO"), rules())
        assert result.reasons == ("no interaction: a name (2 make a lead)", "title 'CFO' matches no persona title")

    @pytest.mark.parametrize(
        "fields",
        [
            pytest.param({"industry": " software "}, id="industry-case-and-spaces"),
            pytest.param({"industry": "MANUFACTURING"}, id="second-industry"),
            pytest.param({"company_size": 50}, id="size-at-minimum"),
            pytest.param({"company_size": 5000}, id="size-at-maximum"),
            pytest.param({"title": "vp of engineering"}, id="title-case"),
            pytest.param({"title": "Director, IT"}, id="director"),
            pytest.param({"title": "Head of Operations"}, id="head-of"),
            pytest.param({"title": "Chief Technology Officer"}, id="chief"),
        ],
    )
    def test_a_lead_inside_the_persona_fits(self, fields: dict[str, Any]) -> None:
        result = qualify(lead(**fields), rules())
        assert (result.kind, result.persona_fit) == (Kind.LEAD, True)

    def test_an_empty_persona_accepts_everyone(self) -> None:
        result = qualify(lead(industry=None, company_size=None, title=None), Rules())
        assert (result.kind, result.persona_fit) == (Kind.LEAD, True)

    @pytest.mark.parametrize(
        ("size_rule", "company_size", "fits"),
        [
            ({"min": 100}, 99, False),
            ({"min": 100}, 1_000_000, True),
            ({"max": 100}, 100, True),
            ({"max": 100}, 101, False),
            ({"max": 100}, 0, True),
        ],
    )
    def test_either_end_of_the_company_size_may_be_left_open(
        self, size_rule: dict[str, int], company_size: int, fits: bool
    ) -> None:
        custom = rules(persona={"company_size": size_rule})
        assert qualify(lead(company_size=company_size), custom).persona_fit is fits


class TestClasses:
    @pytest.mark.parametrize(
        ("source", "company_size", "lead_class", "cadence", "priority"),
        [
            ("form_fill", 1000, "a", "high-touch", 1),
            ("target_page_visit", 1000, "a", "high-touch", 1),
            ("form_fill", 200, "b", "default", 2),  # good source, but too small for a
            ("email_open", 1000, "b", "default", 2),  # big, but the source ranks 3
            ("target_list", 1000, "c", "light", 3),
            ("trade_show", 1000, "c", "light", 3),  # an unknown source ranks last
            (None, 1000, "c", "light", 3),
        ],
    )
    def test_a_lead_gets_the_first_class_whose_conditions_all_hold(
        self, source: str | None, company_size: int, lead_class: str, cadence: str, priority: int
    ) -> None:
        result = qualify(lead(source=source, company_size=company_size), rules())
        assert (result.kind, result.lead_class, result.cadence, result.priority) == (
            Kind.LEAD,
            lead_class,
            cadence,
            priority,
        )

    def test_the_first_matching_class_wins_even_over_a_better_priority(self) -> None:
        custom = rules(
            classes=[
                {"name": "first", "cadence": "slow", "priority": 5},
                {"name": "second", "cadence": "fast", "priority": 1},
            ]
        )
        assert qualify(lead(), custom).lead_class == "first"

    @pytest.mark.parametrize(
        ("interactions", "lead_class"),
        [(2, "rest"), (4, "rest"), (5, "engaged"), (9, "engaged")],
    )
    def test_a_class_can_ask_for_more_interactions(self, interactions: int, lead_class: str) -> None:
        custom = rules(
            classes=[
                {"name": "engaged", "cadence": "x", "when": {"min_interactions": 5}},
                {"name": "rest", "cadence": "y"},
            ]
        )
        assert qualify(lead(interactions=interactions), custom).lead_class == lead_class

    def test_a_fit_lead_that_no_class_takes_is_unfit(self) -> None:
        custom = rules(classes=[{"name": "only-forms", "cadence": "x", "when": {"max_source_rank": 1}}])
        result = qualify(lead(source="email_open"), custom)
        assert (result.kind, result.persona_fit, result.lead_class, result.reasons) == (
            Kind.UNFIT,
            True,
            None,
            ("no class matches",),
        )

    def test_a_class_without_conditions_takes_every_lead(self) -> None:
        assert ClassRule(name="all", cadence="x", priority=2).matches(lead(company_size=None, interactions=0), 99)

    def test_an_unknown_company_size_does_not_reach_a_minimum(self) -> None:
        rule = ClassRule(name="big", cadence="x", priority=1, min_company_size=1)
        assert rule.matches(lead(company_size=None), 1) is False

    def test_the_default_rules_put_every_fit_lead_in_the_standard_class(self) -> None:
        result = qualify(lead(source="target_list"), Rules())
        assert (result.lead_class, result.cadence, result.priority) == ("standard", "default", 2)


class TestSourceRanks:
    def test_seed_004_order_form_fill_then_target_pages_then_opens_then_lists(self) -> None:
        defaults = Rules()
        ordered = ["form_fill", "target_page_visit", "email_open", "target_list", "never_heard_of_it"]
        ranks = [defaults.source_rank(s) for s in ordered]
        assert ranks == sorted(ranks)
        assert len(set(ranks)) == len(ranks)

    @pytest.mark.parametrize(
        ("source", "rank"),
        [
            ("contact_request", 1),
            ("form_fill", 1),
            ("target_page_visit", 2),
            ("email_open", 3),
            ("target_list", 4),
            ("FORM_FILL", 1),  # case does not matter
            ("webinar", 5),  # not listed: after every listed source
            ("", 5),
            (None, 5),
        ],
    )
    def test_default_source_ranks(self, source: str | None, rank: int) -> None:
        assert Rules().source_rank(source) == rank

    def test_the_rank_of_a_lead_is_reported(self) -> None:
        assert qualify(lead(source="email_open"), rules()).source_rank == 3

    @pytest.mark.parametrize(
        ("source", "rank"),
        [("webinar", 1), ("form_fill", 2), ("email_open", 3), ("target_list", 3)],
    )
    def test_custom_ranks_replace_the_defaults_and_unknown_sources_rank_last(self, source: str, rank: int) -> None:
        custom = parse_rules({"source_ranks": {"Webinar": 1, " form_fill ": 2, "__line__": 5}})
        assert custom.source_rank(source) == rank

    def test_with_no_ranks_every_source_ranks_first(self) -> None:
        assert parse_rules({"source_ranks": {}}).source_rank("anything") == 1

    def test_the_defaults_follow_seed_004(self) -> None:
        assert DEFAULT_SOURCE_RANKS == {
            "contact_request": 1,
            "form_fill": 1,
            "target_page_visit": 2,
            "email_open": 3,
            "target_list": 4,
        }


class TestParseRules:
    def test_no_rules_file_gives_the_defaults(self) -> None:
        assert parse_rules(None) == Rules()

    def test_an_empty_mapping_gives_the_defaults(self) -> None:
        assert parse_rules({}) == Rules()

    def test_rules_are_read_field_by_field(self) -> None:
        parsed = rules()
        assert parsed.lead_threshold == 2
        assert parsed.inbound_sources == frozenset({"contact_request"})
        assert parsed.persona.industries == frozenset({"software", "manufacturing"})
        assert (parsed.persona.company_size_min, parsed.persona.company_size_max) == (50, 5000)
        assert [p.pattern for p in parsed.persona.title_patterns] == [r"\bVP\b", "director", "head of", "chief"]
        assert parsed.classes[0] == ClassRule(
            name="a", cadence="high-touch", priority=1, max_source_rank=2, min_company_size=500
        )
        assert [c.name for c in parsed.classes] == ["a", "b", "c"]
        assert parsed.inbound == ClassRule(name="inbound", cadence="inbound", priority=0)

    def test_a_class_priority_defaults_to_two(self) -> None:
        assert rules(classes=[{"name": "x", "cadence": "y"}]).classes[0].priority == 2

    def test_line_numbers_are_ignored(self) -> None:
        data = copy.deepcopy(RULES)
        data["__line__"] = 1
        data["persona"]["__line__"] = 3
        data["classes"][0]["__line__"] = 10
        data["classes"][0]["when"]["__line__"] = 11
        assert parse_rules(data) == rules()

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            pytest.param(["a list"], "qualification rules must be a mapping", id="not-a-mapping"),
            pytest.param({"intrest": {}}, "qualification: unknown key(s) intrest", id="unknown-key"),
            pytest.param({"colour": 1, "__line__": 3}, "qualification (line 3): unknown key(s) colour", id="with-line"),
            pytest.param({"interest": ["x"]}, "interest must be a mapping", id="interest-list"),
            pytest.param({"interest": {"threshold": 2}}, "interest: unknown key(s) threshold", id="interest-key"),
            pytest.param(
                {"interest": {"lead_threshold": 0}},
                "interest.lead_threshold must be a whole number of at least 1, not 0",
                id="threshold-0",
            ),
            pytest.param({"interest": {"lead_threshold": "2"}}, "not '2'", id="threshold-text"),
            pytest.param({"interest": {"lead_threshold": True}}, "not True", id="threshold-bool"),
            pytest.param(
                {"interest": {"inbound_sources": "contact_request"}},
                "interest.inbound_sources must be a list of source names",
                id="inbound-sources-text",
            ),
            pytest.param(
                {"interest": {"inbound_sources": [1]}}, "interest.inbound_sources must be a list", id="inbound-number"
            ),
            pytest.param(
                {"source_ranks": ["form_fill"]},
                "source_ranks must map source names to ranks (1 is best)",
                id="ranks-list",
            ),
            pytest.param(
                {"source_ranks": {"form_fill": 0}},
                "source_ranks.form_fill must be a whole number of at least 1, not 0",
                id="rank-0",
            ),
            pytest.param({"source_ranks": {"form_fill": "first"}}, "not 'first'", id="rank-text"),
            pytest.param({"persona": "CTOs"}, "persona must be a mapping", id="persona-text"),
            pytest.param({"persona": {"titel": ["x"]}}, "persona: unknown key(s) titel", id="persona-key"),
            pytest.param(
                {"persona": {"industries": "Software"}},
                "persona.industries must be a list of industry names",
                id="industries-text",
            ),
            pytest.param({"persona": {"titles": [1]}}, "persona.titles must be a list of patterns", id="titles-number"),
            pytest.param(
                {"persona": {"titles": ["(unclosed"]}},
                "persona.titles: '(unclosed' is not a valid pattern",
                id="title-regex",
            ),
            pytest.param(
                {"persona": {"company_size": [10, 100]}},
                "persona.company_size must have min and/or max",
                id="size-list",
            ),
            pytest.param(
                {"persona": {"company_size": {"minimum": 10}}},
                "persona.company_size: unknown key(s) minimum",
                id="size-key",
            ),
            pytest.param(
                {"persona": {"company_size": {"min": -1}}},
                "persona.company_size.min must be a whole number of at least 0, not -1",
                id="size-negative",
            ),
            pytest.param(
                {"persona": {"company_size": {"max": "big"}}}, "persona.company_size.max must be", id="size-text"
            ),
            pytest.param({"classes": []}, "classes must be a non-empty list", id="classes-empty"),
            pytest.param({"classes": {"a": 1}}, "classes must be a non-empty list", id="classes-mapping"),
            pytest.param(
                {"classes": ["a"]}, "classes[1] must be a mapping with name, cadence and priority", id="class-text"
            ),
            pytest.param({"classes": [{"cadence": "x"}]}, "classes[1]: name is required", id="class-no-name"),
            pytest.param({"classes": [{"name": " ", "cadence": "x"}]}, "classes[1]: name is required", id="blank-name"),
            pytest.param({"classes": [{"name": "a"}]}, "classes[1] (a): cadence is required", id="class-no-cadence"),
            pytest.param(
                {"classes": [{"name": "a", "cadence": "x"}, {"name": "b", "cadence": "y", "colour": 1, "__line__": 9}]},
                "classes[2] (line 9): unknown key(s) colour",
                id="class-key-with-line",
            ),
            pytest.param(
                {"classes": [{"name": "a", "cadence": "x", "priority": -1}]},
                "classes[1] (a).priority must be a whole number of at least 0, not -1",
                id="priority-negative",
            ),
            pytest.param(
                {"classes": [{"name": "a", "cadence": "x", "when": "always"}]},
                "classes[1] (a): when must be a mapping",
                id="when-text",
            ),
            pytest.param(
                {"classes": [{"name": "a", "cadence": "x", "when": {"min_size": 5}}]},
                "classes[1] (a).when: unknown key(s) min_size",
                id="when-key",
            ),
            pytest.param(
                {"classes": [{"name": "a", "cadence": "x", "when": {"max_source_rank": "2"}}]},
                "a.when.max_source_rank must be a whole number",
                id="when-text-rank",
            ),
            pytest.param(
                {"classes": [{"name": "a", "cadence": "x", "when": {"min_interactions": -2}}]},
                "a.when.min_interactions must be a whole number of at least 0, not -2",
                id="when-negative",
            ),
            pytest.param(
                {"classes": [{"name": "a", "cadence": "x"}, {"name": "a", "cadence": "y"}]},
                "class names must be unique",
                id="duplicate-class",
            ),
            pytest.param(
                {"inbound": "call them"}, "inbound must be a mapping with name, cadence and priority", id="inbound-text"
            ),
            pytest.param({"inbound": {"name": "hot"}}, "inbound (hot): cadence is required", id="inbound-no-cadence"),
        ],
    )
    def test_bad_rules_are_refused_with_a_message(self, data: Any, message: str) -> None:
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            parse_rules(data)
