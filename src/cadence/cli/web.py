"""``cadence web``: serve the web workspace and the unsubscribe links."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import parse_instant, run


def web(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.", min=1, max=65535)] = 8000,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Start the app's clock at this ISO-8601 time (the demo's, say); it runs on. Default: the clock.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the web app: the workspace of reps, marketers and managers, and the unsubscribe links of the emails."""

    def go() -> None:
        from cadence.web.server import serve as serve_web  # `serve` is the Prefect command

        serve_web(host=host, port=port, now=parse_instant(now) if now is not None else None)

    run(go)
