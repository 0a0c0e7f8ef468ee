"""A few fixed PostgreSQL statements, run from the event loop at the lowest cost per statement.

The hand-off writes of a batch (:class:`cadence.services.advance._Journal`) are one small statement
per email, each in series with the SMTP server's reply: whatever this process spends on one is
spent on every email of a runner, one after the other. psycopg's ``AsyncConnection.execute``
adapts each parameter, converts the query and drives its wait through a generator: about 150 µs of
this process's CPU per statement here. :class:`PreparedStatements` prepares the statements once on
the connection and sends each execution straight through the connection's libpq handle
(``psycopg.pq``), parameters as text typed by the server: about 80 µs, and one wait on the socket.

The connection stays a psycopg ``AsyncConnection`` (opened, closed and its errors raised as
psycopg's); nothing else may use it meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import pq

_NAMED = re.compile(r"(?<!:):(\w+)")


def numbered(sql: str) -> tuple[str, list[str]]:
    """``sql`` with ``:name`` parameters as ``$1, $2, ...`` (the same name, the same number) and the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, sql), names


def _text(value: Any) -> bytes | None:
    """A parameter as PostgreSQL's text format: None (NULL), a string, an integer; nothing else is sent."""
    if value is None:
        return None
    if isinstance(value, bool):  # before int: a bool is an int
        return b"t" if value else b"f"
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return str(value).encode()
    raise TypeError(f"a prepared statement parameter must be a string, an integer or None, not {type(value).__name__}")


class PreparedStatements:
    """Named statements (``:name`` parameters), prepared on ``connection``; :meth:`execute` runs one.

    Use :meth:`prepare` to make one. An error raises psycopg's exception for it (``psycopg.Error``);
    after any error, or a cancellation mid-statement, the connection's state is unknown: close it.
    """

    def __init__(self, connection: psycopg.AsyncConnection[Any], statements: Mapping[str, str]) -> None:
        self.connection = connection
        self._pgconn = connection.pgconn
        self._encoding = connection.info.encoding
        self._sql: dict[str, str] = {}  # as prepared: $1, $2, ...
        self._statements: dict[str, tuple[bytes, list[str]]] = {}  # the prepared statement's name, its parameters
        for index, (key, sql) in enumerate(statements.items()):
            self._sql[key], names = numbered(sql)
            self._statements[key] = (f"cadence_{index}".encode(), names)

    @classmethod
    async def prepare(
        cls, connection: psycopg.AsyncConnection[Any], statements: Mapping[str, str]
    ) -> PreparedStatements:
        """Prepare ``statements`` (key: SQL) on ``connection`` (in autocommit, used by nothing else)."""
        prepared = cls(connection, statements)
        prepared._pgconn.nonblocking = 1
        for key, (name, _names) in prepared._statements.items():
            prepared._pgconn.send_prepare(name, prepared._sql[key].encode(prepared._encoding))
            await prepared._finish()
        return prepared

    async def execute(self, key: str, values: Mapping[str, Any]) -> int:
        """Run statement ``key`` with ``values`` (by name); how many rows it wrote or returned."""
        name, names = self._statements[key]
        self._pgconn.send_query_prepared(name, [_text(values[n]) for n in names])
        return await self._finish()

    async def _finish(self) -> int:
        """Send what is queued, wait for the results; the row count of the last one."""
        pgconn = self._pgconn
        loop = asyncio.get_running_loop()
        while pgconn.flush():
            await _ready(loop, pgconn.socket, write=True)
        rows = 0
        error: psycopg.Error | None = None
        while True:
            pgconn.consume_input()
            if pgconn.is_busy():
                await _ready(loop, pgconn.socket, write=False)
                continue
            result = pgconn.get_result()
            if result is None:
                break
            if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
                rows = int(result.command_tuples or 0)
            elif error is None:
                error = psycopg.errors.error_from_result(result, encoding=self._encoding)
        if error is not None:
            raise error
        return rows


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> None:
    """Wait until ``fd`` can be written (or read)."""
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)
