"""Decisions racing advance runs on PostgreSQL: no email goes out after its lead's decision."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cadence.adapters.models import Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.decisions import Outcome
from cadence.services import advance as advance_module
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead
from cadence.services.suppression import suppress
from cadence.settings import Settings
from tests.conftest import TEMPLATES, _truncate_postgresql
from tests.flows.conftest import lead_row, seed

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
SEND = MONDAY + timedelta(days=1, hours=1)
ROUNDS = 12
LEADS_PER_ROUND = 30


def race_round(ctx: Context, emails: list[str], rng: random.Random, decided_at: dict[str, float]) -> int:
    """One advance run with decisions landing at random moments; returns how many landed mid-run."""
    deciders = Context(ctx.settings)  # the deciding side has its own connections
    running = threading.Event()
    finished = threading.Event()
    races = 0

    def run_advance() -> None:
        running.set()
        asyncio.run(run_until_idle(ctx, now=SEND, batch_size=4))
        finished.set()

    def decide_some(targets: list[str]) -> None:
        nonlocal races
        running.wait()
        for email in targets:
            time.sleep(rng.uniform(0, 0.01))
            with deciders.sessions() as s, s.begin():
                lead = get_lead(s, email)
                if rng.random() < 0.5:
                    decide(s, lead, Outcome.NOT_INTERESTED, now=SEND, reason="race")
                else:
                    suppress(s, email, now=SEND, reason="unsubscribed (race)")
                    decide(s, lead, Outcome.UNSUBSCRIBED, now=SEND, reason="race")
            decided_at[email] = time.monotonic()
            if not finished.is_set():
                races += 1

    targets = rng.sample(emails, len(emails) // 2)
    worker = threading.Thread(target=run_advance)
    decider = threading.Thread(target=decide_some, args=(targets,))
    worker.start()
    decider.start()
    worker.join(timeout=120)
    decider.join(timeout=120)
    deciders.close()
    return races


@pytest.fixture
def race_ctx(postgresql_database: str, smtp_sink: SmtpSink) -> Iterator[Context]:
    _truncate_postgresql(postgresql_database)
    settings = Settings(
        database_url=postgresql_database,
        templates_dir=TEMPLATES,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        smtp_connections=3,
    )
    ctx = Context(settings)
    yield ctx
    ctx.close()


def test_no_email_is_sent_after_a_decision_committed_during_a_run(
    race_ctx: Context, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = race_ctx
    marked_at: dict[int, float] = {}  # enrollment id -> when the wave that sent it began its check
    original = advance_module._still_active

    def recording(session, enrollment_ids):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        for enrollment_id in enrollment_ids:
            marked_at[enrollment_id] = started
        return original(session, enrollment_ids)

    monkeypatch.setattr(advance_module, "_still_active", recording)
    rng = random.Random(20261123)
    decided_at: dict[str, float] = {}
    races = 0
    for round_no in range(ROUNDS):
        emails = [f"r{round_no}-{i}@acme.example" for i in range(LEADS_PER_ROUND)]
        rows = [lead_row(i, email=email) for i, email in enumerate(emails)]
        with ctx.sessions() as s, s.begin():
            if round_no == 0:
                seed(ctx, rows, now=MONDAY, cadence="nurture")
            else:
                from cadence.services.leads import import_leads

                import_leads(s, rows, now=MONDAY, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                             cadence_override="nurture")  # fmt: skip
        races += race_round(ctx, emails, rng, decided_at)

    sent_after_decision = 0
    with ctx.sessions() as s:
        rows = s.execute(select(Touch.enrollment_id, Touch.lead_id, Touch.state).where(Touch.channel == "email")).all()
        from cadence.adapters.models import Lead

        emails_by_lead = dict(s.execute(select(Lead.id, Lead.email)).tuples().all())
    received = {str(m["To"]).split("<")[-1].rstrip(">") for m in smtp_sink.messages()}
    for enrollment_id, lead_id, state in rows:
        email = emails_by_lead[lead_id]
        # A decision committed before the wave's check began must have stopped this send.
        sent = state in ("sent", "sending", "uncertain")
        if sent and email in decided_at and decided_at[email] < marked_at[enrollment_id]:
            sent_after_decision += 1
    decided_and_received = sum(1 for email in decided_at if email in received)
    print(
        f"races={races} decisions={len(decided_at)} received={len(received)} "
        f"decided_but_sent_before={decided_and_received} sent_after_decision={sent_after_decision}"
    )
    assert races >= ROUNDS * 5  # the decisions really did land while runs were under way
    assert sent_after_decision == 0
    # Every lead not decided got its email exactly once.
    undecided = {f"r{r}-{i}@acme.example" for r in range(ROUNDS) for i in range(LEADS_PER_ROUND)} - set(decided_at)
    assert undecided <= received
    assert len(smtp_sink.messages()) == len(received)
