"""Leads and the validation of their fields (pure: no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cadence.core.spellings import country_for, timezone_for
from cadence.errors import ValidationError, shown

LEAD_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "title",
    "company",
    "industry",
    "company_size",
    "phone",
    "linkedin_url",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "timezone",
    "source",
    "interactions",
    "owner",
    "account",
    "role",
)
"""The standard fields of a lead, in import-column order; anything else is a custom field."""

_MAX_TEXT = 500
MAX_COUNT = 2_147_483_647
"""The largest count (interactions, company size) a lead can have: what a database integer column holds."""
_PHONE = re.compile(r"^\+?[0-9 ()./\-]{4,40}(\s*(x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
_LINKEDIN = re.compile(r"^https?://([a-z]{2,3}\.)?linkedin\.com/[^\s]+$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class Address:
    """A postal address, for postcards and the CAN-SPAM footer."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def lines(self) -> list[str]:
        """The address as printable lines, leaving out empty parts."""
        city_line = " ".join(p for p in (self.postal_code, self.city) if p)
        if self.region:
            city_line = f"{city_line}, {self.region}" if city_line else self.region
        return [p for p in (self.line1, self.line2, city_line, self.country) if p]


@dataclass(frozen=True)
class LeadData:
    """A lead as it comes in (from an import row or a form), validated.

    ``owner`` is the owner's email, if given. ``interactions`` counts the lead's interactions
    with us (webinars, downloads, visits...).
    """

    email: str | None
    """The normalized address; None only for a contact known by phone (``make_lead`` with ``email_optional``)."""
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    company: str | None = None
    industry: str | None = None
    company_size: int | None = None
    phone: str | None = None
    linkedin_url: str | None = None
    address: Address = field(default_factory=Address)
    timezone: str | None = None
    source: str | None = None
    interactions: int = 0
    owner: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    """An explicit account key (:mod:`cadence.core.accounts`): it wins over the domain and the company name."""
    role: str | None = None
    """The lead's role in its account's buying group (:class:`cadence.core.accounts.Role`)."""
    warnings: tuple[str, ...] = ()
    """What :func:`make_lead` with ``lenient`` normalized or left out, one sentence each (empty otherwise)."""

    @property
    def full_name(self) -> str:
        """First and last name, or an empty string."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)


def normalize_email(value: str) -> str:
    """Return the normalized form of an email address, or raise :class:`ValidationError`.

    The domain is lower-cased; so is the local part, since mail systems treat addresses
    case-insensitively in practice and a lead must never be duplicated by case.

    The result is what any SMTP server takes: ASCII. A domain with non-ASCII letters is written
    in its IDNA form (``jose@exämple.example`` is ``jose@xn--exmple-cua.example``, so both
    spellings are one address). A local part with non-ASCII letters (``josé@...``) is refused:
    a server takes it only with the SMTPUTF8 extension, and cadence sends without it.
    """
    text = (value or "").strip()
    if not text:
        raise ValidationError("email is missing")
    if _CONTROL.search(text) or "\n" in text or "\r" in text:
        raise ValidationError(f"email {shown(text)} contains control characters")
    local = text.rpartition("@")[0]
    if not local.isascii():
        raise ValidationError(
            f"email {shown(text)} has non-ASCII characters before the @: mail servers take such an address"
            " only with SMTPUTF8, which cadence does not use; ask the lead for an ASCII address"
        )
    from email_validator import EmailNotValidError, validate_email  # only when an address is checked

    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"email {shown(text)} is not valid: {exc}") from exc
    if result.ascii_email is None:  # pragma: no cover - allow_smtputf8=False refuses these above
        raise ValidationError(f"email {shown(text)} cannot be written in ASCII")
    return result.ascii_email.lower()


def normalize_phone(value: str, country: str | None = None) -> str:
    """Return a phone number in E.164 form (``+12125550100``), or raise :class:`ValidationError`.

    ``country`` (two letters) reads a number written without its country code (``212 555 0100`` in
    ``US``); without it, the number must start with ``+``. The number is checked against the
    numbering plan of its country (the ``phonenumbers`` package, Google's libphonenumber data), so
    that two spellings of one number are one number.
    """
    import phonenumbers  # only when a number is checked

    text = clean_text("phone", value, max_length=60)
    if text is None:
        raise ValidationError("phone is missing")
    region = country.upper() if country else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        plus = region or text.startswith("+")
        hint = "" if plus else " (start it with + and the country code, such as +1 212 555 0100)"
        raise ValidationError(f"phone {shown(text)} is not a phone number{hint}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"phone {shown(text)} is not a valid number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_reference(value: str) -> int | None:
    """The lead id a ``#ID`` reference names (``#42`` is 42), or None when ``value`` is not one (an address)."""
    text = value.strip()
    if not text.startswith("#"):
        return None
    digits = text[1:].strip()
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_COUNT:
        raise ValidationError(f"{shown(text)} is not a lead reference: write # and the lead's number, such as #42")
    return int(digits)


def lead_reference(lead_id: int, email: str | None) -> str:
    """How a person names a lead: its address, else ``#ID`` (a contact known only by phone)."""
    return email if email is not None else f"#{lead_id}"


def validate_timezone(value: str) -> str:
    """Return ``value`` if it names an IANA time zone, else raise :class:`ValidationError`."""
    text = value.strip()
    if text not in _zone_names():
        raise ValidationError(f"unknown time zone {shown(text)} (use an IANA name such as Europe/Paris)")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # pragma: no cover - guarded above
        raise ValidationError(f"unknown time zone {shown(text)}") from exc
    return text


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def clean_text(name: str, value: Any, *, max_length: int = _MAX_TEXT, multiline: bool = False) -> str | None:
    """Strip a free-text field; empty becomes None. Refuse control characters and overlong text.

    Control characters are refused, and line breaks too unless ``multiline``: these values end
    up in email headers and task instructions.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    elif "\n" in text or "\r" in text:
        raise ValidationError(f"{name} contains line breaks")
    if _CONTROL.search(text):
        raise ValidationError(f"{name} contains control characters")
    if len(text) > max_length:
        raise ValidationError(f"{name} is longer than {max_length} characters")
    return text


def parse_count(name: str, value: Any, *, default: int | None = 0) -> int | None:
    """Parse a non-negative whole number (``"12"``, ``"1,200"``) up to :data:`MAX_COUNT`; empty gives ``default``."""
    if value is None or str(value).strip() == "":
        return default
    text = str(value).strip().replace(",", "").replace("_", "")
    if not (text.isascii() and text.isdigit()):
        raise ValidationError(f"{name} must be a whole number, not {shown(str(value).strip())}")
    if len(text.lstrip("0")) > len(str(MAX_COUNT)) or int(text) > MAX_COUNT:
        digits = text if len(text) <= 30 else f"{text[:27]}... ({len(text):,} digits)"
        raise ValidationError(f"{name} is too large: {digits} (at most {MAX_COUNT:,})")
    return int(text)


def make_lead(
    values: dict[str, Any], custom: dict[str, Any] | None = None, *, lenient: bool = False, email_optional: bool = False
) -> LeadData:
    """Validate raw field values (strings, as read from a CSV row, a form or an API body) into a :class:`LeadData`.

    The one validation of a lead's fields, for every way a lead comes in. Strict (the default), it
    raises :class:`ValidationError` naming the first field that is wrong. With ``lenient`` (imports),
    only the email can refuse the row: every other field is normalized when it safely can be (a time
    zone written ``Eastern Time`` is ``America/New_York``, a country ``usa`` is ``US``, a line break in
    an address line becomes ``", "``, control characters are dropped), and otherwise left empty; each
    such change is a sentence in ``LeadData.warnings``.

    ``email_optional`` (a colleague added by hand): a person without an address is taken when they
    have a phone number, which is then normalized (:func:`normalize_phone`); one with neither is refused.
    """
    given = str(values.get("email") or "").strip()
    email = normalize_email(given) if given or not email_optional else None
    notes: list[str] = []

    def usable(name: str, check: Any, fallback: Any = None) -> Any:
        try:
            return check()
        except ValidationError as exc:
            if not lenient:
                raise
            notes.append(f"{exc}: {name} left empty" if fallback is None else f"{exc}: {name} set to {fallback}")
            return fallback

    def text(name: str, *, max_length: int = _MAX_TEXT, joiner: str = " ") -> str | None:
        raw = values.get(name)
        if lenient and raw is not None:
            cleaned = _CONTROL.sub("", str(raw).replace("\r\n", "\n").replace("\r", "\n"))
            if "\n" in cleaned.strip():
                cleaned = joiner.join(part.strip() for part in cleaned.split("\n") if part.strip())
                notes.append(f"{name} had line breaks: joined as {shown(cleaned)}")
            elif cleaned != str(raw).replace("\r\n", "\n").replace("\r", "\n"):
                notes.append(f"{name} had control characters: removed")
            raw = cleaned
        result: str | None = usable(name, lambda: clean_text(name, raw, max_length=max_length))
        return result

    def timezone() -> str | None:
        tz = text("timezone")
        if tz is None:
            return None
        try:
            return validate_timezone(tz)
        except ValidationError:
            if not lenient:
                raise
        named = timezone_for(tz)
        if named is not None:
            notes.append(f"time zone {shown(tz)} read as {named}")
            return named
        notes.append(f"unknown time zone {shown(tz)} (use an IANA name such as Europe/Paris): timezone left empty")
        return None

    def phone() -> str | None:
        value = text("phone", max_length=60)
        if email is None:  # the phone is the person's only contact: it must be a number we can dial
            if value is None:
                raise ValidationError("give an email address or a phone number: a contact needs one of them")
            return normalize_phone(value, country())
        if value is not None and not _PHONE.match(value):
            usable("phone", lambda: _refuse(f"phone {shown(value)} is not a phone number"))
            return None
        return value

    def linkedin() -> str | None:
        value = text("linkedin_url", max_length=300)
        if value is not None and not _LINKEDIN.match(value):
            usable("linkedin_url", lambda: _refuse(f"linkedin_url {shown(value)} is not a LinkedIn URL"))
            return None
        return value

    def country() -> str | None:
        value = text("country", max_length=60)
        if value is None:
            return None
        if _COUNTRY.match(value):
            return value.upper()
        code = country_for(value) if lenient else None
        if code is not None:
            notes.append(f"country {shown(value)} read as {code}")
            return code
        usable("country", lambda: _refuse(f"country {shown(value)} must be a two-letter ISO code such as US or FR"))
        return None

    def owner() -> str | None:
        raw = values.get("owner")
        if raw is None or not str(raw).strip():
            return None
        result: str | None = usable("owner", lambda: normalize_email(str(raw)))
        return result

    def count(name: str, default: int | None) -> int | None:
        result: int | None = usable(name, lambda: parse_count(name, values.get(name), default=default), default)
        return result

    source = text("source", max_length=100)
    extra: dict[str, str] = {}
    for key, raw in (custom or {}).items():
        key_text = clean_text("custom field name", key, max_length=100)
        value_text = usable(
            f"custom field {key_text}",
            lambda key_text=key_text, raw=raw: clean_text(
                f"custom field {key_text}", raw, max_length=2000, multiline=True
            ),
        )
        if key_text is not None and value_text is not None:
            extra[key_text] = value_text
    return LeadData(
        email=email,
        first_name=text("first_name", max_length=100),
        last_name=text("last_name", max_length=100),
        title=text("title"),
        company=text("company"),
        industry=text("industry"),
        company_size=count("company_size", None),
        phone=phone(),
        linkedin_url=linkedin(),
        address=Address(
            line1=text("address_line1", joiner=", "),
            line2=text("address_line2", joiner=", "),
            city=text("city", max_length=100),
            region=text("region", max_length=100),
            postal_code=text("postal_code", max_length=20),
            country=country(),
        ),
        timezone=timezone(),
        source=source.lower().replace(" ", "_") if source else None,
        interactions=count("interactions", 0) or 0,
        owner=owner(),
        custom=extra,
        account=_account_key(values.get("account")),
        role=_role(values.get("role")),
        warnings=tuple(notes),
    )


def _account_key(value: Any) -> str | None:
    from cadence.core.accounts import clean_key

    if value is None or clean_key(str(value)) is None:  # validated (length, control characters) ...
        return None
    return " ".join(str(value).split())  # ... and kept as written: the account's name (the key ignores case)


def _role(value: Any) -> str | None:
    """The buying-group role of a row; one we cannot read is left out (it never costs the lead its row)."""
    from cadence.core.accounts import parse_role

    try:
        role = parse_role(str(value) if value is not None else None)
    except ValidationError:
        return None
    return role.value if role is not None else None


def _refuse(message: str) -> None:
    raise ValidationError(message)
