"""Prepared statements through libpq's handle, against the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from cadence.adapters.pg_prepared import PreparedStatements, numbered

pytestmark = pytest.mark.postgresql

STATEMENTS = {
    "put": "INSERT INTO notes (id, body, done) VALUES (:id, :body, :done)",
    "rename": "UPDATE notes SET body = :body WHERE id = :id OR (:id = 0 AND body IS NULL)",
    "count": "SELECT id FROM notes WHERE body = :body",
    "cast": "SELECT :value::int + 1",
}


def test_named_parameters_are_numbered_once_each_and_casts_are_left_alone() -> None:
    assert numbered("SELECT :a, :b::text, :a WHERE x = :c") == ("SELECT $1, $2::text, $1 WHERE x = $3", ["a", "b", "c"])
    assert numbered("SELECT 1") == ("SELECT 1", [])


def run(postgresql_database: str, body: Callable[[PreparedStatements], Coroutine[Any, Any, None]]) -> None:
    """``body`` over STATEMENTS, prepared on a new connection to a table of its own, dropped after."""
    url = make_url(postgresql_database)
    conninfo = psycopg.conninfo.make_conninfo(
        host=url.host, port=url.port, user=url.username, dbname=url.database, password=url.password
    )

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
            await connection.execute("CREATE TABLE notes (id int PRIMARY KEY, body text, done boolean)")
            try:
                await body(await PreparedStatements.prepare(connection, STATEMENTS))
            finally:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as other:
                    await other.execute("DROP TABLE notes")

    asyncio.run(main())


def test_statements_run_with_text_integer_boolean_and_null_parameters(postgresql_database: str) -> None:
    async def body(statements: PreparedStatements) -> None:
        assert await statements.execute("put", {"id": 1, "body": "one", "done": True}) == 1
        assert await statements.execute("put", {"id": 2, "body": None, "done": False}) == 1
        assert await statements.execute("put", {"id": 3, "body": "é ' ; DROP TABLE notes", "done": None}) == 1
        assert await statements.execute("rename", {"id": 0, "body": "two"}) == 1  # the NULL body, found by 0
        assert await statements.execute("rename", {"id": 9, "body": "none"}) == 0
        assert await statements.execute("count", {"body": "two"}) == 1
        cursor = await statements.connection.execute("SELECT id, body, done FROM notes ORDER BY id")
        assert await cursor.fetchall() == [(1, "one", True), (2, "two", False), (3, "é ' ; DROP TABLE notes", None)]

    run(postgresql_database, body)


def test_an_error_raises_psycopgs_exception_and_the_server_says_what(postgresql_database: str) -> None:
    async def body(statements: PreparedStatements) -> None:
        await statements.execute("put", {"id": 1, "body": "one", "done": True})
        with pytest.raises(psycopg.errors.UniqueViolation, match="notes_pkey"):
            await statements.execute("put", {"id": 1, "body": "again", "done": True})
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            await statements.execute("cast", {"value": "not a number"})
        # The connection is still usable after an error the server reported.
        assert await statements.execute("count", {"body": "one"}) == 1
        with pytest.raises(TypeError, match="not float"):
            await statements.execute("cast", {"value": 1.5})

    run(postgresql_database, body)


def test_a_connection_the_server_ended_raises_an_operational_error(postgresql_database: str) -> None:
    async def body(statements: PreparedStatements) -> None:
        pid = statements.connection.info.backend_pid
        url = make_url(postgresql_database)
        async with await psycopg.AsyncConnection.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
        ) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(psycopg.OperationalError):
            await statements.execute("count", {"body": "one"})

    run(postgresql_database, body)
