"""Template names and files: ``NAME`` is ``FOLDER/NAME.j2``, read only from inside the folder."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import jinja2
from jinja2.exceptions import SecurityError, TemplateNotFound

MAX_TEMPLATE_BYTES = 1_000_000
"""The largest template file read."""

SUFFIX = ".j2"


class FolderLoader(jinja2.BaseLoader):
    """Loads ``NAME`` (or ``NAME.j2``) from ``folder/NAME.j2``, never from outside the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.root = folder.resolve()

    def path_of(self, name: str) -> Path:
        """The file of template ``name``; a ``TemplateNotFound`` for a bad name or one outside the folder."""
        if not name.endswith(SUFFIX):
            name += SUFFIX
        _check_name(name)
        path = self.folder.joinpath(*PurePosixPath(name).parts)
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise TemplateNotFound(name, f"template {name!r} is outside the templates folder")
        return path

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        """The template's text, its file name, and a check that the file has not changed since."""
        path = self.path_of(template)
        try:
            stat = path.stat()
            if stat.st_size > MAX_TEMPLATE_BYTES:
                raise SecurityError(f"{path} is larger than {MAX_TEMPLATE_BYTES} bytes")
            source = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise TemplateNotFound(template, f"template {template!r} not found ({path})") from None
        except UnicodeDecodeError as exc:
            raise SecurityError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise TemplateNotFound(template, f"template {template!r} cannot be read ({exc.strerror})") from None
        signature = (stat.st_mtime_ns, stat.st_size)

        def uptodate() -> bool:
            try:
                now = path.stat()
            except OSError:
                return False
            return (now.st_mtime_ns, now.st_size) == signature

        return source, str(path), uptodate


def _check_name(name: str) -> None:
    """Refuse names that are empty, absolute, or climb out of the folder."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise TemplateNotFound(name, f"template name {name!r} is not a relative name")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise TemplateNotFound(name, f"template name {name!r} must not contain empty, '.' or '..' parts")


def is_partial(name: str) -> bool:
    """Whether ``name`` is a partial: its last part starts with ``_``."""
    return name.rsplit("/", 1)[-1].startswith("_")


def is_email_name(name: str) -> bool:
    """Whether ``name`` is an email (under ``email/``, not a partial)."""
    return name.split("/", 1)[0] == "email" and not is_partial(name)
