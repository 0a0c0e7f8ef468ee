"""Creating and upgrading the schema with Alembic (``cadence init``), and checking it without Alembic.

Every command checks that the database is at the newest revision before it runs
(:func:`current_revision`, :func:`head_revision`): that check reads the ``alembic_version`` table
and the ``revision``/``down_revision`` lines of the packaged migrations directly, so that a read
command does not import Alembic (a quarter of a second); ``cadence init`` uses Alembic itself.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps
_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:None|[\"']([^\"']+)[\"'])", re.MULTILINE)


def alembic_config() -> Config:
    """An Alembic configuration pointing at cadence's migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; return (revision before, revision after).

    Safe to run again: an up-to-date database is left as it is.
    """
    from alembic import command

    before = current_revision(engine)
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    return before, head_revision()


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


@cache
def head_revision() -> str:
    """The newest schema revision this version of cadence knows: the one no packaged migration follows."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            if value:
                (revisions if name == "revision" else followed).add(value)
    heads = revisions - followed
    assert len(heads) == 1, f"the packaged migrations have {len(heads)} heads: {sorted(heads)}"
    return heads.pop()
