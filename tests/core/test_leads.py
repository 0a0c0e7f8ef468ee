"""Leads as they come in: validating and normalizing each field of an import row or a form."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cadence.core.leads import Address, LeadData, make_lead, normalize_email, validate_timezone
from cadence.errors import ValidationError

ROW: dict[str, Any] = {
    "email": "Jane.Doe@Acme.example",
    "first_name": "Jane",
    "last_name": "Doe",
    "title": "VP Sales",
    "company": "Acme",
    "industry": "Software",
    "company_size": "1,200",
    "phone": "+1 (555) 010-0199",
    "linkedin_url": "https://www.linkedin.com/in/jane-doe",
    "address_line1": "1 Main Street",
    "address_line2": "Suite 5",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "us",
    "timezone": "America/Chicago",
    "source": "Form Fill",
    "interactions": "3",
    "owner": "Rep@Sales.example",
}


def row(**changes: Any) -> dict[str, Any]:
    return {**ROW, **changes}


class TestValidRows:
    def test_a_full_row_becomes_a_normalized_lead(self) -> None:
        assert make_lead(ROW) == LeadData(
            email="jane.doe@acme.example",
            first_name="Jane",
            last_name="Doe",
            title="VP Sales",
            company="Acme",
            industry="Software",
            company_size=1200,
            phone="+1 (555) 010-0199",
            linkedin_url="https://www.linkedin.com/in/jane-doe",
            address=Address(
                line1="1 Main Street",
                line2="Suite 5",
                city="Springfield",
                region="IL",
                postal_code="62701",
                country="US",
            ),
            timezone="America/Chicago",
            source="form_fill",
            interactions=3,
            owner="rep@sales.example",
            custom={},
        )

    def test_an_email_alone_is_enough(self) -> None:
        assert make_lead({"email": "jane@acme.example"}) == LeadData(email="jane@acme.example")

    def test_empty_and_blank_fields_become_none(self) -> None:
        lead = make_lead({"email": "jane@acme.example", "first_name": "  ", "title": "", "timezone": " ", "owner": ""})
        assert (lead.first_name, lead.title, lead.timezone, lead.owner) == (None, None, None, None)

    def test_text_is_stripped(self) -> None:
        lead = make_lead({"email": "  jane@acme.example ", "company": "  Acme Corp  ", "timezone": " Europe/Paris "})
        assert (lead.email, lead.company, lead.timezone) == ("jane@acme.example", "Acme Corp", "Europe/Paris")

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("", 0),
            (None, 0),
            ("0", 0),
            ("3", 3),
            (" 12 ", 12),
            ("1,200", 1200),
            ("1_000", 1000),
            (5, 5),
        ],
    )
    def test_interactions_are_a_whole_number_defaulting_to_zero(self, raw: Any, expected: int) -> None:
        assert make_lead(row(interactions=raw)).interactions == expected

    @pytest.mark.parametrize(("raw", "expected"), [("", None), (None, None), ("250", 250), ("10,000", 10000)])
    def test_company_size_is_a_whole_number_or_unknown(self, raw: Any, expected: int | None) -> None:
        assert make_lead(row(company_size=raw)).company_size == expected

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("Form Fill", "form_fill"), ("EMAIL_OPEN", "email_open"), ("target list", "target_list"), ("", None)],
    )
    def test_the_source_is_lower_case_with_underscores(self, raw: str, expected: str | None) -> None:
        assert make_lead(row(source=raw)).source == expected

    @pytest.mark.parametrize(("raw", "expected"), [("fr", "FR"), ("US", "US"), (" gb ", "GB"), ("", None)])
    def test_the_country_is_an_upper_case_iso_code(self, raw: str, expected: str | None) -> None:
        assert make_lead(row(country=raw)).address.country == expected

    @pytest.mark.parametrize(
        "phone",
        [
            "+1 (555) 010-0199",
            "+33 1 23 45 67 89",
            "555.010.0199",
            "+44 20 7946 0000",
            "555-0100 ext. 12",
            "555-0100 x12",
            "5550",
        ],
    )
    def test_common_phone_formats_are_accepted(self, phone: str) -> None:
        assert make_lead(row(phone=phone)).phone == phone

    @pytest.mark.parametrize(
        "url",
        [
            "https://www.linkedin.com/in/jane-doe",
            "https://linkedin.com/in/jane-doe",
            "http://uk.linkedin.com/in/jane-doe",
            "https://WWW.LinkedIn.com/company/acme",
        ],
    )
    def test_linkedin_profile_urls_are_accepted(self, url: str) -> None:
        assert make_lead(row(linkedin_url=url)).linkedin_url == url

    def test_custom_fields_are_kept_with_their_names_and_values_stripped(self) -> None:
        lead = make_lead(ROW, custom={" Budget ": " 50k ", "Webinar": "AI in sales", "empty": "  ", "none": None})
        assert lead.custom == {"Budget": "50k", "Webinar": "AI in sales"}

    def test_custom_values_are_kept_as_text(self) -> None:
        assert make_lead(ROW, custom={"seats": 12}).custom == {"seats": "12"}

    def test_the_full_name_joins_the_names_present(self) -> None:
        assert [
            make_lead(row(first_name="Jane", last_name="Doe")).full_name,
            make_lead(row(first_name="Jane", last_name="")).full_name,
            make_lead(row(first_name="", last_name="")).full_name,
        ] == ["Jane Doe", "Jane", ""]

    def test_the_address_prints_as_lines_leaving_out_empty_parts(self) -> None:
        assert make_lead(ROW).address.lines() == ["1 Main Street", "Suite 5", "62701 Springfield, IL", "US"]
        assert make_lead(row(address_line2="", postal_code="", city="")).address.lines() == [
            "1 Main Street",
            "IL",
            "US",
        ]


class TestInvalidRows:
    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            pytest.param({"email": ""}, "email is missing", id="email-missing"),
            pytest.param({"email": None}, "email is missing", id="email-none"),
            pytest.param({"email": "jane"}, "email 'jane' is not valid", id="email-no-at"),
            pytest.param({"email": "jane@acme"}, "email 'jane@acme' is not valid", id="email-no-domain-dot"),
            pytest.param({"email": "jane@@acme.example"}, "is not valid", id="email-double-at"),
            pytest.param({"email": "jane doe@acme.example"}, "is not valid", id="email-space"),
            pytest.param({"email": "jane@acme.test"}, "is not valid", id="email-special-use-domain"),
            pytest.param({"timezone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'", id="timezone"),
            pytest.param({"timezone": "europe/paris"}, "unknown time zone 'europe/paris'", id="timezone-case"),
            pytest.param({"timezone": "EST5EDTX"}, "unknown time zone", id="timezone-made-up"),
            pytest.param({"timezone": "../../etc/passwd"}, "unknown time zone", id="timezone-path"),
            pytest.param({"phone": "call me"}, "phone 'call me' is not a phone number", id="phone-words"),
            pytest.param({"phone": "123"}, "phone '123' is not a phone number", id="phone-short"),
            pytest.param({"phone": "555-0100; DROP TABLE"}, "is not a phone number", id="phone-junk"),
            pytest.param({"phone": "5" * 61}, "phone is longer than 60 characters", id="phone-long"),
            pytest.param(
                {"linkedin_url": "https://evil.example/linkedin.com/in/x"},
                "is not a LinkedIn URL",
                id="linkedin-other-host",
            ),
            pytest.param(
                {"linkedin_url": "https://linkedin.com.evil.example/in/x"},
                "is not a LinkedIn URL",
                id="linkedin-lookalike-host",
            ),
            pytest.param({"linkedin_url": "linkedin.com/in/x"}, "is not a LinkedIn URL", id="linkedin-no-scheme"),
            pytest.param({"linkedin_url": "javascript:alert(1)"}, "is not a LinkedIn URL", id="linkedin-javascript"),
            pytest.param({"linkedin_url": "https://linkedin.com/"}, "is not a LinkedIn URL", id="linkedin-no-path"),
            pytest.param(
                {"country": "France"},
                "country 'France' must be a two-letter ISO code such as US or FR",
                id="country-name",
            ),
            pytest.param({"country": "F1"}, "must be a two-letter ISO code", id="country-digit"),
            pytest.param({"country": "USA"}, "must be a two-letter ISO code", id="country-three-letters"),
            pytest.param(
                {"interactions": "-1"}, "interactions must be a whole number, not '-1'", id="interactions-negative"
            ),
            pytest.param(
                {"interactions": "2.5"}, "interactions must be a whole number, not '2.5'", id="interactions-fraction"
            ),
            pytest.param(
                {"interactions": "two"}, "interactions must be a whole number, not 'two'", id="interactions-word"
            ),
            pytest.param(
                {"interactions": "²"}, "interactions must be a whole number, not '²'", id="interactions-superscript"
            ),
            pytest.param(
                {"interactions": "10000000001"}, "interactions is too large: 10000000001", id="interactions-huge"
            ),
            pytest.param({"company_size": "about 50"}, "company_size must be a whole number", id="size-words"),
            pytest.param({"owner": "bob"}, "email 'bob' is not valid", id="owner-not-an-email"),
            pytest.param({"first_name": "J" * 101}, "first_name is longer than 100 characters", id="name-long"),
            pytest.param({"title": "x" * 501}, "title is longer than 500 characters", id="title-long"),
            pytest.param({"postal_code": "1" * 21}, "postal_code is longer than 20 characters", id="postal-long"),
        ],
    )
    def test_a_bad_field_is_refused_with_a_message_naming_it(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError, match=re.escape(message)):
            make_lead(row(**changes))

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("first_name", "Jane\r\nBcc: victim@other.example"),
            ("last_name", "Doe\nX-Injected: yes"),
            ("last_name", "Doe\rX"),
            ("title", "VP\nSales"),
            ("company", "Acme\nCorp"),
            ("source", "form\nfill"),
        ],
    )
    def test_line_breaks_in_a_one_line_field_are_refused(self, field: str, value: str) -> None:
        with pytest.raises(ValidationError, match=f"^{field} contains line breaks$"):
            make_lead(row(**{field: value}))

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("first_name", "Ja\x00ne"),
            ("title", "VP\x08Sales"),
            ("company", "Acme\x1b[31m"),
            ("city", "Spring\x7ffield"),
        ],
    )
    def test_control_characters_are_refused(self, field: str, value: str) -> None:
        with pytest.raises(ValidationError, match=f"^{field} contains control characters$"):
            make_lead(row(**{field: value}))

    @pytest.mark.parametrize(
        "email",
        [
            "jane@acme.example\r\nBcc: victim@other.example",
            "jane@acme.example\nbcc:x@other.example",
            "ja\x00ne@acme.example",
        ],
    )
    def test_an_email_with_a_header_injection_is_refused(self, email: str) -> None:
        with pytest.raises(ValidationError, match="contains control characters"):
            make_lead(row(email=email))

    def test_a_custom_field_name_with_a_line_break_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="custom field name contains line breaks"):
            make_lead(ROW, custom={"Budget\nBcc": "50k"})

    def test_a_custom_field_value_may_span_lines_with_plain_line_feeds(self) -> None:
        lead = make_lead(ROW, custom={"Notes": "Met at the fair.\r\nCall after Easter.\rThanks"})
        assert lead.custom == {"Notes": "Met at the fair.\nCall after Easter.\nThanks"}

    def test_a_custom_field_value_with_a_control_character_is_refused_naming_the_field(self) -> None:
        with pytest.raises(ValidationError, match=r"^custom field Budget contains control characters$"):
            make_lead(ROW, custom={"Budget": "50k\x1b[2J"})

    def test_a_custom_field_value_over_2000_characters_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="custom field notes is longer than 2000 characters"):
            make_lead(ROW, custom={"notes": "x" * 2001})


class TestNormalizeEmail:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("jane@acme.example", "jane@acme.example"),
            ("Jane.Doe@ACME.example", "jane.doe@acme.example"),  # never a duplicate lead by case
            ("  jane@acme.example\n", "jane@acme.example"),  # surrounding whitespace is not an injection
            ("jane+webinar@acme.example", "jane+webinar@acme.example"),
            ("jane@sub.acme.example", "jane@sub.acme.example"),
        ],
    )
    def test_an_address_is_normalized_to_lower_case(self, raw: str, expected: str) -> None:
        assert normalize_email(raw) == expected

    @pytest.mark.parametrize("raw", ["", "   ", "jane", "@acme.example", "jane@", "jane@acme..example"])
    def test_a_bad_address_is_refused(self, raw: str) -> None:
        with pytest.raises(ValidationError, match="email"):
            normalize_email(raw)


class TestValidateTimezone:
    @pytest.mark.parametrize(
        "zone",
        ["America/New_York", "Europe/Paris", "Asia/Kolkata", "Pacific/Auckland", "UTC", " Asia/Tokyo "],
    )
    def test_an_iana_zone_is_accepted(self, zone: str) -> None:
        assert validate_timezone(zone) == zone.strip()

    @pytest.mark.parametrize("zone", ["", "Paris", "CEST", "GMT+2", "America/NewYork", "asia/tokyo", "/etc/localtime"])
    def test_anything_else_is_refused_with_an_example(self, zone: str) -> None:
        with pytest.raises(ValidationError, match=re.escape("(use an IANA name such as Europe/Paris)")):
            validate_timezone(zone)
