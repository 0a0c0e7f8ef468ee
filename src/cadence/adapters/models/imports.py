"""Lead imports (``cadence leads import``): each run, and each lead it created or updated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cadence.adapters.models.base import Base


class Import(Base):
    """One ``cadence leads import`` of a file: who ran it, when, and what it did (``counts``)."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    file: Mapped[str] = mapped_column(String(1000))
    imported_by: Mapped[str | None] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(20))
    """``running``, ``done``, ``failed`` (stopped part-way: the rows before were imported) or ``undone``."""
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    undone_at: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)


class ImportChange(Base):
    """A lead an import created or updated, and its fields before (``before``: None when created)."""

    __tablename__ = "import_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    created: Mapped[bool] = mapped_column(Boolean)
    enrolled: Mapped[bool] = mapped_column(Boolean)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
