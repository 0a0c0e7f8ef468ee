"""The shape of the ``cadence.cli`` package: command modules that only depend on its common module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cadence.cli

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
