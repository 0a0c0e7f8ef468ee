"""Speed to lead: business minutes, the first-touch SLA per class, its escalation, and time to first touch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from cadence.adapters.files import load_rules
from cadence.adapters.mail import SmtpConfig, SmtpSender
from cadence.adapters.models import Enrollment, Lead, Task, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.cadences import CadenceSettings
from cadence.core.first_touch import business_minutes, deadline, percentile
from cadence.core.qualification import parse_rules
from cadence.core.schedule import LeadCalendar
from cadence.errors import ConfigurationError
from cadence.services.context import Context
from cadence.services.first_touch import SlaReport, check_first_touch
from cadence.services.reports import build_report
from cadence.services.reports.render import render_csv, render_text
from cadence.services.reps import add_rep
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.flows.conftest import lead_row, seed

NEW_YORK = LeadCalendar.for_lead(CadenceSettings(), "America/New_York", "US")
MONDAY_9 = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
FRIDAY_16 = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # Friday 16:00 in New York


def test_business_minutes_count_only_the_send_window_of_open_days() -> None:
    assert business_minutes(NEW_YORK, MONDAY_9, MONDAY_9 + timedelta(minutes=45)) == 45
    # Friday 16:00 to Monday 09:00: one hour on Friday (window ends at 17:00), one on Monday.
    assert business_minutes(NEW_YORK, FRIDAY_16, FRIDAY_16 + timedelta(days=2, hours=17)) == 120
    assert business_minutes(NEW_YORK, MONDAY_9, MONDAY_9 - timedelta(hours=1)) == 0


def test_a_deadline_is_that_many_business_minutes_later() -> None:
    assert deadline(NEW_YORK, MONDAY_9, 30) == MONDAY_9 + timedelta(minutes=30)
    assert deadline(NEW_YORK, FRIDAY_16, 120) == FRIDAY_16 + timedelta(days=2, hours=17)  # Monday 09:00
    saturday = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    assert deadline(NEW_YORK, saturday, 30) == datetime(2026, 12, 7, 13, 30, tzinfo=UTC)  # Monday 08:30


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert (percentile(values, 0.5), percentile(values, 0.9)) == (5.0, 9.0)
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


def test_the_shipped_classes_have_a_first_touch_sla() -> None:
    rules = load_rules(TEMPLATES)
    assert rules.first_touch_minutes("inbound") == 30
    assert rules.first_touch_minutes("A") == 1200
    assert rules.first_touch_minutes("C") is None
    assert rules.first_touch_minutes(None) is None


@pytest.mark.parametrize(("value", "said"), [(0, "at least 1"), ("fast", "whole number"), (10**7, "at most")])
def test_a_first_touch_sla_that_is_not_a_number_of_minutes_is_refused(value: object, said: str) -> None:
    data = yaml.safe_load((TEMPLATES / "qualification.yaml").read_text())
    data["classes"][0]["first_touch_minutes"] = value
    with pytest.raises(ConfigurationError, match=said):
        parse_rules(data)


def _sla_ctx(database_url: str, smtp_sink: SmtpSink, tmp_path: Path, *, reassign: bool) -> Context:
    return Context(
        Settings(
            database_url=database_url,
            templates_dir=TEMPLATES,
            default_timezone="UTC",
            manager_email="boss@cadence.example",
            first_touch_reassign=reassign,
            smtp_host=smtp_sink.host,
            smtp_port=smtp_sink.port,
        )
    )


def _check(ctx: Context, smtp_sink: SmtpSink, now: datetime) -> SlaReport:
    async def go() -> SlaReport:
        async with SmtpSender(SmtpConfig(host=smtp_sink.host, port=smtp_sink.port, connections=1)) as sender:
            return await check_first_touch(ctx, sender, now=now)

    return asyncio.run(go())


def test_an_inbound_lead_not_touched_in_time_is_escalated_once_and_reassigned(
    database_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    ctx = _sla_ctx(database_url, smtp_sink, tmp_path, reassign=True)
    try:
        seed(ctx, [lead_row(0, source="contact_request"), lead_row(1, source="contact_request")], now=MONDAY_9)
        with ctx.sessions() as s, s.begin():
            add_rep(s, "sam@cadence.example", "Sam", now=MONDAY_9)
            # lead1's owner called at once (a voicemail): touched in time.
            s.add(Task(lead_id=2, owner_id=1, enrollment_id=2, channel="call", title="Call", due_at=MONDAY_9,
                       priority=0, status="done", outcome="voicemail", created_at=MONDAY_9,
                       completed_at=MONDAY_9 + timedelta(minutes=10)))  # fmt: skip
            s.add(Task(lead_id=1, owner_id=1, enrollment_id=1, channel="call", title="Call", due_at=MONDAY_9,
                       priority=0, status="open", created_at=MONDAY_9))  # fmt: skip
        assert _check(ctx, smtp_sink, MONDAY_9 + timedelta(minutes=29)).breaches == []  # not late yet
        report = _check(ctx, smtp_sink, MONDAY_9 + timedelta(minutes=31))
        assert [b.email for b in report.breaches] == ["lead0@acme.example"]
        assert report.reassigned == {"lead0@acme.example": "sam@cadence.example"}
        [mail] = smtp_sink.messages()
        assert mail["To"] == "Manager <boss@cadence.example>"
        assert mail["Subject"] == "First touch late: 1 lead"
        part = mail.get_body(preferencelist=("plain",))
        assert part is not None
        body = part.get_content()
        assert "lead0@acme.example" in body
        assert "now reassigned to sam@cadence.example" in body
        with ctx.sessions() as s:
            lead = s.scalars(sa.select(Lead).where(Lead.email == "lead0@acme.example")).one()
            assert lead.owner is not None
            assert lead.owner.email == "sam@cadence.example"
            owners = set(s.scalars(sa.select(Task.owner_id).where(Task.lead_id == lead.id, Task.status == "open")))
            assert owners == {lead.owner_id}  # its open call moved with it
        assert _check(ctx, smtp_sink, MONDAY_9 + timedelta(hours=3)).breaches == []  # once
        assert len(smtp_sink.messages()) == 1
    finally:
        ctx.close()


def test_a_lead_enrolled_after_hours_is_late_only_after_the_window_opens(
    database_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    ctx = _sla_ctx(database_url, smtp_sink, tmp_path, reassign=False)
    try:
        seed(ctx, [lead_row(0, source="contact_request")], now=FRIDAY_16 + timedelta(hours=2))  # Friday 18:00
        monday_8 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)  # the inbound window opens at 08:00 in New York
        assert _check(ctx, smtp_sink, monday_8 + timedelta(minutes=29)).breaches == []
        report = _check(ctx, smtp_sink, monday_8 + timedelta(minutes=30))
        assert [b.email for b in report.breaches] == ["lead0@acme.example"]
        assert report.reassigned == {}
        with ctx.sessions() as s:
            assert s.scalars(sa.select(Enrollment.first_touch_breached_at)).one() == monday_8 + timedelta(minutes=30)
    finally:
        ctx.close()


def test_time_to_first_touch_is_reported_by_source_class_and_owner(ctx: Context) -> None:
    seed(ctx, [lead_row(i, source="webinar" if i < 3 else "form_fill") for i in range(4)], now=MONDAY_9)
    with ctx.sessions() as s, s.begin():
        for enrollment_id, minutes in ((1, 10), (2, 20), (3, 600)):
            s.add(Touch(enrollment_id=enrollment_id, lead_id=enrollment_id, step_index=1, day=2, channel="email",
                        state="sent", due_at=MONDAY_9, executed_at=MONDAY_9 + timedelta(minutes=minutes)))  # fmt: skip
    with ctx.sessions() as s:
        report = build_report(s, since=None, until=None, now=MONDAY_9 + timedelta(days=2))
        s.rollback()
    speed = report["first_touch"]
    assert speed["overall"] == {"all": "all", "leads": 4, "touched": 3, "not_touched": 1, "p50_minutes": 20.0,
                                "p90_minutes": 600.0}  # fmt: skip
    assert [(r["source"], r["touched"], r["p50_minutes"]) for r in speed["by_source"]] == [
        ("form_fill", 0, None),
        ("webinar", 3, 20.0),
    ]
    assert [r["owner"] for r in speed["by_owner"]] == ["rita@cadence.example"]
    assert "Time to first touch" in render_text(report)
    assert "first_touch_by_source,webinar,p90_minutes,600.0" in render_csv(report)
