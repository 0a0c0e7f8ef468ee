"""Speed to lead, the pure part: business minutes, a first-touch deadline, percentiles.

The clock of a lead's first touch starts when it is enrolled and stops at its first email sent or
its first call, LinkedIn or email task done (not skipped). The first-touch SLA of a class
(``first_touch_minutes`` in ``qualification.yaml``) counts business minutes: only time inside the
lead's send window on its open days (business days, holidays), as its cadence defines them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from cadence.core.schedule import LeadCalendar, add_business_hours, local_instant

_MAX_DAYS = 400


def deadline(calendar: LeadCalendar, start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` business minutes after ``start`` (a start outside the window counts from its opening)."""
    return add_business_hours(calendar, start, minutes / 60)


def business_minutes(calendar: LeadCalendar, start: datetime, end: datetime) -> float:
    """The business minutes between ``start`` and ``end`` (0 when ``end`` is not after ``start``)."""
    total = timedelta(0)
    at = calendar.next_slot(start)
    for _ in range(_MAX_DAYS):
        if at >= end:
            break
        closes = local_instant(calendar.local_date(at), calendar.settings.window_end, calendar.tz)
        total += min(closes, end) - at
        at = calendar.next_slot(closes)
    return total.total_seconds() / 60


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0.5 is the median, 0.9 the p90) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
