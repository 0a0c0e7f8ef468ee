"""``cadence demo``: run cadence on sample data with nothing configured."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cadence.cli.common import context, run
from cadence.cli.runs import quiet_prefect


def demo(
    folder: Annotated[Path, typer.Option(help="Where the demo keeps its database and mail.")] = Path("var/demo"),
) -> None:
    """Run cadence on sample data with nothing configured (a fresh SQLite database under ./var/demo)."""

    def go() -> None:
        quiet_prefect()
        os.environ.setdefault("PREFECT_HOME", str((folder.parent / "prefect").resolve()))
        from cadence.demo import run_demo

        templates = context().settings.templates_dir
        run_demo(folder, templates, typer.echo).close()  # it ends with how to open the workspace

    run(go)
