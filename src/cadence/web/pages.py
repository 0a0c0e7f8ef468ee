"""The app's own HTML pages: our templates in ``templates/``, rendered by an autoescaping Jinja environment.

These are the application's templates, written by us; the marketers' message templates are a
different thing (``cadence.adapters.templates``, sandboxed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from cadence.settings import Settings
from cadence.web.charts import class_color

environment = Environment(
    loader=PackageLoader("cadence.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def localtime(value: datetime | str | None, zone: str, style: str = "datetime") -> str:
    """``value`` (an aware datetime or ISO-8601 text) in the time zone ``zone``: ``Mon 30 Nov 2026, 09:00``.

    ``style`` ``date`` leaves the time out, ``time`` the date; None is an empty string.
    """
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(ZoneInfo(zone))
    if style == "date":
        return f"{local:%a} {local.day} {local:%b %Y}"
    if style == "time":
        return f"{local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"


def urlpath(value: str) -> str:
    """``value`` quoted as one segment of a URL path (a lead's address in ``/leads/...``)."""
    return quote(value, safe="@+")


def words(value: str | None) -> str:
    """A code as words: ``no_answer`` is ``no answer``."""
    return (value or "").replace("_", " ")


def css_name(value: str) -> str:
    """``value`` reduced to the letters, digits, ``-`` and ``_`` that a CSS class name may hold."""
    return "".join(c for c in value.lower().replace(" ", "-") if c.isascii() and (c.isalnum() or c in "-_"))


environment.filters["localtime"] = localtime
environment.filters["css_name"] = css_name
environment.filters["class_color"] = class_color
environment.filters["urlpath"] = urlpath
environment.filters["words"] = words


def render(name: str, settings: Settings, **values: Any) -> str:
    """The page ``name`` rendered with ``values`` and what every page shows (company name, postal address)."""
    template = environment.get_template(name)
    return template.render(company_name=settings.company_name, postal_address=settings.postal_address, **values)


def page(name: str, settings: Settings, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    """An HTML response with the page ``name``."""
    return HTMLResponse(render(name, settings, **values), status_code=status_code)
