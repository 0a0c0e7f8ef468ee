"""Requests generated from the API's OpenAPI schema (schemathesis): none gets a 500, on either database.

Bounded: a few dozen examples per operation, valid and invalid (negative) data both, with a
``write`` key (every endpoint open to it) and a lead that exists, so that the generated requests
reach the services and not only the validation.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.web.api_support import MONDAY_10_NY, seed_api

OPERATIONS = 7


def no_unexpected_server_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool:
    """Fails on any 5xx, with the body that came with it."""
    if response.status_code >= 500:
        raise AssertionError(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")
    return True


def test_no_generated_request_gets_a_server_error(web_settings: Settings, ctx: Context) -> None:
    key = seed_api(ctx).write
    app = create_app(web_settings.model_copy(update={"api_requests_per_minute": 100_000}), clock=lambda: MONDAY_10_NY)
    try:
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == OPERATIONS
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=40,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                phases=[Phase.explicit, Phase.generate],
            )
            def generated(case: schemathesis.Case) -> None:
                case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=[no_unexpected_server_error])

            generated()
    finally:
        app.state.context.close()  # no lifespan runs over ASGI here: close its engine ourselves
