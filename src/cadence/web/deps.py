"""What request handlers get from the application: its context and its clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import Depends, Request

from cadence.services.context import Context

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    """The current time, aware, in UTC: the web edge is where "now" is read."""
    return datetime.now(UTC)


def get_context(request: Request) -> Context:
    """The application's :class:`Context` (built once per app by ``create_app``)."""
    return cast(Context, request.app.state.context)


def get_clock(request: Request) -> Clock:
    """The application's clock (the wall clock, unless a test gave another)."""
    return cast(Clock, request.app.state.clock)


ContextDep = Annotated[Context, Depends(get_context)]
ClockDep = Annotated[Clock, Depends(get_clock)]
