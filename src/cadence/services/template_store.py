"""The template store: templates and cadences in the database, shared by every runner, every save a version.

The database keeps every version of every file of the templates folder (``template_files``): the
newest version of each path is the one in use. ``templates/`` seeds an empty store (``cadence init``);
``cadence templates export`` / ``import`` move the files to and from a folder a team keeps in git.

The rest of cadence reads a folder, as before: :func:`materialize` writes the store's current files
into a folder named by their digest (written once, never changed), so that a runner which already has
that version reads the disk and compiles nothing again, and asks the database for one number per run
(:func:`generation`), never per email. A save runs the checks of ``cadence templates check`` on the
folder as it would be and refuses a file they find fault with, with the line and the reason.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import TemplateFile
from cadence.errors import AlreadyExists, NotFound, ValidationError

if TYPE_CHECKING:  # the checks compile templates (Jinja): imported only when a save is checked
    from cadence.services.template_checks import Problem

__all__ = [
    "FileVersion",
    "SaveRefused",
    "clean_path",
    "current_files",
    "diff",
    "export_folder",
    "folder_files",
    "generation",
    "history",
    "import_folder",
    "materialize",
    "restore",
    "save",
    "seed",
    "version_of",
]

SUFFIXES = (".j2", ".yaml", ".yml")
"""The files of a templates folder the store keeps."""
MAX_CHARS = 200_000
"""The largest file the store accepts."""
MAX_COMMENT = 500


class SaveRefused(ValidationError):
    """A save the checks refused: :attr:`problems` says where and why."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class FileVersion:
    """One saved version of one file."""

    path: str
    version: int
    content: str
    saved_by: str | None
    saved_at: datetime
    comment: str | None


def _as_version(row: TemplateFile) -> FileVersion:
    return FileVersion(row.path, row.version, row.content, row.saved_by, row.saved_at, row.comment)


def clean_path(path: str) -> str:
    """``path`` checked as a file of the templates folder (``email/introduction.j2``); else a ValidationError."""
    text = path.strip().replace("\\", "/")
    pure = PurePosixPath(text)
    if (
        not text
        or len(text) > 300
        or pure.is_absolute()
        or any(part in ("", ".", "..") or part.startswith(".") for part in text.split("/"))
        or not text.endswith(SUFFIXES)
        or any(ch < " " for ch in text)
    ):
        raise ValidationError(
            f"{path!r} is not a file of the templates folder (e.g. email/introduction.j2 or cadences/default.yaml)"
        )
    return pure.as_posix()


def folder_files(folder: Path) -> dict[str, str]:
    """The files of a templates folder the store keeps, by path (``email/introduction.j2``); hidden ones left out."""
    found: dict[str, str] = {}
    root = Path(folder)
    if not root.is_dir():
        raise ValidationError(f"{folder}: no such folder")
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if not path.is_file() or any(p.startswith(".") for p in parts) or not path.name.endswith(SUFFIXES):
            continue
        name = PurePosixPath(*parts).as_posix()
        try:
            found[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    return found


def generation(session: Session) -> int:
    """A number that changes with every save (the newest row's id; 0 when the store is empty)."""
    return int(session.scalar(select(func.max(TemplateFile.id))) or 0)


def _current_rows(session: Session) -> list[TemplateFile]:
    newest = (
        select(TemplateFile.path, func.max(TemplateFile.version).label("version"))
        .group_by(TemplateFile.path)
        .subquery()
    )
    query = select(TemplateFile).join(
        newest, (TemplateFile.path == newest.c.path) & (TemplateFile.version == newest.c.version)
    )
    return list(session.scalars(query.order_by(TemplateFile.path)))


def current_files(session: Session) -> dict[str, FileVersion]:
    """The version in use of every file, by path."""
    return {row.path: _as_version(row) for row in _current_rows(session)}


def digest(files: Mapping[str, str]) -> str:
    """A short hash of a set of files (paths and contents)."""
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(path.encode("utf-8") + b"\x00" + files[path].encode("utf-8") + b"\x00")
    return sha.hexdigest()[:16]


def write_folder(files: Mapping[str, str], folder: Path) -> None:
    """Write ``files`` under ``folder`` (created if needed)."""
    for path, content in files.items():
        target = folder / clean_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def materialize(files: Mapping[str, str], cache_root: Path) -> Path:
    """The folder holding exactly ``files``: ``cache_root/<digest>``, written once (atomically) and then reused."""
    target = Path(cache_root) / digest(files)
    if target.is_dir():
        return target
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=cache_root))
    try:
        write_folder(files, staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():  # another runner wrote the same version first: use theirs
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _problems_of(files: Mapping[str, str], paths: Iterable[str]) -> list[Problem]:
    """The checks of ``cadence templates check`` on ``files``; the problems that are in ``paths``."""
    from cadence.services.template_checks import Problem, run_checks

    wanted = set(paths)
    with tempfile.TemporaryDirectory(prefix="cadence-check-") as tmp:
        folder = Path(tmp)
        write_folder(files, folder)
        report = run_checks(folder)
        found = []
        for problem in report.problems:
            try:
                relative = Path(problem.path).resolve().relative_to(folder.resolve()).as_posix()
            except ValueError:
                relative = problem.path
            if relative in wanted:
                found.append(Problem(relative, problem.line, problem.reason))
    return found


def _refusal(problems: list[Problem]) -> SaveRefused:
    lines = "; ".join(str(p) for p in problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return SaveRefused(f"not saved: {lines}{more}", problems)


def _add(
    session: Session, path: str, content: str, *, by: str | None, now: datetime, comment: str | None
) -> FileVersion:
    last = session.scalar(select(func.max(TemplateFile.version)).where(TemplateFile.path == path)) or 0
    row = TemplateFile(
        path=path,
        version=last + 1,
        content=content,
        saved_by=by,
        saved_at=now,
        comment=(comment or "").strip()[:MAX_COMMENT] or None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # another transaction saved this version of the file meanwhile
        raise AlreadyExists(
            f"{path} was saved by someone else meanwhile (as version {last + 1}): reload it, then save again"
        ) from None
    if by is not None:  # a person's save (the first seeding from the folder is nobody's)
        from cadence.services import audit

        audit.record(session, by, "templates.save", path, {"version": row.version, "comment": row.comment}, now=now)
    return _as_version(row)


def _clean_content(content: str) -> str:
    if len(content) > MAX_CHARS:
        raise ValidationError(f"the file is too long ({len(content)} characters; at most {MAX_CHARS})")
    if "\x00" in content:
        raise ValidationError("the file contains a NUL character")
    return content.replace("\r\n", "\n").replace("\r", "\n")


def save(
    session: Session, path: str, content: str, *, by: str | None, now: datetime, comment: str | None = None
) -> FileVersion:
    """Save a new version of ``path``, after the checks; :class:`SaveRefused` (line and reason) if they fail.

    Saving what is already in use saves nothing and returns the version in use.
    """
    path = clean_path(path)
    content = _clean_content(content)
    current = {p: v.content for p, v in current_files(session).items()}
    if current.get(path) == content:
        return current_files(session)[path]
    candidate = {**current, path: content}
    problems = _problems_of(candidate, [path])
    if problems:
        raise _refusal(problems)
    return _add(session, path, content, by=by, now=now, comment=comment)


def seed(session: Session, folder: Path, *, now: datetime) -> int:
    """Load ``folder`` into an empty store as version 1 of each file; how many files (0 if the store had some)."""
    if generation(session):
        return 0
    files = folder_files(folder)
    try:
        with session.begin_nested():
            for path, content in files.items():
                _add(session, path, content, by=None, now=now, comment=f"first version, from {folder}")
    except AlreadyExists:  # another request seeded the store at the same time: its versions are the first
        return 0
    return len(files)


def import_folder(session: Session, folder: Path, *, by: str | None, now: datetime) -> list[FileVersion]:
    """Save every file of ``folder`` that differs from the store, after checking them together; the new versions.

    Refuses everything (:class:`SaveRefused`) if any imported file has a fault. Files of the store that
    are not in the folder stay as they are.
    """
    incoming = {clean_path(p): _clean_content(c) for p, c in folder_files(folder).items()}
    current = {p: v.content for p, v in current_files(session).items()}
    changed = {p: c for p, c in incoming.items() if current.get(p) != c}
    if not changed:
        return []
    problems = _problems_of({**current, **changed}, changed)
    if problems:
        raise _refusal(problems)
    return [_add(session, p, c, by=by, now=now, comment=f"imported from {folder}") for p, c in sorted(changed.items())]


def export_folder(session: Session, folder: Path) -> int:
    """Write the version in use of every file under ``folder``; how many files."""
    files = {p: v.content for p, v in current_files(session).items()}
    try:
        write_folder(files, Path(folder))
    except OSError as exc:
        raise ValidationError(f"{folder}: cannot write it ({exc.strerror})") from None
    return len(files)


def history(session: Session, path: str) -> list[FileVersion]:
    """Every version of ``path``, newest first; NotFound if the store has none."""
    path = clean_path(path)
    rows = session.scalars(
        select(TemplateFile).where(TemplateFile.path == path).order_by(TemplateFile.version.desc())
    ).all()
    if not rows:
        raise NotFound(f"the store has no file {path}")
    return [_as_version(row) for row in rows]


def version_of(session: Session, path: str, version: int) -> FileVersion:
    """Version ``version`` of ``path``; NotFound if there is none."""
    path = clean_path(path)
    row = session.scalar(select(TemplateFile).where(TemplateFile.path == path, TemplateFile.version == version))
    if row is None:
        raise NotFound(f"{path} has no version {version}")
    return _as_version(row)


def diff(session: Session, path: str, old: int, new: int) -> list[str]:
    """The unified diff from version ``old`` to version ``new`` of ``path`` (lines, without line ends)."""
    before, after = version_of(session, path, old), version_of(session, path, new)
    return list(
        difflib.unified_diff(
            before.content.splitlines(),
            after.content.splitlines(),
            fromfile=f"{path} version {old}",
            tofile=f"{path} version {new}",
            lineterm="",
        )
    )


def restore(session: Session, path: str, version: int, *, by: str | None, now: datetime) -> FileVersion:
    """Save version ``version`` of ``path`` again as its newest version (after the checks, like any save)."""
    old = version_of(session, path, version)
    return save(session, old.path, old.content, by=by, now=now, comment=f"restored version {version}")
