"""``cadence templates``: check the templates folder, and preview exactly what an email would send."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cadence.cli.common import context, emit_json, parse_instant, run
from cadence.errors import ValidationError

templates_app = typer.Typer(
    help="Check the cadences and message templates; preview an email as a lead would get it.",
    no_args_is_help=True,
)


@templates_app.command("check")
def templates_check(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="The templates folder (default: CADENCE_TEMPLATES_DIR, else ./templates).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Check every cadence, the qualification rules and every template; exit 1 if anything is wrong.

    Prints one FILE:LINE: reason line per problem. Fast enough to run on every save and in CI.
    """

    def go() -> int:
        from cadence.services.template_checks import run_checks

        where = folder if folder is not None else _templates_dir()
        report = run_checks(where)
        if as_json:
            emit_json({"folder": str(where), **report.as_dict()})
        else:
            for problem in report.problems:
                typer.echo(str(problem))
            if report.ok:
                typer.echo(f"{report.templates} templates and {report.cadences} cadences OK")
            else:
                files = len({p.path for p in report.problems})
                count = len(report.problems)
                typer.echo(
                    f"{count} problem{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''} "
                    f"({report.templates} templates and {report.cadences} valid cadences checked)"
                )
        return 0 if report.ok else 1

    code = run(go)
    if code:
        raise typer.Exit(code)


@templates_app.command("preview")
def templates_preview(
    name: Annotated[str, typer.Argument(help="An email template, e.g. email/introduction.")],
    lead: Annotated[str, typer.Option("--lead", help="The lead's email address.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML part to this file.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="The current time, ISO-8601 (naive means UTC). Default: the clock.", show_default=False
        ),
    ] = None,
) -> None:
    """Show exactly the email NAME would send to a lead now: headers, text part and HTML part. Sends nothing."""

    def go() -> None:
        from cadence.services.template_preview import preview_template

        instant = parse_instant(now)
        preview = preview_template(context(), lead, name, now=instant)
        headers, text, html_part = preview.headers, preview.text, preview.html
        if html is not None:
            if html_part is None:
                raise ValidationError(f"{name} has no HTML part ({{% block html %}}); {html} was not written")
            try:
                html.write_text(html_part, encoding="utf-8")
            except OSError as exc:
                raise ValidationError(f"{html}: cannot write it ({exc.strerror})") from None
        if as_json:
            emit_json({"template": name, "headers": dict(headers), "text": text, "html": html_part})
            return
        for key, value in headers:
            typer.echo(f"{key}: {value}")
        typer.echo("")
        typer.echo((text or "").rstrip("\n"))
        typer.echo("")
        if html_part is None:
            typer.echo("[no HTML part: the email is plain text only]")
        elif html is not None:
            typer.echo(f"[HTML part: {len(html_part)} characters, written to {html}]")
        else:
            typer.echo(f"[HTML part: {len(html_part)} characters; write it to a file with --html FILE]")

    run(go)


@templates_app.command("export")
def templates_export(
    folder: Annotated[Path, typer.Argument(help="The folder to write the files to (created if needed).")],
) -> None:
    """Write the templates and cadences in use (the template store) to FOLDER, e.g. to keep them in git."""

    def go() -> None:
        from cadence.services import template_store

        ctx = context()
        ctx.require_schema()
        with ctx.sessions() as session:
            count = template_store.export_folder(session, folder)
        typer.echo(f"{count} files written to {folder}")

    run(go)


@templates_app.command("import")
def templates_import(
    folder: Annotated[Path, typer.Argument(help="A templates folder (as `cadence templates export` writes).")],
    by: Annotated[str, typer.Option("--by", help="Who is importing (kept with each version).")] = "cli",
) -> None:
    """Save every file of FOLDER that changed as a new version, after the checks; a broken file stops it all.

    Prints FILE:LINE: reason for each fault and saves nothing then (exit 1).
    """

    def go() -> int:
        from cadence.services import template_store

        ctx = context()
        ctx.require_schema()
        try:
            with ctx.sessions.begin() as session:
                saved = template_store.import_folder(session, folder, by=by, now=_now())
        except template_store.SaveRefused as refused:
            for problem in refused.problems:
                typer.echo(str(problem))
            typer.echo("nothing imported: fix these and import again")
            return 1
        for version in saved:
            typer.echo(f"{version.path}: version {version.version}")
        typer.echo(f"{len(saved)} files changed" if saved else "nothing changed")
        return 0

    code = run(go)
    if code:
        raise typer.Exit(code)


def _now() -> datetime:
    return datetime.now(UTC)


def _templates_dir() -> Path:
    """The configured templates folder, read without opening the database (the check needs none)."""
    from cadence.errors import CadenceError
    from cadence.settings import Settings

    try:
        return Settings().templates_dir
    except Exception as exc:  # pydantic's ValidationError: a bad CADENCE_* variable
        raise CadenceError(f"bad setting: {exc}") from exc
