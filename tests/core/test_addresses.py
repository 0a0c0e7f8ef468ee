"""Role addresses and disposable domains, flagged for intake."""

from __future__ import annotations

import pytest
from disposable_email_domains import blocklist

from cadence.core.addresses import DISPOSABLE, ROLE, ROLE_LOCAL_PARTS, address_flags
from cadence.errors import ValidationError


@pytest.mark.parametrize(
    ("email", "flags"),
    [
        ("jane.doe@acme.example", set()),
        ("jane@gmail.com", set()),
        ("info@acme.example", {ROLE}),
        ("Sales@Acme.Example", {ROLE}),
        ("sales+emea@acme.example", {ROLE}),
        ("no-reply@acme.example", {ROLE}),
        ("postmaster@acme.example", {ROLE}),
        ("jane@mailinator.com", {DISPOSABLE}),
        ("jane@MAILINATOR.COM", {DISPOSABLE}),
        ("jane@inbox.mailinator.com", {DISPOSABLE}),
        ("jane@yopmail.com", {DISPOSABLE}),
        ("info@10minutemail.com", {ROLE, DISPOSABLE}),
        # a role name inside a person's address, or a listed domain's name inside another, is no flag
        ("salesforce.admin.jane@acme.example", set()),
        ("infoline@acme.example", set()),
        ("jane@notmailinator.com.example", set()),
        ("jane@mailinator.com.acme.example", set()),
    ],
)
def test_flags_say_whether_an_address_is_a_role_or_disposable(email: str, flags: set[str]) -> None:
    assert address_flags(email) == flags


def test_every_domain_of_the_maintained_list_is_flagged_disposable() -> None:
    # The list comes from the package, not from us: a sample of it all reads as disposable.
    sample = sorted(blocklist)[:: max(len(blocklist) // 200, 1)]
    assert len(blocklist) > 1_000
    for domain in sample:
        assert DISPOSABLE in address_flags(f"jane@{domain}"), domain


def test_every_role_name_is_flagged_at_any_domain_and_in_any_case() -> None:
    for local in ROLE_LOCAL_PARTS:
        assert address_flags(f"{local.upper()}@acme.example") == {ROLE}, local


def test_an_internationalized_domain_is_read_in_its_ascii_form() -> None:
    assert address_flags("jane@bücher.example") == set()
    assert address_flags("vertrieb@bücher.example") == set()
    assert address_flags("info@bücher.example") == {ROLE}


@pytest.mark.parametrize("email", ["", "not an address", "jane@", "@acme.example", "jane@acme..example"])
def test_what_is_not_an_address_is_a_clear_error(email: str) -> None:
    with pytest.raises(ValidationError, match="email"):
        address_flags(email)
