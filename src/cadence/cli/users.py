"""``cadence users``: accounts of the web workspace (``cadence web``).

A password is never a command-line argument (it would show in ``ps`` and in the shell's history):
it is asked twice at a terminal, or read from the first line of standard input with ``--password-stdin``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cadence.cli.common import emit_json, parse_instant, run, session, table

users_app = typer.Typer(help="Accounts of the web workspace: reps, marketers and managers.", no_args_is_help=True)


def _interactive() -> bool:
    """True when a person is at the terminal to be asked for the password."""
    return sys.stdin.isatty()


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or asked twice at the terminal."""
    from cadence.errors import ValidationError

    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise ValidationError("--password-stdin: standard input has no password on its first line")
        return password
    if not _interactive():
        raise ValidationError("give the password on standard input with --password-stdin, or run at a terminal")
    entered: str = typer.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    return entered


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The person's email address (a rep's must be a rep's).")],
    role: Annotated[str, typer.Option("--role", help="rep, marketer or manager.", show_default=False)],
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: the rep's name).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="The current time, ISO-8601 (naive means UTC). Default: the clock.", show_default=False
        ),
    ] = None,
) -> None:
    """Create an account for the web workspace; the password is asked twice (or read with --password-stdin)."""

    def go() -> None:
        from cadence.services.users import add_user, parse_role, validate_password

        chosen = parse_role(role)
        password = validate_password(read_password(password_stdin))
        with session() as s:
            user = add_user(s, email, role=chosen, password=password, now=parse_instant(now), name=name)
            typer.echo(f"added {user.role} {user.name} <{user.email}>: they can log in to `cadence web` now")

    run(go)


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
    ] = False,
) -> None:
    """Give an account a new password (asked twice, or read with --password-stdin); its open sessions end."""

    def go() -> None:
        from cadence.services.users import set_password, validate_password

        password = validate_password(read_password(password_stdin))
        with session() as s:
            user = set_password(s, email, password)
        typer.echo(f"new password for {user.email}: logged out everywhere")

    run(go)


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False) -> None:
    """List the accounts (never their passwords)."""

    def go() -> None:
        from cadence.services.users import list_users

        with session() as s:
            users = list_users(s)
        if as_json:
            emit_json(users)
        elif not users:
            typer.echo("no accounts yet: add one with `cadence users add EMAIL --role ROLE`")
        else:
            rows = [
                (u["email"], u["name"], u["role"], "yes" if u["active"] else "no", (u["last_login_at"] or "")[:16])
                for u in users
            ]
            typer.echo(table(rows, ["email", "name", "role", "active", "last login (UTC)"]))

    run(go)


@users_app.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="The account's email address.")]) -> None:
    """Disable an account: it cannot log in any more, and its open sessions end at once."""

    def go() -> None:
        from cadence.services.users import disable_user

        with session() as s:
            user = disable_user(s, email)
        typer.echo(f"disabled {user.email}: logged out everywhere")

    run(go)
