"""``cadence init``: create or upgrade the database schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cadence.cli.common import context, run

if TYPE_CHECKING:
    from cadence.services.context import Context


def init() -> None:
    """Create or upgrade the database schema (safe to run again)."""

    def go() -> None:
        from cadence.adapters.schema import upgrade

        ctx = context()
        before, after = upgrade(ctx.engine)
        where = ctx.engine.url.render_as_string(hide_password=True)
        if before == after:
            typer.echo(f"database {where} is up to date (schema {after})")
        else:
            typer.echo(f"database {where} upgraded from {before or 'empty'} to schema {after}")
        seeded = _seed_store(ctx)
        if seeded:
            typer.echo(f"template store: {seeded} files loaded from {ctx.settings.templates_dir}")

    run(go)


def _seed_store(ctx: Context) -> int:
    """Load the templates folder into the template store when the store is empty; how many files."""
    from datetime import UTC, datetime

    from cadence.services import template_store

    folder = ctx.settings.templates_dir
    if not folder.is_dir():
        return 0
    with ctx.sessions.begin() as session:
        count = template_store.seed(session, folder, now=datetime.now(UTC))
    ctx.refresh_templates()
    return count
