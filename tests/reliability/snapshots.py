"""Whole-database snapshots, to prove that a failed command left the database exactly as it was."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cadence.adapters.db import make_engine
from cadence.adapters.models import Base

Row = dict[str, Any]
Snapshot = dict[str, dict[tuple[Any, ...], Row]]
"""Table name -> primary key -> row."""


class Snapshots:
    """Takes snapshots of every table of one database."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def take(self) -> Snapshot:
        """Every row of every table of the schema, by primary key."""
        snapshot: Snapshot = {}
        with self.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                keys = [column.name for column in table.primary_key]
                rows = [dict(row._mapping) for row in conn.execute(sa.select(table))]
                snapshot[table.name] = {tuple(row[key] for key in keys): row for row in rows}
        return snapshot

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


def differences(before: Snapshot, after: Snapshot) -> dict[str, tuple[list[Row], list[Row]]]:
    """For each table that changed: (rows as they were, rows as they are now), changed rows in both."""
    changed: dict[str, tuple[list[Row], list[Row]]] = {}
    for name, old in before.items():
        new = after[name]
        gone = [row for key, row in old.items() if new.get(key) != row]
        came = [row for key, row in new.items() if old.get(key) != row]
        if gone or came:
            changed[name] = (gone, came)
    return changed
