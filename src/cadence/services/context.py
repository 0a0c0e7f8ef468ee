"""The application context: settings, database and configuration, built once per process."""

from __future__ import annotations

import hashlib
import random
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cadence.adapters.db import DatabaseUnavailable, busy_message, locked, make_engine, session_factory
from cadence.errors import CadenceError, ConfigurationError, NotFound, database_problem
from cadence.settings import Settings

if TYPE_CHECKING:  # imported by what reads the files: the lists need none of them
    from cadence.adapters.templates import Templates
    from cadence.core.cadences import Cadence
    from cadence.core.qualification import Rules
    from cadence.core.questions import Question
    from cadence.core.stages import Stages
    from cadence.services.template_checks import CheckReport

Fingerprint = tuple[tuple[str, int, int], ...]
"""Every file of a folder with its modification time and size: any edit changes it."""


class SchemaNotReady(CadenceError):
    """The database schema is missing or old: run `cadence init`."""


PINNED_CADENCES = "cadence.pinned_cadences"
"""The key of :attr:`Context.pinned_cadences` in the ``info`` of the context's sessions."""
QUESTIONS = "cadence.questions"
"""The key, in the ``info`` of the context's sessions, of a function giving :attr:`Context.questions`."""
CONTEXT = "cadence.context"
"""The key of the :class:`Context` itself in the ``info`` of its sessions (the stages, the development cadence)."""
SESSION_SETTINGS = "cadence.settings"
"""The key of the context's settings in the ``info`` of its sessions (what an account's colleagues are resumed by)."""


@dataclass
class Context:
    """What every use case needs. Cadences and rules are read from the templates folder on first use."""

    settings: Settings
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    pinned_cadences: dict[tuple[str, str], Cadence] = field(init=False, default_factory=dict)
    """The cadence versions enrollments pinned, by (name, version), as read once from the database."""
    cadence_problems: dict[tuple[str, ...], list[str]] = field(init=False, default_factory=dict)
    """What is wrong with each cadence's templates, by cadence and template versions (checked once each)."""
    _store: tuple[int, Path] | None = field(init=False, default=None)
    """The template store's generation last seen and the folder holding its files (None: not read yet)."""

    pacing_random: random.Random = field(init=False)
    """The random draws of the mailboxes' pacing jitter (seeded by ``CADENCE_PACING_SEED`` when set)."""

    def __post_init__(self) -> None:
        self.pacing_random = random.Random(self.settings.pacing_seed)
        self.engine = make_engine(
            self.settings.database_url, sqlite_busy_timeout_ms=self.settings.sqlite_busy_timeout_ms
        )
        self.sessions = session_factory(self.engine)
        # Every session of this context reaches the cache through its info (services.cadence_versions.pinned_cadence).
        self.sessions.configure(
            info={
                PINNED_CADENCES: self.pinned_cadences,
                QUESTIONS: lambda: self.questions,
                CONTEXT: self,
                SESSION_SETTINGS: self.settings,
            }
        )

    @property
    def templates_dir(self) -> Path:
        """The folder every runner reads: the template store's current files, else ``settings.templates_dir``.

        The store is read once (see :meth:`refresh_templates`); until then and while it is empty (or the
        database has no store yet) this is the configured folder.
        """
        if self._store is None:
            self.refresh_templates()
        assert self._store is not None
        return self._store[1]

    def refresh_templates(self) -> bool:
        """Ask the template store whether anything was saved (one query); True when the files changed.

        A runner calls it once per run: the cadences, rules and templates read before are dropped when
        the store has a newer version, and read again from its folder (written once per version).
        """
        from cadence.services import template_store

        try:
            # A read of its own, in autocommit: on SQLite every transaction takes the write lock at BEGIN,
            # and this is called while the caller's own transaction may hold it (a seed, a batch).
            with (
                self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
                Session(bind=connection) as session,
            ):
                seen = template_store.generation(session)
                if self._store is not None and self._store[0] == seen:
                    return False
                if seen:
                    files = {p: v.content for p, v in template_store.current_files(session).items()}
                    folder = template_store.materialize(files, self.template_cache_dir)
                else:
                    folder = self.settings.templates_dir
        except DatabaseUnavailable:
            raise
        except Exception:  # no store table yet (before `cadence init`), or no database: the folder
            seen, folder = -1, self.settings.templates_dir
        changed = self._store is None or self._store[1] != folder
        self._store = (seen, folder)
        if changed:
            for name in ("cadences", "rules", "questions", "stages", "templates"):
                self.__dict__.pop(name, None)
        return changed

    @property
    def template_cache_dir(self) -> Path:
        """Where the store's versions are written as folders (one per version, under the system's temp folder)."""
        url = self.engine.url.render_as_string(hide_password=True)
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"cadence-templates-{key}"

    @cached_property
    def cadences(self) -> dict[str, Cadence]:
        """The cadences as they are in the templates folder now."""
        from cadence.adapters.files import load_cadences  # YAML is read only when a command needs the files

        return load_cadences(self.templates_dir)

    @cached_property
    def rules(self) -> Rules:
        """The qualification rules, checked against the cadences they name."""
        from cadence.adapters.files import load_rules

        return load_rules(self.templates_dir, set(self.cadences))

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        """The qualifying questions (``questions.yaml``, else seed 001's seven)."""
        from cadence.adapters.files import load_questions

        return load_questions(self.templates_dir)

    @cached_property
    def stages(self) -> Stages:
        """The stages of maturation and their rules (``stages.yaml``; seed 001's when it is absent)."""
        from cadence.adapters.files import load_stages
        from cadence.services.tasks import OUTCOMES

        return load_stages(self.templates_dir, OUTCOMES)

    @cached_property
    def template_checks(self) -> dict[str, tuple[Fingerprint, CheckReport]]:
        """The last ``cadence templates check`` report of each folder, with the fingerprint of the files it saw."""
        return {}

    @cached_property
    def templates(self) -> Templates:
        """The templates folder's templates, compiled once for the life of the context."""
        from cadence.adapters.templates import Templates  # Jinja: only for what renders

        return Templates(self.templates_dir)

    def cadence(self, name: str) -> Cadence:
        """The current version of cadence ``name``."""
        try:
            return self.cadences[name]
        except KeyError:
            known = ", ".join(sorted(self.cadences))
            raise NotFound(f"no cadence named {name!r}; known: {known}") from None

    def require_schema(self) -> None:
        """Raise :class:`SchemaNotReady` unless the database is at the newest schema revision."""
        from cadence.adapters.schema import current_revision, head_revision  # Alembic: only for this check

        try:
            current = current_revision(self.engine)
        except Exception as exc:  # any driver error here means we cannot reach the database
            if locked(exc):
                raise DatabaseUnavailable(busy_message(self.engine, exc)) from exc
            where = self.engine.url.render_as_string(hide_password=True)
            raise ConfigurationError(f"cannot open the database {where}: {database_problem(exc)}") from exc
        if current != head_revision():
            raise SchemaNotReady(
                "the database has no cadence schema yet: run `cadence init`"
                if current is None
                else f"the database schema is at {current}, this cadence needs {head_revision()}: run `cadence init`"
            )

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
