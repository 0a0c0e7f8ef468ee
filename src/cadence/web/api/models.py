"""The bodies the API takes and gives, as pydantic models (they are its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cadence.services.intake import InteractionKind


def _all_text_is_utf8(value: Any) -> None:
    """Refuse text no database can store (a lone UTF-16 surrogate, as JSON's ``\\ud800`` gives)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            _all_text_is_utf8(key)
            _all_text_is_utf8(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _all_text_is_utf8(item)


class Strict(BaseModel):
    """A body: unknown fields are refused (a typo must not pass silently); text must be valid Unicode."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _unicode(cls, data: Any) -> Any:
        try:
            _all_text_is_utf8(data)
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
        return data


Text = str | None
Count = int | str | None


class PersonFields(Strict):
    """A person's fields, as the CSV import takes them (the same names and rules); all but ``email`` optional."""

    first_name: Text = None
    last_name: Text = None
    title: Text = None
    company: Text = None
    industry: Text = None
    company_size: Count = None
    phone: Text = None
    linkedin_url: Text = None
    address_line1: Text = None
    address_line2: Text = None
    city: Text = None
    region: Text = None
    postal_code: Text = None
    country: Text = Field(default=None, description="A two-letter ISO code such as US or FR.")
    timezone: Text = Field(default=None, description="An IANA time zone such as Europe/Paris.")
    source: Text = Field(default=None, description="Where the person came from; `contact_request` is inbound.")
    owner: Text = Field(default=None, description="The owning rep's email (default: round-robin).")
    custom: dict[str, str] | None = Field(default=None, description="Custom fields, as the import's extra columns.")

    def values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The standard fields (set ones only) and the custom fields."""
        given = self.model_dump(exclude_unset=True, exclude={"custom"})
        return given, dict(self.custom or {})


class LeadIn(PersonFields):
    """A person to create or update, by email."""

    email: str = Field(max_length=320)
    interactions: Count = Field(default=None, description="How many interactions the person had (only ever grows).")


class LeadOut(BaseModel):
    """What became of the person: name, lead or unfit, why, and what happens next."""

    email: str
    created: bool
    kind: Literal["name", "lead", "unfit"]
    reasons: list[str]
    class_: str | None = Field(alias="class")
    owner: str | None
    cadence: str | None
    status: str
    enrolled: bool
    first_step_at: datetime | None
    suppressed: bool
    interactions: int
    warnings: list[str] = Field(description="Optional fields that could not be used, left empty: the person is kept.")


class InteractionIn(Strict):
    """One interaction of a person, kept as history; a person not seen before is created from ``person``."""

    email: str = Field(max_length=320)
    kind: InteractionKind
    topic: str | None = Field(default=None, description="What it was about: the webinar, the ebook, the page.")
    at: datetime | None = Field(default=None, description="When it happened (default: now); with a time zone.")
    person: PersonFields | None = None


class ResponseType(StrEnum):
    """What the lead did: replied, got in touch some other way, or booked a meeting with a booking tool."""

    REPLY = "reply"
    CONTACT = "contact"
    BOOKING = "booking"


class ResponseIn(Strict):
    """A response seen outside cadence: the automated steps stop and the owner gets a task."""

    type: ResponseType
    channel: Literal["email", "call", "linkedin", "other"] = "other"
    note: str | None = Field(default=None, max_length=5000)
    booking: dict[str, Any] | None = Field(default=None, description="A booking tool's notification, as it sent it.")


class BookingIn(BaseModel):
    """A booking tool's notification as it sent it (Cal.com or Calendly shape), checked by the meetings service."""

    model_config = ConfigDict(extra="allow")


class DecisionIn(Strict):
    """The final decision on a lead, with its reason; a meeting or hand-off needs the qualifying answers."""

    outcome: Literal["meeting_booked", "qualified_handoff", "not_interested", "bad_fit", "wrong_contact", "passed_back"]
    reason: str = Field(max_length=5000)
    answers: dict[str, str] | None = None
    skip_qualification: bool = False


class ErrorBody(BaseModel):
    """An error: a stable ``code`` and a message for people."""

    code: str
    message: str


class ErrorOut(BaseModel):
    """Every error answer of the API."""

    error: ErrorBody
