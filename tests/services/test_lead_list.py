"""The leads list reads one page at a time: order, keyset pages, filters, the start of the address, a capped count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cadence.adapters.models import Lead
from cadence.services import lead_list
from cadence.services.context import Context
from cadence.services.lead_list import lead_page

NOW = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def _leads(ctx: Context, count: int, *, phone_only: bool = False) -> list[tuple[int | None, str]]:
    """``count`` leads, priorities 1-3 and some without; their (priority, email) in the list's order.

    ``phone_only``: every fifth has no address (``~ID`` stands for it: after every address, by id)."""
    rows = []
    with ctx.sessions() as s, s.begin():
        for i in range(count):
            priority = None if i % 7 == 0 else 1 + i % 3
            email = f"p{i:03d}@{'acme' if i % 2 else 'initech'}.example"
            if phone_only and i % 5 == 0:  # a colleague known by phone only: no address
                lead = Lead(email=None, phone=f"+1212555{i:04d}", kind="lead", status="active", source_rank=1,
                            priority=priority, created_at=NOW, updated_at=NOW)  # fmt: skip
                s.add(lead)
                s.flush()
                rows.append((priority, f"~{lead.id:09d}", "active"))
                continue
            status = "active" if i % 4 else "decided"
            s.add(Lead(email=email, kind="lead", status=status, source_rank=1, priority=priority,
                       created_at=NOW, updated_at=NOW))  # fmt: skip
            rows.append((priority, email, status))
    ordered = sorted(rows, key=lambda r: (r[0] is None, r[0] or 0, r[1]))
    return [(p, e) for p, e, _ in ordered]


@pytest.mark.parametrize("phone_only", [False, True], ids=["addresses", "some-by-phone-only"])
def test_the_pages_follow_one_another_in_priority_then_address_order_nulls_last(ctx: Context, phone_only: bool) -> None:
    expected = [email for _, email in _leads(ctx, 57, phone_only=phone_only)]
    seen: list[str] = []
    after = None
    with ctx.sessions() as s:
        while True:
            page = lead_page(s, after=after, size=10)
            seen += [row["email"] or f"~{row['id']:09d}" for row in page.rows]
            assert page.total == 57
            if page.next_after is None:
                break
            after = page.next_after
    assert seen == expected


def test_filters_and_the_start_of_the_address_narrow_the_page_and_its_count(ctx: Context) -> None:
    _leads(ctx, 40)
    with ctx.sessions() as s:
        decided = lead_page(s, status="decided", size=100)
        search = lead_page(s, search="  P01", size=100)
        nothing = lead_page(s, search="p0%", size=100)  # a LIKE wildcard is a character here
    assert decided.total == 10
    assert {row["status"] for row in decided.rows} == {"decided"}
    assert sorted(row["email"] for row in search.rows) == sorted(
        f"p{i:03d}@{'acme' if i % 2 else 'initech'}.example" for i in range(10, 20)
    )
    assert nothing.rows == []


def test_the_count_stops_at_the_cap(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    _leads(ctx, 30)
    monkeypatch.setattr(lead_list, "COUNT_CAP", 25)
    with ctx.sessions() as s:
        page = lead_page(s, size=5)
    assert (page.total, page.capped, len(page.rows)) == (25, True, 5)
