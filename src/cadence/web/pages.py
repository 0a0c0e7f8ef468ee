"""The app's own HTML pages: our templates in ``templates/``, rendered by an autoescaping Jinja environment.

These are the application's templates, written by us; the marketers' message templates are a
different thing (``cadence.adapters.templates``, sandboxed).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from cadence.settings import Settings

environment = Environment(
    loader=PackageLoader("cadence.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render(name: str, settings: Settings, **values: Any) -> str:
    """The page ``name`` rendered with ``values`` and what every page shows (company name, postal address)."""
    template = environment.get_template(name)
    return template.render(company_name=settings.company_name, postal_address=settings.postal_address, **values)


def page(name: str, settings: Settings, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    """An HTML response with the page ``name``."""
    return HTMLResponse(render(name, settings, **values), status_code=status_code)
