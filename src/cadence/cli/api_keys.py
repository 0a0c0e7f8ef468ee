"""``cadence api-keys``: keys of the API (``/api/v1``), shown once, stored hashed, listed and revoked."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, parse_instant, run, session, table

api_keys_app = typer.Typer(help="Keys of the API (/api/v1): create, list, revoke.", no_args_is_help=True)


@api_keys_app.command("create")
def api_keys_create(
    name: Annotated[str, typer.Argument(help="What will use the key (e.g. 'website form', 'webinar tool').")],
    scope: Annotated[str, typer.Option("--scope", help="intake, read or write.", show_default=False)],
    now: NowOption = None,
) -> None:
    """Create a key and print it: this is the only time it is shown (only its hash is kept)."""

    def go() -> None:
        from cadence.services.api_keys import create_key, parse_scope

        chosen = parse_scope(scope)
        with session() as s:
            created = create_key(s, name, chosen, now=parse_instant(now))
        typer.echo(created.key)
        typer.echo(
            f"API key {created.name!r} ({created.scope.value}): copy it now, it is not shown again. "
            "Send it as 'Authorization: Bearer KEY'.",
            err=True,
        )

    run(go)


@api_keys_app.command("list")
def api_keys_list(as_json: JsonOption = False) -> None:
    """List the keys (their first characters, never the keys), revoked ones too."""

    def go() -> None:
        from cadence.services.api_keys import list_keys

        with session() as s:
            keys = list_keys(s)
        if as_json:
            emit_json(keys)
        elif not keys:
            typer.echo("no API keys yet: create one with `cadence api-keys create NAME --scope intake`")
        else:
            rows = [
                (
                    k["name"],
                    k["prefix"] + "…",
                    k["scope"],
                    k["created_at"][:16],
                    (k["last_used_at"] or "")[:16],
                    (k["revoked_at"] or "")[:16],
                )
                for k in keys
            ]
            typer.echo(table(rows, ["name", "key", "scope", "created (UTC)", "last used", "revoked"]))

    run(go)


@api_keys_app.command("revoke")
def api_keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name, as `cadence api-keys list` shows it.")],
    now: NowOption = None,
) -> None:
    """Revoke a key: every request with it is refused from now on."""

    def go() -> None:
        from cadence.services.api_keys import revoke_key

        with session() as s:
            done = revoke_key(s, name, now=parse_instant(now))
        typer.echo(f"revoked API key {name.strip()!r}" if done else f"API key {name.strip()!r} was revoked already")

    run(go)
