"""How fast the advance flow sends due emails, against what bounds it and against a naive Prefect flow.

    python benchmarks/throughput.py --backend sqlite|postgresql --steps N [--database-url URL]
                                    [--connections C] [--relay-latency-ms L]

In one run:

1. an SMTP sink (aiosmtpd, accepting and counting every message) starts in its own process; with
   ``--relay-latency-ms L`` it answers each final dot after L ms, as a real relay does (other
   connections go on meanwhile), so that sending is bound by the relay and the connections;
2. the **floor**: the same work with no database and no Prefect, in a tight loop: the template
   variables of each lead, the same templates rendered, the same messages built and sent over the
   same number of SMTP connections to the same sink (N messages: half before step 3, half after);
3. **end to end**: N leads are seeded (their nurture day-1 email due) and one real advance flow run
   (``advance-cadences``: Prefect, claims and records in the database, rendering, sending) sends them all;
4. the **baseline** a user would write without cadence: one Prefect task per email (as the
   prefect-email collection does: a new SMTP connection per message), on min(N, 2000) other leads;
5. one JSON line, last on stdout.

The database is one of our own (a temporary SQLite file, or a database created on the PostgreSQL
server of ``--database-url`` and dropped at the end). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import smtplib
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MONDAY,
    SEND,
    SinkProcess,
    count_task_runs,
    database,
    flow_environment,
    isolate_environment,
    log,
    peak_rss_mb,
    seed_due_leads,
)

TEMPLATE = "email/introduction"  # nurture's day-1 email


# -- 2. The floor -----------------------------------------------------------------------------------


def floor_lead(i: int, owner: Any) -> Any:
    """Lead ``i`` as the e2e run reads it from the database (same fields, same owner), without a database."""
    return SimpleNamespace(
        id=i, email=f"floor{i}@acme.example", first_name=f"Floor{i}", last_name="Tester", title="VP Engineering",
        company="Acme", industry="Software", company_size=500, phone=None, linkedin_url=None,
        address_line1="1 Main St", address_line2=None, city="New York", region=None, postal_code="10001",
        country="US", timezone="America/New_York", source="webinar", interactions=3, custom={}, lead_class="A",
        owner=owner, owner_id=1, priority=1, why_now=None, topic=None,
        reference=f"floor{i}@acme.example", label=f"Floor{i} Tester",
    )  # fmt: skip


def floor_item(ctx: Any, i: int, cadence: Any, owner: Any) -> Any:
    """Floor email ``i`` as the e2e run holds it for a lead (a claimed step), without a database."""
    from cadence.services.advance.compose import work_item
    from cadence.services.claims import Claim

    claim = Claim(touch_id=i + 1, enrollment_id=i + 1, lead_id=i, step_index=0, due_at=SEND)
    return work_item(ctx, claim, floor_lead(i, owner), cadence, now=SEND, template=TEMPLATE)


async def measure_floor(ctx: Any, count: int) -> tuple[float, float]:
    """Messages per second of render + build + send alone, over the configured SMTP connections, and CPU s each.

    Each connection's loop renders, builds and sends its next message (as the engine's consumers
    send, without the database's writes around each one).
    """
    from cadence.adapters.mail import SmtpSender
    from cadence.services.advance import smtp_config
    from cadence.services.advance.compose import build

    cadence = ctx.cadence("nurture")
    owner = SimpleNamespace(name="Rita Alvarez", email="rita@cadence.example", signature="Rita | Acme Sales",
                            timezone="America/New_York", daily_email_cap=None)  # fmt: skip
    config = smtp_config(ctx)
    build(ctx, floor_item(ctx, 0, cadence, owner), now=SEND)  # compile
    next_index = iter(range(count))

    async def worker(sender: SmtpSender) -> None:
        for i in next_index:
            built = build(ctx, floor_item(ctx, i, cadence, owner), now=SEND)
            await sender.send(built.data, sender=owner.email, recipient=floor_lead(i, owner).email)

    started, cpu = time.perf_counter(), time.process_time()
    async with SmtpSender(config) as sender:
        await asyncio.gather(*(worker(sender) for _ in range(config.connections)))
    return count / (time.perf_counter() - started), (time.process_time() - cpu) / count


def combined_rate(runs: list[tuple[int, float, float]]) -> float:
    """Messages per second over several runs of (messages, rate, CPU): all messages over all their time."""
    return sum(n for n, _, _ in runs) / sum(n / rate for n, rate, _ in runs)


def mean_cpu(runs: list[tuple[int, float, float]]) -> float:
    """CPU seconds per message over several runs of (messages, rate, CPU seconds per message)."""
    return sum(n * cpu for n, _, cpu in runs) / sum(n for n, _, _ in runs)


# -- 3. End to end --------------------------------------------------------------------------------------


def run_advance(batch_size: int) -> tuple[dict[str, Any], float, float, Any]:
    """One advance flow run over everything due at SEND: (its report, seconds, CPU seconds, flow run id)."""
    from flows.advance import advance_cadences

    started, cpu = time.perf_counter(), time.process_time()
    state = asyncio.run(advance_cadences(now=SEND, batch_size=batch_size, return_state=True))  # type: ignore[call-overload]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    report: dict[str, Any] = state.result()
    return report, elapsed, cpu, state.state_details.flow_run_id


# -- 4. The baseline: one Prefect task per email ---------------------------------------------------------


def make_baseline_flow(workers: int) -> Any:
    """A flow as a user would write it with Prefect alone: read what is due, submit one task per email."""
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner
    from sqlalchemy import select

    from cadence.adapters.mail import build_message
    from cadence.adapters.models import Enrollment, Touch
    from cadence.services.advance import template_variables, templates_for
    from cadence.services.cadence_versions import pinned_cadence
    from cadence.services.claims import advance
    from flows.advance import flow_context

    @task(name="send-email")
    def send_email(enrollment_id: int) -> str:
        """Render, send over a new SMTP connection (as prefect-email's email_send_message), record."""
        ctx = flow_context()
        settings = ctx.settings
        with ctx.sessions() as session, session.begin():
            enrollment = session.get_one(Enrollment, enrollment_id)
            lead = enrollment.lead
            cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
            step = cadence.steps[enrollment.next_step]
            template = step.templates[0]
            rendered = templates_for(ctx).render_email(template, template_variables(ctx, lead, cadence, 0, now=SEND))
            touch = Touch(enrollment_id=enrollment.id, lead_id=lead.id, step_index=enrollment.next_step, day=step.day,
                          channel="email", template=template, state="sending", due_at=SEND, attempts=1,
                          executed_at=SEND)  # fmt: skip
            session.add(touch)
            session.flush()
            message_id = f"<b.{touch.id}@{settings.mail_domain}>"
            message = build_message(
                from_name=lead.owner.name, from_address=lead.owner.email, to_address=lead.email,
                to_name=f"{lead.first_name} {lead.last_name}", subject=rendered.subject, text=rendered.text,
                html=rendered.html, message_id=message_id, date=SEND, reply_to=lead.owner.email,
                headers={"X-Cadence-Touch": f"b{touch.id}"},
            )  # fmt: skip
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as server:
                server.send_message(message)
            touch.state = "sent"
            touch.message_id = message_id
            advance(enrollment, cadence, at=SEND, settings=settings, grace_days=settings.reply_grace_days)
        return message_id

    @flow(name="baseline-one-task-per-email", task_runner=ThreadPoolTaskRunner(max_workers=workers))
    def baseline() -> int:
        ctx = flow_context()
        with ctx.sessions() as session:
            due = session.scalars(
                select(Enrollment.id).where(Enrollment.state == "active", Enrollment.next_due_at <= SEND)
            ).all()
        futures = [send_email.submit(enrollment_id) for enrollment_id in due]
        return sum(1 for f in futures if f.result())

    return baseline


# -- Main -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--steps", type=int, default=20_000, help="due email steps for the end-to-end run")
    parser.add_argument("--database-url", help="PostgreSQL server to create the benchmark database on")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections (CADENCE_SMTP_CONNECTIONS)")
    parser.add_argument(
        "--relay-latency-ms", type=float, default=0.0, help="the sink answers each final dot after L ms"
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="due steps per batch (one Prefect task run)")
    parser.add_argument("--baseline-steps", type=int, default=2000, help="at most this many for the baseline")
    parser.add_argument("--baseline-workers", type=int, default=4, help="threads of the baseline's task runner")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args(argv)
    if args.relay_latency_ms < 0 or args.connections < 1:
        parser.error("--relay-latency-ms must be 0 or more and --connections at least 1")
    isolate_environment()

    from prefect.testing.utilities import prefect_test_harness

    from cadence.services.context import Context
    from cadence.settings import Settings

    result: dict[str, Any] = {"backend": args.backend, "steps": args.steps}
    with SinkProcess(latency_ms=args.relay_latency_ms) as sink, database(args.backend, args.database_url) as url:
        flow_environment(url, sink.port, connections=args.connections, batch_size=args.batch_size)
        log(f"SMTP sink on port {sink.port}; database {url.split('@')[-1]}")
        with prefect_test_harness(server_startup_timeout=120):
            ctx = Context(Settings())
            # 2. The floor over N/2 messages: a quarter before the end-to-end run and a quarter after, so
            # that a change in the machine's load during the run (it may be shared) weighs on all alike.
            load_before = os.getloadavg()[0]
            quarter = max(1, args.steps // 4)
            floors: dict[str, list[tuple[int, float, float]]] = {"one_process": []}

            def measure_floors(when: str, order: list[str]) -> None:
                for way in order:
                    sink.reset()
                    rate, cpu = asyncio.run(measure_floor(ctx, quarter))
                    stats = sink.stats()
                    assert stats["messages"] == quarter, stats
                    floors[way].append((quarter, rate, cpu))
                    log(f"floor {way.replace('_', ' ')} ({when}): {rate:.0f} emails/s "
                        f"({stats['bytes'] / stats['messages']:.0f} bytes each)")  # fmt: skip
                sink.reset()

            measure_floors("before", ["one_process"])
            # 3. End to end.
            seeded = seed_due_leads(ctx, args.steps, prefix="lead", now=MONDAY)
            log(f"seeded {seeded.leads} due leads in {seeded.seconds:.1f}s")
            report, elapsed, e2e_cpu, flow_run_id = run_advance(args.batch_size)
            load_after = os.getloadavg()[0]
            rss = peak_rss_mb()
            stats = sink.wait_for(args.steps)
            e2e = report["emails_sent"] / elapsed
            log(f"end to end: {report['emails_sent']} sent in {elapsed:.1f}s = {e2e:.0f} emails/s; "
                f"{report['batches']} batches; sink {stats}")  # fmt: skip
            if report["emails_sent"] != args.steps or stats["messages"] != args.steps or stats["duplicate_touches"]:
                raise SystemExit(f"the run did not send each email exactly once: {report} {stats}")
            task_runs = asyncio.run(count_task_runs(flow_run_id))
            measure_floors("after", ["one_process"])
            rates = {way: combined_rate(runs) for way, runs in floors.items()}
            floor = max(rates.values())
            result.update(e2e_per_s=round(e2e, 1), floor_per_s=round(floor, 1), ratio=round(e2e / floor, 3))
            log(f"one runner: {e2e:.1f} emails/s beside the floor's {floor:.1f} ({e2e / floor:.2f}x) over "
                f"{args.connections} connections, relay answering after {args.relay_latency_ms:g} ms")  # fmt: skip
            # 4. The baseline.
            baseline_rate: float | None = None
            if not args.skip_baseline:
                count = min(args.steps, args.baseline_steps)
                sink.reset()
                seed_due_leads(ctx, count, prefix="base", now=MONDAY)
                started = time.perf_counter()
                sent = make_baseline_flow(args.baseline_workers)()
                baseline_elapsed = time.perf_counter() - started
                baseline_rate = sent / baseline_elapsed
                log(f"baseline: {sent} sent in {baseline_elapsed:.1f}s = {baseline_rate:.1f} emails/s; "
                    f"sink {sink.stats()}")  # fmt: skip
            ctx.close()
    result.update(
        baseline_per_s=round(baseline_rate, 1) if baseline_rate else None,
        speedup_vs_baseline=round(e2e / baseline_rate, 1) if baseline_rate else None,
        peak_rss_mb=round(rss, 1),
        prefect_task_runs=task_runs,
        batch_size=args.batch_size,
        smtp_connections=args.connections,
        connections=args.connections,
        relay_latency_ms=args.relay_latency_ms,
        floors_per_s={way: round(rate, 1) for way, rate in rates.items()},
        floor_quarters_per_s={way: [round(rate, 1) for _, rate, _ in runs] for way, runs in floors.items()},
        floor_cpu_ms_per_email={way: round(mean_cpu(runs) * 1000, 2) for way, runs in floors.items()},
        e2e_cpu_ms_per_email=round(e2e_cpu / max(1, report["emails_sent"]) * 1000, 2),
        cpus=os.cpu_count(),
        load_avg_1m=[round(load_before, 1), round(load_after, 1)],
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
