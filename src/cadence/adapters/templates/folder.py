"""The message templates of one folder: names, versions, and rendering emails and tasks under one budget."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.exceptions import TemplateNotFound, TemplateSyntaxError
from markupsafe import Markup

from cadence.adapters.templates.errors import TemplateError, TemplateProblem, template_error
from cadence.adapters.templates.html import inline_css
from cadence.adapters.templates.limits import BUDGET, Budget
from cadence.adapters.templates.loader import SUFFIX, FolderLoader, is_email_name, is_partial
from cadence.adapters.templates.parts import (
    FOOTER,
    LAYOUT,
    RenderedEmail,
    check_footer,
    compliance_values,
    one_line,
    render_blocks,
    render_whole,
    tidy,
)
from cadence.adapters.templates.sandbox import Environment
from cadence.adapters.templates.variables import prepare, sample_variables

_R = TypeVar("_R")


class Templates:
    """The message templates of one folder; keep one instance per folder (it caches compiled templates)."""

    def __init__(self, folder: Path, *, max_output_chars: int = 200_000) -> None:
        self.folder = Path(folder)
        self.max_output_chars = max_output_chars
        self._loader = FolderLoader(self.folder)
        self._text_env = Environment(self._loader, autoescape=False)
        self._html_env = Environment(self._loader, autoescape=True)
        self._versions: dict[str, tuple[tuple[tuple[str, int, int], ...], str]] = {}
        self._checked: dict[str, Path] = {}

    # -- Names and versions

    def _path(self, name: str) -> Path:
        try:
            return self._loader.path_of(name)
        except TemplateNotFound as exc:
            raise TemplateError(exc.message or f"bad template name {name!r}", path=name) from None

    def exists(self, name: str) -> bool:
        """Whether the template file exists (False for names that are not valid)."""
        try:
            return self._path(name).is_file()
        except (TemplateError, OSError):
            return False

    def names(self) -> list[str]:
        """Every template in the folder (partials included), sorted; hidden files and folders are left out."""
        found = []
        for path in self.folder.rglob(f"*{SUFFIX}"):
            parts = path.relative_to(self.folder).parts
            if any(part.startswith(".") for part in parts) or not path.is_file():
                continue
            found.append(PurePosixPath(*parts).as_posix()[: -len(SUFFIX)])
        return sorted(found)

    def parse(self, name: str) -> nodes.Template:
        """The template's syntax tree (not compiled, not cached); a :class:`TemplateError` if it does not parse."""
        path = self._path(name)
        try:
            source, filename, _ = self._loader.get_source(self._text_env, name)
            return self._text_env.parse(source, name, filename)
        except Exception as exc:
            raise template_error(exc, str(path)) from None

    @property
    def global_names(self) -> frozenset[str]:
        """The functions every template may call (``range``, ``dict``, ``namespace``, ``joiner``)."""
        return frozenset(self._text_env.globals)

    def version(self, name: str) -> str:
        """A short hash of the template and of every file it uses (layout, footer, includes)."""
        cached = self._versions.get(name)
        if cached is not None:
            files, digest = cached
            if self._stat_all([f for f, _, _ in files]) == files:
                return digest
        paths = self._dependencies(name)
        files = self._stat_all(paths)
        sha = hashlib.sha256()
        for path in paths:
            relative = Path(path).relative_to(self.folder).as_posix()  # the same wherever the folder is
            sha.update(relative.encode("utf-8") + b"\x00")
            sha.update(self._read(Path(path)) + b"\x00")
        digest = sha.hexdigest()[:12]
        self._versions[name] = (files, digest)
        return digest

    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise TemplateError(f"cannot read it ({exc.strerror})", path=str(path)) from None

    def _stat_all(self, paths: Sequence[str]) -> tuple[tuple[str, int, int], ...]:
        result = []
        for path in paths:
            try:
                stat = Path(path).stat()
            except OSError:
                return ()
            result.append((path, stat.st_mtime_ns, stat.st_size))
        return tuple(result)

    def _dependencies(self, name: str) -> list[str]:
        """The files a template uses: itself, what it includes, imports or extends, and the email layout."""
        todo = [(name, True)]
        if is_email_name(name):
            todo += [(LAYOUT, True), (FOOTER, True)]
        seen: dict[str, None] = {}
        while todo:
            current, required = todo.pop(0)
            try:
                path = self._path(current)
            except TemplateError:
                if required:
                    raise
                continue  # a bad name in an include: rendering reports it
            key = str(path)
            if key in seen:
                continue
            if not path.is_file():
                if required:
                    raise TemplateError(f"template {current!r} not found", path=key)
                continue
            seen[key] = None
            try:
                source = path.read_text(encoding="utf-8")
                tree = self._text_env.parse(source, current, key)
            except (TemplateSyntaxError, UnicodeDecodeError, OSError):
                continue  # the version still covers the file's bytes; rendering reports the fault
            todo += [(ref, False) for ref in jinja2.meta.find_referenced_templates(tree) if ref is not None]
        return sorted(seen)

    # -- Rendering

    def render_email(self, name: str, variables: Mapping[str, Any]) -> RenderedEmail:
        """Render an email: one-line subject, text body with footer, HTML document (or None)."""
        steps = self.render_email_steps(name, variables)
        while True:
            try:
                next(steps)
            except StopIteration as finished:
                rendered: RenderedEmail = finished.value
                return rendered

    def render_email_steps(self, name: str, variables: Mapping[str, Any]) -> Generator[None, None, RenderedEmail]:
        """:meth:`render_email` in steps of a fraction of a millisecond: a generator that returns the email.

        The caller may let other work run between two steps (an event loop: replies and commits
        waiting on the render); each step runs under the render's one budget.
        """
        self._refuse_partial(name)
        data = prepare(variables)
        compliance_values(data, self._fallback_path(name))
        budget = Budget(self.max_output_chars)

        def step(work: Callable[[], _R]) -> _R:
            token = BUDGET.set(budget)
            try:
                return work()
            finally:
                BUDGET.reset(token)

        text_template = step(lambda: self._get(self._text_env, name))
        parts = step(lambda: render_blocks(text_template, data, ("subject", "text"), self.max_output_chars))
        if "subject" not in parts or "text" not in parts:
            raise TemplateError(
                "an email template needs {% block subject %} and {% block text %}", path=text_template.filename
            )
        subject = one_line(parts["subject"])
        if not subject:
            raise TemplateError("the subject is empty", path=text_template.filename)
        yield
        footer = step(lambda: render_whole(self._get(self._text_env, FOOTER), data, self.max_output_chars))
        text = f"{tidy(parts['text'])}\n\n{tidy(footer)}\n"
        yield
        html_template = step(lambda: self._get(self._html_env, name))
        body = step(lambda: render_blocks(html_template, data, ("html",), self.max_output_chars).get("html"))
        html: str | None = None
        if body is not None:
            yield
            layout = step(lambda: self._get(self._html_env, LAYOUT))
            html = step(lambda: render_whole(layout, {**data, "body": Markup(body.strip())}, self.max_output_chars))
        check_footer(text_template.filename, data, text, html)
        if html is not None:
            yield
            html = inline_css(html, text_template.filename, self.max_output_chars)
        return RenderedEmail(subject=subject, text=text, html=html)

    def render_text(self, name: str, variables: Mapping[str, Any]) -> str:
        """Render a task template (plain text, no escaping): instructions for the rep."""
        self._refuse_partial(name)
        data = prepare(variables)
        token = BUDGET.set(Budget(self.max_output_chars))
        try:
            return tidy(render_whole(self._get(self._text_env, name), data, self.max_output_chars))
        finally:
            BUDGET.reset(token)

    def check(self, name: str, samples: Sequence[Mapping[str, Any]]) -> list[TemplateProblem]:
        """Parse the template and render it with every sample (or :func:`sample_variables`); list the faults."""
        problems: list[TemplateProblem] = []

        def add(exc: TemplateError) -> None:
            problem = TemplateProblem(template=name, path=exc.path or name, line=exc.line, reason=exc.reason)
            if problem not in problems:
                problems.append(problem)

        try:
            path = self._path(name)
            if not path.is_file():
                raise TemplateError(f"template {name!r} not found", path=str(path))
            template = self._get(self._text_env, name)  # an email's HTML twin is compiled when it renders
        except TemplateError as exc:
            add(exc)
            return problems
        if is_partial(name):
            return problems
        as_email = is_email_name(name) or "subject" in template.blocks
        for sample in samples or sample_variables():
            try:
                if as_email:
                    self.render_email(name, sample)
                else:
                    self.render_text(name, sample)
            except TemplateError as exc:
                add(exc)
        return problems

    # -- Internals

    def _refuse_partial(self, name: str) -> None:
        if is_partial(name):
            raise TemplateError(f"{name!r} is a partial (its name starts with '_'), not a message", path=name)

    def _checked_path(self, name: str) -> Path:
        """:meth:`_path`, remembered per name: a name's path and its validity depend on the name alone.

        Whether the file (or a link standing in its place) stays inside the folder is checked again
        by the loader each time the file is read, so nothing escapes the folder through this memo.
        """
        path = self._checked.get(name)
        if path is None:
            path = self._checked[name] = self._path(name)
        return path

    def _get(self, env: Environment, name: str) -> jinja2.Template:
        self._checked_path(name)  # refuses bad names with a TemplateError
        try:
            return env.get_template(name)
        except Exception as exc:
            raise template_error(exc, self._fallback_path(name)) from None

    def _fallback_path(self, name: str) -> str:
        try:
            return str(self._checked_path(name))
        except TemplateError:
            return name
