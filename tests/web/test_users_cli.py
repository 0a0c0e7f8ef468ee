"""``cadence users``: accounts get a password that is never an argument; they are listed, disabled, given a new one.

Every command runs through the real CLI (``cadence.cli.app``, as the console script does).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2.exceptions import VerificationError
from sqlalchemy import select

from cadence.adapters.models import LoginFailure, User, WebSession
from cadence.cli import users as cli_users
from cadence.services.context import Context
from cadence.services.reps import add_rep
from tests.conftest import Cli
from tests.web.workspace import CHEAP, NOW, PASSWORD


class UsersCli:
    """Runs ``cadence users ...`` through the real CLI, against the test database."""

    def __init__(self, run_cli: Cli) -> None:
        self.run_cli = run_cli

    def __call__(self, *args: str, stdin: str | None = None, expect: int = 0) -> tuple[str, str]:
        result = self.run_cli("users", *args, stdin=stdin, expect=expect)
        return result.stdout, result.stderr


@pytest.fixture
def users_cli(run_cli: Cli, ctx: Context, cheap_hasher: object) -> UsersCli:
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@cadence.example", "Rita Alvarez", now=NOW)
    return UsersCli(run_cli)


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


@pytest.mark.one_database
def test_at_a_terminal_the_password_is_asked_twice(
    users_cli: UsersCli, ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_users, "_interactive", lambda: True)
    out, _ = users_cli("add", "mia@cadence.example", "--role", "marketer", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert "Password: \nRepeat the password: \n" in out
    assert PASSWORD not in out  # not echoed
    assert accounts(ctx)[0][:3] == ("mia@cadence.example", "mia", "marketer")


@pytest.mark.one_database
def test_without_a_terminal_the_password_must_come_on_standard_input(users_cli: UsersCli, ctx: Context) -> None:
    _, err = users_cli("add", "mia@cadence.example", "--role", "marketer", expect=1)
    assert "give the password on standard input with --password-stdin, or run at a terminal" in err
    _, err = users_cli("add", "mia@cadence.example", "--role", "marketer", "--password-stdin", stdin="", expect=1)
    assert "standard input has no password" in err
    assert accounts(ctx) == []


@pytest.mark.one_database
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


def test_a_new_password_replaces_the_old_one_and_ends_the_sessions(users_cli: UsersCli, ctx: Context) -> None:
    users_cli("add", "rita@cadence.example", "--role", "rep", "--password-stdin", stdin=PASSWORD)
    with ctx.sessions() as s, s.begin():
        user = s.scalars(select(User).where(User.email == "rita@cadence.example")).one()
        s.add(WebSession(token_hash="0" * 64, user_id=user.id, csrf_token="x", created_at=NOW, last_seen_at=NOW))
        s.add(LoginFailure(email="rita@cadence.example", client="10.0.0.1", failed_at=NOW))
    new = "a brand new passphrase"
    out, _ = users_cli("set-password", "RITA@cadence.example", "--password-stdin", stdin=new + "\n")
    assert out == "new password for rita@cadence.example: logged out everywhere\n"
    with ctx.sessions() as s:
        stored = s.scalars(select(User.password_hash).where(User.email == "rita@cadence.example")).one()
        assert s.scalars(select(WebSession)).all() == []
        assert s.scalars(select(LoginFailure)).all() == []  # a locked-out user may log in with the new one
    assert CHEAP.verify(stored, new)
    with pytest.raises(VerificationError):
        CHEAP.verify(stored, PASSWORD)
    _, err = users_cli("set-password", "rita@cadence.example", "--password-stdin", stdin="short", expect=1)
    assert "a password needs at least 12 characters" in err
    _, err = users_cli("set-password", "nobody@cadence.example", "--password-stdin", stdin=new, expect=1)
    assert "no account for nobody@cadence.example" in err


@pytest.mark.one_database
def test_cadence_help_lists_the_users_commands(run_cli: Cli) -> None:
    assert "users" in run_cli("--help").stdout
    out = run_cli("users", "--help").stdout
    for command in ("add", "list", "disable", "set-password"):
        assert command in out


@pytest.mark.one_database
def test_the_installed_cadence_command_adds_an_account(database_url: str, ctx: Context, tmp_path: Path) -> None:
    """The console script itself (a separate process, the production hasher), as an administrator runs it."""
    script = Path(sys.executable).parent / "cadence"
    assert script.exists(), f"{script} is missing: pip install -e ."
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    env["CADENCE_DATABASE_URL"] = database_url
    done = subprocess.run(
        [str(script), "users", "add", "max@cadence.example", "--role", "manager", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "added manager max <max@cadence.example>: they can log in to `cadence web` now\n"
    with ctx.sessions() as s:
        stored = s.scalars(select(User.password_hash).where(User.email == "max@cadence.example")).one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # the production parameters
