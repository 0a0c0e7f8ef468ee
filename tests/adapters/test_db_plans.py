"""How our PostgreSQL connections plan their statements, against the real server.

psycopg prepares a statement once it has run five times on a connection; from then on PostgreSQL
would, left to itself, run it with a generic plan made for the tables as they were: the engine's
connections plan every statement for its parameters (``cadence.adapters.db.POSTGRESQL_SESSION_SQL``),
the hand-off journal's connection plans its keyed writes once, through indexes
(``cadence.services.advance._JOURNAL_SESSION_SQL``). ``pg_prepared_statements`` counts, for each
statement prepared on the connection that asks, the runs planned each way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from cadence.adapters.db import make_engine
from cadence.services.advance import _Journal
from cadence.services.context import Context
from cadence.settings import Settings

pytestmark = pytest.mark.postgresql

NOTES = text("SELECT id, token FROM plan_notes WHERE id IN (:a, :b, :c)")
PLANS = text(
    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
    " WHERE statement LIKE '%plan_notes%' AND statement NOT LIKE '%pg_prepared_statements%'"
)


@pytest.fixture
def engine(postgresql_database: str) -> Iterator[Engine]:
    """An engine of ours on the test database, with a table of 40 rows of its own (dropped after)."""
    engine = make_engine(postgresql_database)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE plan_notes (id int PRIMARY KEY, token text)"))
        connection.execute(text("INSERT INTO plan_notes SELECT g, 't' || g FROM generate_series(1, 40) g"))
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE plan_notes"))
    engine.dispose()


def test_a_statement_run_again_and_again_is_planned_for_its_parameters_every_time(engine: Engine) -> None:
    with engine.connect() as connection:
        for i in range(20):
            assert len(connection.execute(NOTES, {"a": i + 1, "b": i + 2, "c": 99}).all()) == 2
        generic, custom = connection.execute(PLANS).one()
    # Prepared after its fifth run: the fifteen runs since were each planned for their parameters.
    # Left to itself, PostgreSQL plans the first five of them so and the next ten with a generic plan.
    assert (generic, custom) == (0, 15)


def test_the_setting_outlives_the_pool_s_rollback_and_a_table_that_grew(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO plan_notes SELECT g, 't' FROM generate_series(41, 5000) g"))
        connection.commit()
    with engine.connect() as connection:  # the same pooled connection, rolled back on check-in
        assert connection.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
        for i in range(20):
            assert len(connection.execute(NOTES, {"a": i + 1, "b": 4000 + i, "c": 9999}).all()) == 2
        assert connection.execute(PLANS).one() == (0, 15)


def test_the_hand_off_journal_plans_its_writes_once_and_reads_through_indexes(postgresql_database: str) -> None:
    ctx = Context(Settings(database_url=postgresql_database))
    journal = _Journal(ctx)
    outcome = {"done_id": 0, "done_token": "none", "new_state": "sent", "outcome": "250 OK", "error": None}

    async def main() -> tuple[tuple[int, int], list[str], dict[str, str]]:
        try:
            for _ in range(12):
                assert await journal._postgres_execute("outcome", outcome) == 0  # no such touch
            assert journal._postgres is not None
            connection = journal._postgres.connection
            cursor = await connection.execute(
                "SELECT sum(generic_plans)::int, sum(custom_plans)::int FROM pg_prepared_statements"
                " WHERE statement LIKE 'UPDATE touches%'"
            )
            plans = await cursor.fetchone()
            assert plans is not None
            # The plan of each statement, as the connection would run it (the tables near empty, as
            # at a first batch): every table is read through an index.
            scans = []
            for name, parameters in journal._postgres._statements.values():
                nulls = ", ".join("NULL" for _ in parameters)
                lines = await (await connection.execute(f"EXPLAIN EXECUTE {name.decode()}({nulls})")).fetchall()
                scans += [line[0].strip() for line in lines if " on " in line[0] and "Scan" in line[0]]
            settings = {}
            for setting in ("plan_cache_mode", "enable_seqscan"):
                row = await (await connection.execute(f"SHOW {setting}")).fetchone()
                assert row is not None
                settings[setting] = row[0]
            return (plans[0], plans[1]), scans, settings
        finally:
            await journal.close()
            ctx.close()

    plans, scans, settings = asyncio.run(main())
    assert plans == (12, 0)  # one generic plan, made at the first run, for all twelve
    tables = {scan.split(" on ")[1].split()[0] for scan in scans}
    assert tables == {"touches", "enrollments", "suppressions"}, scans
    assert all("Index" in scan for scan in scans), scans
    assert settings == {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"}
