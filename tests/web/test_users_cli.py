"""``cadence users``: accounts are added with a password that is never an argument, listed and disabled."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from cadence import cli, cli_users
from cadence.adapters.models import User, WebSession
from cadence.services.context import Context
from cadence.services.reps import add_rep
from tests.conftest import TEMPLATES
from tests.web.workspace import CHEAP, NOW, PASSWORD

app = typer.Typer()
app.add_typer(cli_users.users_app, name="users")  # as cadence.cli registers it


@app.callback()
def main() -> None:
    """The ``cadence`` app, with only its ``users`` commands."""


class UsersCli:
    """Runs ``cadence users ...`` in this process against the test database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, stdin: str | None = None, expect: int = 0) -> tuple[str, str]:
        cli.reset_context()
        result = CliRunner().invoke(app, ["users", *args], input=stdin, env=self.env, catch_exceptions=False)
        cli.reset_context()
        assert result.exit_code == expect, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout, result.stderr


@pytest.fixture
def users_cli(
    database_url: str, ctx: Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cheap_hasher: object
) -> UsersCli:
    monkeypatch.chdir(tmp_path)
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@cadence.example", "Rita Alvarez", now=NOW)
    return UsersCli({"CADENCE_DATABASE_URL": database_url, "CADENCE_TEMPLATES_DIR": str(TEMPLATES)})


def accounts(ctx: Context) -> list[tuple[str, str, str, bool, int | None]]:
    with ctx.sessions() as s:
        rows = s.execute(select(User.email, User.name, User.role, User.active, User.rep_id).order_by(User.email))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_an_account_is_added_with_the_password_from_standard_input(users_cli: UsersCli, ctx: Context) -> None:
    out, _ = users_cli("add", "Rita@Cadence.example", "--role", "rep", "--password-stdin", stdin=PASSWORD + "\n")
    assert out == "added rep Rita Alvarez <rita@cadence.example>: they can log in to `cadence web` now\n"
    users_cli("add", "max@cadence.example", "--role", "manager", "--name", "Max Manager", "--password-stdin",
              stdin=PASSWORD)  # fmt: skip
    [manager, (email, name, role, active, rep_id)] = accounts(ctx)  # by address
    assert (email, name, role, active) == ("rita@cadence.example", "Rita Alvarez", "rep", True)
    assert rep_id is not None  # linked to the rep of the same address
    assert manager == ("max@cadence.example", "Max Manager", "manager", True, None)
    with ctx.sessions() as s:
        stored = s.scalars(select(User.password_hash).where(User.email == "rita@cadence.example")).one()
    assert stored.startswith("$argon2id$")
    assert CHEAP.verify(stored, PASSWORD)


def test_at_a_terminal_the_password_is_asked_twice(
    users_cli: UsersCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_users, "_interactive", lambda: True)
    out, _ = users_cli("add", "mia@cadence.example", "--role", "marketer", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert "Password: \nRepeat the password: \n" in out
    assert PASSWORD not in out  # not echoed
    assert accounts(ctx)[0][:3] == ("mia@cadence.example", "mia", "marketer")


def test_without_a_terminal_the_password_must_come_on_standard_input(users_cli: UsersCli, ctx: Context) -> None:
    _, err = users_cli("add", "mia@cadence.example", "--role", "marketer", expect=1)
    assert "give the password on standard input with --password-stdin, or run at a terminal" in err
    _, err = users_cli("add", "mia@cadence.example", "--role", "marketer", "--password-stdin", stdin="", expect=1)
    assert "standard input has no password" in err
    assert accounts(ctx) == []


def test_the_password_is_never_a_command_line_argument(users_cli: UsersCli) -> None:
    _, err = users_cli("add", "mia@cadence.example", "--role", "marketer", "--password", PASSWORD, expect=2)
    assert "No such option: --password" in err


def test_an_account_is_refused_for_a_bad_role_a_short_password_a_rep_without_a_rep_or_twice(
    users_cli: UsersCli, ctx: Context
) -> None:
    add = ("add", "--password-stdin")
    _, err = users_cli(*add, "mia@cadence.example", "--role", "admin", stdin=PASSWORD, expect=1)
    assert "unknown role 'admin'; choose one of rep, marketer, manager" in err
    _, err = users_cli(*add, "mia@cadence.example", "--role", "marketer", stdin="short", expect=1)
    assert "a password needs at least 12 characters" in err
    _, err = users_cli(*add, "sam@cadence.example", "--role", "rep", stdin=PASSWORD, expect=1)
    assert "no rep with email sam@cadence.example: add the rep first" in err
    users_cli(*add, "mia@cadence.example", "--role", "marketer", stdin=PASSWORD)
    _, err = users_cli(*add, "MIA@cadence.example", "--role", "manager", stdin=PASSWORD, expect=1)
    assert "an account for mia@cadence.example exists already" in err
    assert [row[:3] for row in accounts(ctx)] == [("mia@cadence.example", "mia", "marketer")]


def test_accounts_are_listed_without_their_hashes_and_disabled_with_their_sessions(
    users_cli: UsersCli, ctx: Context
) -> None:
    users_cli("add", "rita@cadence.example", "--role", "rep", "--password-stdin", stdin=PASSWORD)
    out, _ = users_cli("list")
    assert "rita@cadence.example  Rita Alvarez  rep   yes" in out
    assert "argon2" not in out
    out, _ = users_cli("list", "--json")
    assert '"role": "rep"' in out
    assert "argon2" not in out
    with ctx.sessions() as s, s.begin():
        user = s.scalars(select(User).where(User.email == "rita@cadence.example")).one()
        s.add(WebSession(token_hash="0" * 64, user_id=user.id, csrf_token="x", created_at=NOW, last_seen_at=NOW))
    out, _ = users_cli("disable", "rita@cadence.example")
    assert out == "disabled rita@cadence.example: logged out everywhere\n"
    assert accounts(ctx)[0][3] is False
    with ctx.sessions() as s:
        assert s.scalars(select(WebSession)).all() == []
    _, err = users_cli("disable", "nobody@cadence.example", expect=1)
    assert "no account for nobody@cadence.example" in err
