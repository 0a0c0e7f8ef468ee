"""The speed-to-lead section: time from enrollment to the first touch, p50 and p90, by source, class and owner.

The first touch is the enrollment's first email sent or contact task done
(:func:`cadence.services.first_touch.first_touches`); times are elapsed minutes, nights and
weekends included, as a lead waits them (the SLA itself counts business minutes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.services.reports.scope import Scope


def first_touch(session: Session, scope: Scope) -> dict[str, Any]:
    """Time to first touch of the period's enrollments: overall and by source, class and owner."""
    from cadence.services.first_touch import Enrolled, summarize  # it reads this package's rules: imported late

    f = scope.facts.c
    rows = session.execute(select(f.enrollment_id, f.enrolled_at, f.source, f.lead_class, f.owner_id)).all()
    return summarize(
        session, [Enrolled(r.enrollment_id, r.enrolled_at, r.source, r.lead_class, r.owner_id) for r in rows]
    )
