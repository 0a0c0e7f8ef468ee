"""The headers of a leads CSV file: how a header text becomes a column key (case, spaces and the usual
exports' names), ``--map`` options, and names that do not clash with the file's own."""

from __future__ import annotations

import re
from collections.abc import Sequence

from cadence.errors import ValidationError

HEADER_ALIASES: dict[str, str] = {
    "e_mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "work_email": "email",
    "business_email": "email",
    "email_id": "email",
    "person_email": "email",
    "primary_email": "email",
    "firstname": "first_name",
    "first": "first_name",
    "given_name": "first_name",
    "person_first_name": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "person_last_name": "last_name",
    "job_title": "title",
    "jobtitle": "title",
    "position": "title",
    "job_position": "title",
    "person_job_title": "title",
    "company_name": "company",
    "organization": "company",
    "organisation": "company",
    "organization_name": "company",
    "organisation_name": "company",
    "account_name": "company",
    "account": "company",
    "employer": "company",
    "number_of_employees": "company_size",
    "no_of_employees": "company_size",
    "no._of_employees": "company_size",
    "employees": "company_size",
    "employee_count": "company_size",
    "num_employees": "company_size",
    "company_headcount": "company_size",
    "headcount": "company_size",
    "phone_number": "phone",
    "mobile": "phone",
    "mobile_phone": "phone",
    "mobile_phone_number": "phone",
    "work_phone": "phone",
    "business_phone": "phone",
    "telephone": "phone",
    "telephone_number": "phone",
    "person_phone": "phone",
    "cell_phone": "phone",
    "linkedin": "linkedin_url",
    "linkedin_profile": "linkedin_url",
    "linkedin_profile_url": "linkedin_url",
    "person_linkedin_url": "linkedin_url",
    "address_line_1": "address_line1",
    "address": "address_line1",
    "address_1": "address_line1",
    "street": "address_line1",
    "street_address": "address_line1",
    "mailing_street": "address_line1",
    "address_line_2": "address_line2",
    "address_2": "address_line2",
    "mailing_city": "city",
    "town": "city",
    "state": "region",
    "state/region": "region",
    "state/province": "region",
    "province": "region",
    "mailing_state": "region",
    "mailing_state/province": "region",
    "zip": "postal_code",
    "zip_code": "postal_code",
    "zipcode": "postal_code",
    "postcode": "postal_code",
    "post_code": "postal_code",
    "postal": "postal_code",
    "zip/postal_code": "postal_code",
    "mailing_zip/postal_code": "postal_code",
    "mailing_zip": "postal_code",
    "country/region": "country",
    "mailing_country": "country",
    "country_code": "country",
    "country_name": "country",
    "time_zone": "timezone",
    "tz": "timezone",
    "lead_source": "source",
    "original_source": "source",
    "source_name": "source",
    "lead_owner": "owner",
    "contact_owner": "owner",
    "owner_email": "owner",
}
"""Header names of the usual exports (HubSpot, Salesforce, Pipedrive, Zoom and GoTo Webinar, LinkedIn Lead Gen
forms), already normalised, and the standard column each one means."""


_SEPARATORS = re.compile(r"[\s\-_]+")


def normalize_header(text: str) -> str:
    """The column key for a header text: trimmed, lower-cased, runs of spaces/hyphens/underscores as ``_``.

    ``" First  Name "`` and ``"first-name"`` give ``first_name``; the aliases in
    :data:`HEADER_ALIASES` are then applied (``"E-mail"`` gives ``email``).
    """
    key = _SEPARATORS.sub("_", text.replace("\ufeff", "").strip().lower()).strip("_")
    return HEADER_ALIASES.get(key, key)


def plain_key(text: str) -> str:
    """A header's normalised key before aliases: ``" First  Name "`` is ``first_name``."""
    return _SEPARATORS.sub("_", text.replace("\ufeff", "").strip().lower()).strip("_")


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """``--map "Column Name=field"`` options as {normalised column: field}; ValidationError for a malformed one.

    ``field`` is a standard field (``title``, ``postal_code``...), ``ignore`` to leave the column out,
    or any other name, which makes the column a custom field of that name.
    """
    mapping: dict[str, str] = {}
    for item in items:
        column, separator, target = item.rpartition("=")
        if not separator or not column.strip() or not target.strip():
            raise ValidationError(f'--map {item!r}: write it as "Column Name=field", e.g. "Job Role=title"')
        key = plain_key(target)
        if not key:
            raise ValidationError(f"--map {item!r}: name a field after the =")
        mapping[plain_key(column)] = key
    return mapping


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... whichever does not normalise to a name in ``taken``; adds it there."""
    name, number = base, 1
    while normalize_header(name) in taken:
        number += 1
        name = f"{base}_{number}"
    taken.add(normalize_header(name))
    return name
