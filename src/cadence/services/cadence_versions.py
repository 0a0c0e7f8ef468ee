"""The cadence versions enrollments run on: each version stored once (pinned) and read back, and a lead's
calendar under a cadence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import CadenceVersion, Lead
from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.schedule import LeadCalendar
from cadence.errors import NotFound
from cadence.services.context import PINNED_CADENCES
from cadence.settings import Settings


def lead_timezone(lead: Lead, settings: Settings) -> str:
    """The lead's time zone, else its owner's, else the configured default."""
    return lead.timezone or (lead.owner.timezone if lead.owner else None) or settings.default_timezone


def calendar_for(lead: Lead, cadence: Cadence, settings: Settings) -> LeadCalendar:
    """The lead's calendar under ``cadence``'s settings."""
    return LeadCalendar.for_lead(cadence.settings, lead_timezone(lead, settings), lead.country)


def _pinned(session: Session) -> dict[tuple[str, str], Cadence]:
    """The pinned cadences cache: the context's (shared by its sessions), else one for this session alone."""
    cache: dict[tuple[str, str], Cadence] = session.info.setdefault(PINNED_CADENCES, {})
    return cache


def pin_cadence(session: Session, cadence: Cadence, now: datetime) -> None:
    """Store this version of ``cadence`` so that enrollments on it keep it after the file changes."""
    key = (cadence.name, cadence.version)
    exists = session.scalar(
        select(CadenceVersion.id).where(CadenceVersion.name == cadence.name, CadenceVersion.version == cadence.version)
    )
    if exists is None:
        try:
            with session.begin_nested():
                session.add(
                    CadenceVersion(
                        name=cadence.name, version=cadence.version, definition=cadence.to_dict(), created_at=now
                    )
                )
        except IntegrityError:
            pass  # another process pinned the same version at the same moment
    _pinned(session)[key] = cadence


def pinned_cadence(session: Session, name: str, version: str) -> Cadence:
    """The cadence version an enrollment started with (read once per context: a version never changes)."""
    key = (name, version)
    cache = _pinned(session)
    if key not in cache:
        row = session.scalar(
            select(CadenceVersion).where(CadenceVersion.name == name, CadenceVersion.version == version)
        )
        if row is None:
            raise NotFound(f"cadence {name} version {version} is not stored")
        cache[key] = parse_cadence(row.definition)
    return cache[key]
