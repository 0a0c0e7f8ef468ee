"""The variables templates receive (the contract), the caller's values made plain, and sample sets."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from cadence.adapters.templates.limits import SCALARS

_LEAD_KEYS = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "title",
    "company",
    "industry",
    "company_size",
    "phone",
    "linkedin_url",
    "city",
    "region",
    "country",
    "timezone",
    "source",
    "interactions",
    "class",
    "why_now",
    "topic",
)
_OWNER_KEYS = ("name", "first_name", "email", "signature")
_COMPANY_KEYS = ("name", "website", "postal_address", "benefit")
_STEP_KEYS = ("number", "day", "channel", "total_steps", "previous_subject", "instructions")

MESSAGE_VARIABLES = frozenset({"lead", "owner", "company", "step", "unsubscribe_url", "qualifying_questions", "today"})
"""The variables every email and task template receives (see the module documentation)."""

DIGEST_VARIABLES = frozenset({"rep", "overdue", "today", "date", "escalation", "company", "late_answers"})
"""The variables the rep digest (``digest/`` templates) receives instead."""

LAYOUT_VARIABLES = frozenset({"body"})
"""What the email layout (``email/_layout.html``) receives on top of :data:`MESSAGE_VARIABLES`."""

VARIABLE_KEYS: Mapping[str, frozenset[str]] = types.MappingProxyType(
    {
        "lead": frozenset((*_LEAD_KEYS, "address_lines", "custom")),
        "owner": frozenset(_OWNER_KEYS),
        "company": frozenset(_COMPANY_KEYS),
        "step": frozenset(_STEP_KEYS),
    }
)
"""The keys of the mapping variables; any key of ``lead.custom`` may be used."""


def _plain(value: Any, depth: int = 0) -> Any:
    """A copy made only of plain data (dict, list, str, numbers, dates, None)."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, SCALARS):
        return value
    if depth > 20:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    return str(value)


def _with_keys(value: Any, keys: Sequence[str]) -> dict[str, Any]:
    result = dict(value) if isinstance(value, dict) else {}
    for key in keys:
        result.setdefault(key, None)
    return result


def prepare(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's variables as plain data, with every documented optional value present (None)."""
    data: dict[str, Any] = _plain(variables)
    if "lead" in data:
        lead = _with_keys(data["lead"], _LEAD_KEYS)
        if lead.get("custom") is None:
            lead["custom"] = {}
        if lead.get("address_lines") is None:
            lead["address_lines"] = []
        if lead["full_name"] is None:
            lead["full_name"] = " ".join(p for p in (lead["first_name"], lead["last_name"]) if p) or None
        data["lead"] = lead
    if "owner" in data:
        owner = _with_keys(data["owner"], _OWNER_KEYS)
        if owner["first_name"] is None and isinstance(owner["name"], str) and owner["name"].split():
            owner["first_name"] = owner["name"].split()[0]
        data["owner"] = owner
    if "company" in data:
        data["company"] = _with_keys(data["company"], _COMPANY_KEYS)
    if "step" in data:
        data["step"] = _with_keys(data["step"], _STEP_KEYS)
    for key in ("unsubscribe_url", "today"):
        data.setdefault(key, None)
    data.setdefault("qualifying_questions", [])
    return data


def sample_variables() -> list[dict[str, Any]]:
    """Variable sets to try templates with: a complete lead, a lead with nothing optional, a hostile one."""
    company = {
        "name": "Northwind Analytics",
        "website": "https://northwind.example",
        "postal_address": "Northwind Analytics Inc.\n100 Harbor Street, Suite 4\nPortland, OR 97201\nUSA",
        "benefit": "helps B2B sales teams follow up every lead, on time, on every channel",
    }
    questions = [
        "Are you committed to finding a solution this year?",
        "What is the requirement, in your words?",
        "What would the ideal solution look like?",
        "Who decides that a solution has been found?",
        "Who approves the purchase?",
        "What do you expect from a supplier?",
    ]
    tasks = [
        {
            "lead_name": "Ada Lovelace",
            "lead_email": "ada@analytical.example",
            "company": "Analytical Engines Ltd",
            "channel": "call",
            "due_at": "2025-03-14 09:30",
            "instructions_first_line": "Discovery call: fact-finding, not a pitch.",
            "class": "A",
        }
    ]
    complete = {
        "lead": {
            "email": "ada@analytical.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "full_name": "Ada Lovelace",
            "title": "Head of Sales Operations",
            "company": "Analytical Engines Ltd",
            "industry": "manufacturing",
            "company_size": 450,
            "phone": "+44 20 7946 0000",
            "linkedin_url": "https://www.linkedin.com/in/ada-lovelace-example",
            "city": "London",
            "region": "England",
            "country": "GB",
            "timezone": "Europe/London",
            "source": "webinar",
            "interactions": 3,
            "address_lines": ["12 Babbage Row", "London EC1A 1AA, England", "GB"],
            "custom": {"topic": "lead follow-up for small sales teams", "webinar": "Never Lose a Lead"},
            "why_now": "Analytical Engines opened a second sales office in Leeds this month",
            "topic": "following up webinar leads",
        },
        "owner": {
            "name": "Dana Reyes",
            "first_name": "Dana",
            "email": "dana@northwind.example",
            "signature": "Account Executive, Northwind Analytics\n+1 503 555 0100",
        },
        "company": company,
        "step": {
            "number": 3,
            "day": 5,
            "channel": "email",
            "total_steps": 10,
            "previous_subject": "Ada, 15 minutes?",
            "instructions": "Research the lead's company website and LinkedIn profile before the first email.",
        },
        "unsubscribe_url": "https://northwind.example/unsubscribe?token=abc123&lead=42",
        "qualifying_questions": questions,
        "today": "2025-03-14",
        "rep": "Dana Reyes",
        "overdue": tasks,
        "late_answers": tasks[:1],
    }
    missing = {
        "lead": {
            "email": "someone@unknown.example",
            "first_name": None,
            "last_name": None,
            "full_name": None,
            "title": None,
            "company": None,
            "industry": None,
            "company_size": None,
            "phone": None,
            "linkedin_url": None,
            "city": None,
            "region": None,
            "country": None,
            "timezone": None,
            "source": None,
            "interactions": 0,
            "address_lines": [],
            "custom": {},
            "why_now": None,
            "topic": None,
        },
        "owner": {"name": "Sam Ito", "first_name": None, "email": "sam@northwind.example", "signature": None},
        "company": {
            "name": "Northwind Analytics",
            "website": None,
            "postal_address": "100 Harbor Street, Portland, OR 97201, USA",
            "benefit": None,
        },
        "step": {
            "number": 1,
            "day": 0,
            "channel": "email",
            "total_steps": 1,
            "previous_subject": None,
            "instructions": None,
        },
        "unsubscribe_url": "https://northwind.example/u/1",
        "qualifying_questions": [],
        "today": "2025-03-14",
        "rep": None,
        "overdue": [],
    }
    long_text = "Long" + "x" * 2000
    evil = "<script>alert('x')</script>"
    hostile = {
        "lead": {
            "email": "mallory@evil.example",
            "first_name": evil,
            "last_name": '"><img src=x onerror=alert(1)>',
            "full_name": f"{evil} Ω 🚀",
            "title": "{{ 7*7 }} {% raw %}",
            "company": "Evil Corp\r\nBcc: victim@evil.example\nX-Injected: yes",
            "industry": long_text,
            "company_size": 10**12,
            "phone": "+1 555 0100 <b>",
            "linkedin_url": "javascript:alert(1)",
            "city": "Zürich",
            "region": "العربية",
            "country": "ZZ",
            "timezone": "Mars/Olympus",
            "source": "<i>webinar</i>\r\n",
            "interactions": 99,
            "address_lines": [evil, "Straße 1\r\n", long_text],
            "custom": {"topic": f"{evil}\r\nSubject: hacked {long_text}", "items": "x", "webinar": "{{ lead }}"},
            "why_now": f"{evil}\r\nBcc: victim@evil.example {long_text}",
            "topic": "{{ 7*7 }}\r\n",
        },
        "owner": {
            "name": "Eve <eve@evil.example>",
            "first_name": "Eve",
            "email": "eve@evil.example",
            "signature": f"{evil}\r\n{long_text}",
        },
        "company": {
            "name": "Northwind & Sons <Ltd>",
            "website": "https://northwind.example/?a=1&b=<2>",
            "postal_address": "1 Rue de l'Église\r\n75001 Paris <France>",
            "benefit": evil,
        },
        "step": {
            "number": 99,
            "day": 21,
            "channel": "email",
            "total_steps": 99,
            "previous_subject": f"Re: {evil}\r\n",
            "instructions": f"{evil}\r\nIgnore the cadence.",
        },
        "unsubscribe_url": 'https://northwind.example/unsubscribe?token="><script>&x=1',
        "qualifying_questions": [evil, long_text, "Wer entscheidet? 🤔"],
        "today": "2025-03-14",
        "rep": {"name": evil},
        "overdue": [{**tasks[0], "lead_name": evil, "company": "A\r\nB", "instructions_first_line": long_text}],
        "late_answers": [{**tasks[0], "lead_name": evil}],
    }
    return [complete, missing, hostile]
