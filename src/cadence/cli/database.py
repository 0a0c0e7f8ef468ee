"""``cadence init``: create or upgrade the database schema."""

from __future__ import annotations

import typer

from cadence.cli.common import context, run


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

    run(go)
