"""Build a realistic tenant: N leads over three years, with their accounts, touches, tasks, replies and decisions.

    python benchmarks/tenant.py --leads 1000000 [--backend postgresql|sqlite] [--database-url URL] [--keep]

The rows are those the real code writes. First a small real run: the demo's sample people are
imported through the real import (accounts, qualification, owners, enrollment) and the advance
engine runs their cadences on a simulated clock (emails to an in-process SMTP sink, the demo's
scripted replies, decisions and rep outcomes). Each of its finished leads is a *history*: its lead,
account, enrollments, touches, tasks, responses, decisions, stage changes, answers and audit
entries. The tenant is made of copies of these histories, shifted in time so that the leads arrive
evenly over three years up to :data:`NOW`; ids, addresses, message ids, owners (50 reps) and
accounts (about four contacts each) are rewritten. A history still under way at ``NOW`` is cut
there: what had not happened yet is left out, and its enrollment is active with its next step due
(the last day's due work, and open tasks).

PostgreSQL is loaded with ``COPY`` (psycopg 3's ``cursor.copy()``), SQLite with ``executemany`` in
big transactions. Other benchmarks reuse :func:`build` (``from tenant import build``). The last line
on stdout is one JSON object: rows per table, build seconds, database size, and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TEMPLATES, database, isolate_environment, log

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
"""The tenant's present (a Monday, 09:00 in New York): histories are cut here."""
YEARS = 3
REPS = 50
CONTACTS_PER_ACCOUNT = 4
SAMPLE_DAYS = 35
"""How long the sample run's clock runs: every sample cadence has ended by then."""

# In foreign-key order: a table's rows are written after those they point at.
TABLES = (
    "reps",
    "cadence_versions",
    "accounts",
    "leads",
    "enrollments",
    "touches",
    "tasks",
    "responses",
    "decisions",
    "stage_changes",
    "qualifying_answers",
    "audit_log",
)
PER_LEAD = TABLES[3:-1]
OPEN_STATES = ("active", "paused", "responded")


@dataclass
class History:
    """One lead of the sample run and every row about it, by table."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def lead(self) -> dict[str, Any]:
        """The lead's row."""
        return self.rows["leads"][0]


@dataclass
class Sample:
    """What the sample run wrote: the shared rows (reps, cadence versions) and each finished lead's history."""

    reps: list[dict[str, Any]]
    cadence_versions: list[dict[str, Any]]
    histories: list[History]


# -- The small real run ----------------------------------------------------------------------------------


def sample_run(templates: Path = TEMPLATES) -> Sample:
    """Run the demo's story through the real code (no Prefect) in a throwaway SQLite database; read its rows."""
    import sqlalchemy as sa

    from cadence.adapters.models import Base
    from cadence.adapters.smtp_sink import SmtpSink
    from cadence.demo import DEMO_START, prepare
    from cadence.services.advance.loop import next_due, run_until_idle
    from cadence.services.context import Context
    from cadence.services.simulation import demo_scenario
    from cadence.settings import Settings

    with tempfile.TemporaryDirectory(prefix="cadence-tenant-sample-") as folder:
        first = prepare(Path(folder) / "demo", templates)
        url = first.settings.database_url
        first.close()
        sink = SmtpSink().start()
        try:
            settings = Settings(database_url=url, templates_dir=templates, smtp_host=sink.host, smtp_port=sink.port)
            ctx = Context(settings)
            events = demo_scenario(ctx, DEMO_START)
            clock, end = DEMO_START, DEMO_START + timedelta(days=SAMPLE_DAYS)
            while clock <= end:
                events.play_until(clock)
                asyncio.run(run_until_idle(ctx, now=clock))
                following = clock + timedelta(hours=6)
                upcoming = next_due(ctx)
                if upcoming is not None and clock < upcoming < following:
                    following = upcoming
                clock = events.next_before(following, after=clock)
        finally:
            sink.stop()
        tables = Base.metadata.tables
        with ctx.engine.connect() as conn:
            rows = {name: [dict(r) for r in conn.execute(sa.select(tables[name])).mappings()] for name in TABLES}
        ctx.close()
    return _histories(rows)


def _histories(rows: dict[str, list[dict[str, Any]]]) -> Sample:
    """Split the sample run's rows into one history per lead (leads with a cadence still open are left out)."""
    open_leads = {e["lead_id"] for e in rows["enrollments"] if e["state"] in OPEN_STATES}
    accounts = {a["id"]: a for a in rows["accounts"]}
    histories = []
    for lead in sorted(rows["leads"], key=lambda r: r["id"]):
        if lead["id"] in open_leads:
            continue
        history = History({"leads": [lead]})
        history.rows["accounts"] = [accounts[lead["account_id"]]] if lead["account_id"] in accounts else []
        for name in PER_LEAD[1:]:
            history.rows[name] = sorted((r for r in rows[name] if r["lead_id"] == lead["id"]), key=lambda r: r["id"])
        history.rows["audit_log"] = [r for r in rows["audit_log"] if r["subject"] == lead["email"]]
        histories.append(history)
    return Sample(rows["reps"], rows["cadence_versions"], histories)


# -- Copies of the histories --------------------------------------------------------------------------------


class Ids:
    """The next id of each table (ids are given here, so that rows can point at each other before they are written)."""

    def __init__(self) -> None:
        self._next = dict.fromkeys(TABLES, 1)

    def take(self, table: str) -> int:
        """A new id in ``table``."""
        value = self._next[table]
        self._next[table] = value + 1
        return value


def _shifted(row: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    """A copy of ``row`` with every instant moved by ``delta`` (dates stay: they are named by people)."""
    return {k: (v + delta if isinstance(v, datetime) else v) for k, v in row.items()}


def _after(value: datetime | None, cut: datetime) -> bool:
    return value is not None and value > cut


def copy_history(
    history: History, index: int, arrival: datetime, ids: Ids, *, cut: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Lead number ``index`` of the tenant: ``history`` moved to arrive at ``arrival``, cut at ``cut``."""
    delta = arrival - history.lead["created_at"]
    rows = {
        name: [_shifted(r, delta) for r in history.rows.get(name, [])] for name in ("accounts", *PER_LEAD, "audit_log")
    }
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    account_number = index // CONTACTS_PER_ACCOUNT
    owner = account_number % REPS + 1
    domain = f"co{account_number}.example"
    lead = rows["leads"][0]
    old_email = lead["email"]
    email = f"{(lead['first_name'] or 'p').lower()}.{index}@{domain}"
    lead_id = ids.take("leads")
    if index % CONTACTS_PER_ACCOUNT == 0 or index == 0:
        template = rows["accounts"][0] if rows["accounts"] else {}
        out["accounts"].append(
            {
                **template,
                "id": account_number + 1,
                "key": f"domain:{domain}",
                "name": f"Company {account_number}",
                "domain": domain,
                "name_key": f"company {account_number}",
                "owner_id": owner,
                "merged_into_id": None,
                "created_at": arrival,
            }
        )
    stages = [r for r in rows["stage_changes"] if not _after(r["entered_at"], cut)]
    lead.update(
        id=lead_id,
        email=email,
        company=f"Company {account_number}",
        owner_id=owner if lead["owner_id"] is not None else None,
        home_owner_id=owner if lead["home_owner_id"] is not None else None,
        account_id=account_number + 1 if lead["account_id"] is not None else None,
        referred_by_id=None,
        updated_at=min(lead["updated_at"], cut),
    )
    if len(stages) < len(rows["stage_changes"]):
        lead["stage"] = stages[-1]["stage"] if stages else None
        lead["stage_entered_at"] = stages[-1]["entered_at"] if stages else None
    out["leads"].append(lead)

    touches_of: dict[int, list[dict[str, Any]]] = {}
    for touch in rows["touches"]:
        touches_of.setdefault(touch["enrollment_id"], []).append(touch)
    enrollment_ids: dict[int, int] = {}
    touch_ids: dict[int, int] = {}
    for enrollment in rows["enrollments"]:
        if _after(enrollment["enrolled_at"], cut):
            continue
        old_id = enrollment["id"]
        enrollment_ids[old_id] = enrollment["id"] = ids.take("enrollments")
        enrollment["lead_id"] = lead_id
        enrollment["held_by_lead_id"] = None
        enrollment["mailbox_id"] = None
        steps = sorted(touches_of.get(old_id, []), key=lambda t: t["step_index"])
        done = [t for t in steps if not _after(t["executed_at"] or t["due_at"], cut)]
        if _after(enrollment["ended_at"], cut) or len(done) < len(steps):
            # Under way at the cut: active, its next step due (or its grace period for replies running).
            following = steps[len(done)] if len(done) < len(steps) else None
            enrollment.update(
                state="active",
                ended_at=None,
                next_step=following["step_index"] if following else len(steps),
                next_due_at=following["due_at"] if following else enrollment["ended_at"],
                last_touch_at=done[-1]["executed_at"] if done else None,
                last_touch_day=done[-1]["day"] if done else None,
            )
        out["enrollments"].append(enrollment)
        for touch in done:
            old_touch = touch["id"]
            touch_ids[old_touch] = touch["id"] = ids.take("touches")
            touch["enrollment_id"] = enrollment["id"]
            touch["lead_id"] = lead_id
            touch["mailbox_id"] = None
            if touch["message_id"] is not None:
                touch["message_id"] = f"<c.{touch['id']}.{index:012x}@cadence.example>"
            out["touches"].append(touch)
    if out["enrollments"]:
        lead["status"] = out["enrollments"][-1]["state"]

    task_ids: dict[int, int] = {}
    for task in rows["tasks"]:
        if _after(task["created_at"], cut) or (task["touch_id"] is not None and task["touch_id"] not in touch_ids):
            continue
        if task["enrollment_id"] is not None and task["enrollment_id"] not in enrollment_ids:
            continue
        task_ids[task["id"]] = task["id"] = ids.take("tasks")
        task.update(
            lead_id=lead_id,
            owner_id=owner if task["owner_id"] is not None else None,
            enrollment_id=enrollment_ids.get(task["enrollment_id"]) if task["enrollment_id"] else None,
            touch_id=touch_ids.get(task["touch_id"]) if task["touch_id"] else None,
        )
        if _after(task["completed_at"], cut):
            task.update(status="open", outcome=None, note=None, completed_at=None)
        out["tasks"].append(task)
    for response in rows["responses"]:
        if _after(response["received_at"], cut):
            continue
        response.update(
            id=ids.take("responses"),
            lead_id=lead_id,
            enrollment_id=enrollment_ids.get(response["enrollment_id"]) if response["enrollment_id"] else None,
            touch_id=touch_ids.get(response["touch_id"]) if response["touch_id"] else None,
        )
        out["responses"].append(response)
    decision_ids: dict[int, int] = {}
    for decision in rows["decisions"]:
        if _after(decision["decided_at"], cut):
            continue
        decision_ids[decision["id"]] = decision["id"] = ids.take("decisions")
        decision.update(
            lead_id=lead_id,
            enrollment_id=enrollment_ids.get(decision["enrollment_id"]) if decision["enrollment_id"] else None,
        )
        if decision["decided_by"] == old_email:
            decision["decided_by"] = email
        out["decisions"].append(decision)
    for decision in out["decisions"]:
        superseding = decision_ids.get(decision["superseded_by_id"]) if decision["superseded_by_id"] else None
        if superseding is None:
            decision.update(superseded_at=None, superseded_by_id=None)
        else:
            decision["superseded_by_id"] = superseding
    for change in stages:
        change.update(id=ids.take("stage_changes"), lead_id=lead_id)
        out["stage_changes"].append(change)
    for answer in rows["qualifying_answers"]:
        if _after(answer["answered_at"], cut):
            continue
        answer.update(
            id=ids.take("qualifying_answers"),
            lead_id=lead_id,
            task_id=task_ids.get(answer["task_id"]) if answer["task_id"] else None,
            contact_id=None,
        )
        out["qualifying_answers"].append(answer)
    for entry in rows["audit_log"]:
        if _after(entry["at"], cut):
            continue
        entry.update(id=ids.take("audit_log"), subject=email)
        out["audit_log"].append(entry)
    return out


def tenant_rows(
    sample: Sample, leads: int, *, chunk: int = 10_000, now: datetime = NOW, years: float = YEARS
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The tenant's rows, ``chunk`` leads at a time (the shared rows come with the first chunk).

    The leads arrive evenly over ``years`` before ``now``; what would have happened after the day
    before ``now`` is left out (the last day's steps are due, not done: the day's work).
    """
    ids = Ids()
    cut = now - timedelta(days=1)
    start = cut - timedelta(days=365 * years)
    step = (cut - start) / max(leads, 1)
    rep = sample.reps[0]
    reps = [
        {
            **rep,
            "id": n,
            "email": f"rep{n}@cadence.example",
            "name": f"Rep {n}",
            "created_at": start - timedelta(days=1),
        }
        for n in range(1, REPS + 1)
    ]
    batch: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    batch["reps"] = reps
    batch["cadence_versions"] = [{**v, "created_at": start - timedelta(days=1)} for v in sample.cadence_versions]
    histories = sample.histories
    for index in range(leads):
        history = histories[index % len(histories)]
        rows = copy_history(history, index, start + step * index, ids, cut=cut)
        for name, values in rows.items():
            batch[name].extend(values)
        if (index + 1) % chunk == 0:
            yield batch
            batch = {name: [] for name in TABLES}
    if any(batch.values()):
        yield batch


# -- Writing -----------------------------------------------------------------------------------------------


def _converters(table: Any) -> list[Callable[[Any], Any]]:
    """Per column of ``table``: its Python value as COPY takes it (naive UTC instants, JSON text)."""
    from sqlalchemy import JSON

    from cadence.adapters.models import UTCDateTime

    def instant(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def as_json(value: Any) -> str | None:
        return None if value is None else json.dumps(value)

    def same(value: Any) -> Any:
        return value

    result: list[Callable[[Any], Any]] = []
    for column in table.columns:
        if isinstance(column.type, UTCDateTime):
            result.append(instant)
        elif isinstance(column.type, JSON):
            result.append(as_json)
        else:
            result.append(same)
    return result


def write_postgresql(engine: Any, batch: dict[str, list[dict[str, Any]]]) -> None:
    """Write ``batch`` with one ``COPY`` per table, in one transaction."""
    from cadence.adapters.models import Base

    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            for name in TABLES:
                rows = batch[name]
                if not rows:
                    continue
                table = Base.metadata.tables[name]
                columns = [c.name for c in table.columns]
                convert = list(zip(columns, _converters(table), strict=True))
                quoted = ", ".join(f'"{c}"' for c in columns)
                with cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([f(row.get(c)) for c, f in convert])
        connection.commit()
    finally:
        raw.close()


def write_sqlite(engine: Any, batch: dict[str, list[dict[str, Any]]]) -> None:
    """Write ``batch`` with one ``executemany`` per table, in one transaction."""
    import sqlalchemy as sa

    from cadence.adapters.models import Base

    with engine.begin() as conn:
        for name in TABLES:
            rows = batch[name]
            if rows:
                table = Base.metadata.tables[name]
                columns = [c.name for c in table.columns]
                conn.execute(sa.insert(table), [{c: row.get(c) for c in columns} for row in rows])


@dataclass
class Deferred:
    """The secondary indexes and the unique and foreign-key constraints of the tenant's tables, as SQL to re-create.

    PostgreSQL's advice for populating a database: load first, then build each index in one sort and
    check each foreign key in one join, rather than row by row.
    """

    constraints: list[tuple[str, str, str]]
    indexes: list[str]


def defer_postgresql(engine: Any) -> Deferred:
    """Drop the secondary indexes and constraints of :data:`TABLES` (kept as SQL in the answer)."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        constraints = [
            (table, name, definition)
            for table, name, definition in conn.execute(
                sa.text(
                    "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "WHERE c.conrelid::regclass::text = ANY(:tables) AND c.contype IN ('u', 'f') "
                    "ORDER BY c.contype DESC"  # unique ones first: a foreign key may rest on them
                ),
                {"tables": list(TABLES)},
            ).tuples()
        ]
        indexes = list(
            conn.execute(
                sa.text(
                    "SELECT i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY(:tables) "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
                ),
                {"tables": list(TABLES)},
            ).scalars()
        )
        for table, name, _ in reversed(constraints):
            conn.execute(sa.text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for definition in indexes:
            name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            conn.execute(sa.text(f"DROP INDEX {name}"))
    return Deferred(constraints, indexes)


def restore_postgresql(engine: Any, deferred: Deferred) -> None:
    """Build again what :func:`defer_postgresql` dropped: every index, then every constraint (checked once)."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))
        for definition in deferred.indexes:
            conn.execute(sa.text(definition))
        for table, name, definition in deferred.constraints:
            conn.execute(sa.text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def finish_postgresql(engine: Any) -> None:
    """Move each id sequence past the ids given here, and gather statistics (VACUUM ANALYZE)."""
    import sqlalchemy as sa

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in TABLES:
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {name}), 0) + 1, false)"
                )
            )
            conn.execute(sa.text(f"VACUUM ANALYZE {name}"))


def counts(engine: Any) -> dict[str, int]:
    """Rows per table of the tenant."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        return {name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one() for name in TABLES}


def size_mb(engine: Any) -> float:
    """The database's size on disk, in MiB."""
    import sqlalchemy as sa

    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
    else:
        size = os.path.getsize(engine.url.database)
    return round(size / 2**20, 1)


def build(
    url: str,
    leads: int,
    *,
    chunk: int = 10_000,
    sample: Sample | None = None,
    quiet: bool = False,
    years: float = YEARS,
) -> dict[str, Any]:
    """Fill the empty, migrated cadence database at ``url`` with a tenant of ``leads`` leads; what was built.

    The leads arrive over ``years`` up to :data:`NOW`. ``sample`` (from :func:`sample_run`) can be
    shared between builds. The answer has ``rows`` per
    table, ``sample_seconds`` (the small real run), ``build_seconds`` (writing the tenant, statistics
    included) and ``db_mb``.
    """
    from cadence.adapters.db import make_engine

    say = (lambda _m: None) if quiet else log
    started = time.perf_counter()
    if sample is None:
        sample = sample_run()
    sample_seconds = time.perf_counter() - started
    say(f"sample run: {len(sample.histories)} histories in {sample_seconds:.1f}s")
    engine = make_engine(url)
    write = write_postgresql if engine.dialect.name == "postgresql" else write_sqlite
    started = time.perf_counter()
    done = 0
    postgresql = engine.dialect.name == "postgresql"
    try:
        deferred = defer_postgresql(engine) if postgresql else None
        for batch in tenant_rows(sample, leads, chunk=chunk, years=years):
            write(engine, batch)
            done += len(batch["leads"])
            say(f"{done}/{leads} leads written ({time.perf_counter() - started:.0f}s)")
        if deferred is not None:
            restore_postgresql(engine, deferred)
            say(f"indexes and constraints built again ({time.perf_counter() - started:.0f}s)")
            finish_postgresql(engine)
        else:
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        build_seconds = time.perf_counter() - started
        rows = counts(engine)
        return {
            "backend": engine.dialect.name,
            "leads": leads,
            "rows": rows,
            "sample_seconds": round(sample_seconds, 1),
            "build_seconds": round(build_seconds, 1),
            "db_mb": size_mb(engine),
        }
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--database-url", help="PostgreSQL server to create the tenant's database on")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is in the JSON line)")
    parser.add_argument("--chunk", type=int, default=10_000, help="leads written per transaction")
    parser.add_argument("--years", type=float, default=YEARS, help="the leads arrive over this many years")
    args = parser.parse_args(argv)
    if args.leads < 1:
        parser.error("--leads must be at least 1")
    if args.years <= 0:
        parser.error("--years must be more than 0")
    isolate_environment()
    with database(args.backend, args.database_url, keep=args.keep) as url:
        result = build(url, args.leads, chunk=args.chunk, years=args.years)
        if args.keep:
            result["database_url"] = url
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
