"""Postcards: exporting the ones due for a print-and-mail vendor, each once."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.csv_safety import csv_cell
from cadence.adapters.models import Task
from cadence.services.advance import lead_variables


def export_postcards(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """The open postcard tasks due by ``now`` not exported yet; they are marked exported."""
    tasks = session.scalars(
        select(Task)
        .where(Task.channel == "postcard", Task.status == "open", Task.exported_at.is_(None), Task.due_at <= now)
        .order_by(Task.due_at, Task.id)
        .with_for_update(of=Task)
    ).unique()
    cards = []
    for task in tasks:
        lead = lead_variables(task.lead)
        cards.append(
            {
                "task": task.id,
                "email": lead["email"],
                "name": lead["full_name"],
                "company": lead["company"],
                "address": "\n".join(lead["address_lines"]),
                "copy": task.instructions or "",
                "owner": task.owner.email if task.owner else None,
                "due_at": task.due_at.isoformat(),
            }
        )
        task.exported_at = now
    return cards


def postcards_csv(cards: list[dict[str, Any]]) -> str:
    """The postcards as CSV, spreadsheet formulas neutralised."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["task", "email", "name", "company", "address", "copy", "owner", "due_at"], lineterminator="\n"
    )
    writer.writeheader()
    for card in cards:
        writer.writerow({k: csv_cell(v) for k, v in card.items()})
    return out.getvalue()
