"""What request handlers get from the application: its context and its clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, cast

from fastapi import Depends, Request

from cadence.services.context import Context

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    """The current time, aware, in UTC: the web edge is where "now" is read."""
    return datetime.now(UTC)


def running_from(start: datetime) -> Clock:
    """A clock that reads ``start`` now and then runs on at the wall clock's pace (``cadence web --now``)."""
    began = time.monotonic()
    at = start.astimezone(UTC)

    def clock() -> datetime:
        return at + timedelta(seconds=time.monotonic() - began)

    return clock


def get_context(request: Request) -> Context:
    """The application's :class:`Context` (built once per app by ``create_app``)."""
    return cast(Context, request.app.state.context)


def get_clock(request: Request) -> Clock:
    """The application's clock (the wall clock, unless a test gave another)."""
    return cast(Clock, request.app.state.clock)


ContextDep = Annotated[Context, Depends(get_context)]
ClockDep = Annotated[Clock, Depends(get_clock)]
