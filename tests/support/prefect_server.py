"""A real Prefect server for the tests: ``prefect server start`` on a database of its own, and its CLI.

One server runs for the whole session (the ``prefect_server`` fixture of ``tests.support.servers``):
the flow tests' runs in this process report to it (:func:`pointed_at`), and so do the reliability
tests' advance runs in processes of their own, killed with SIGKILL. The deployment test deploys to it
and starts a process worker of its own (it is the only test that deploys).
The server keeps its state in PostgreSQL, not SQLite: on SQLite, Prefect 3.8's server can stall
for a minute on "database is locked" while a worker polls (PrefectHQ/prefect#23051).
"""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _pg_admin_url
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv's bin, where `prefect` is installed

SERVER_STARTUP_SECONDS = 90
COMMAND_SECONDS = 90
STOP_SECONDS = 15


def tail(path: Path, lines: int = 80) -> str:
    """The last ``lines`` lines of a log file."""
    if not path.exists():
        return f"({path} was never written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Service:
    """A long-running subprocess (the server, the worker) in a process group of its own, logging to a file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, args: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path) -> Service:
        with log.open("wb") as out:  # the child keeps its own descriptor; ours is closed at once
            process = subprocess.Popen(
                list(args),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, process, log)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Terminate the process group (the flow runs a worker started, too); kill it after a while."""
        if not self.running():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(STOP_SECONDS)
        except ProcessLookupError:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(STOP_SECONDS)

    def report(self) -> str:
        return f"----- {self.name} (exit code {self.process.poll()}), last lines of {self.log} -----\n{tail(self.log)}"


class PrefectStack:
    """A Prefect server on a free local port, and the prefect CLI pointed at it."""

    server: Service

    def __init__(self, root: Path, stack: ExitStack) -> None:
        self.root = root
        self.exit_stack = stack
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.home = root / "prefect-home"
        self.home.mkdir(parents=True)
        self.logs: list[Path] = []
        self.services: list[Service] = []

    def environment(self, **extra: str) -> dict[str, str]:
        """The environment of every prefect command: this server, this home, nothing from ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CADENCE_"))}
        env.update(
            PATH=os.pathsep.join([str(BIN), env.get("PATH", os.defpath)]),
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            PREFECT_HOME=str(self.home),
            PREFECT_API_URL=self.api_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_CLI_PROMPT="false",
            PREFECT_LOGGING_COLORS="false",
        )
        env.update(extra)
        return env

    def start_server(self) -> None:
        """Start ``prefect server start`` on a database of its own (it takes seconds: see :meth:`wait_for_server`)."""
        env = self.environment(
            PREFECT_API_DATABASE_CONNECTION_URL=self.create_database(),
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_UI_ENABLED="false",
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        )
        self.server = self.start(
            "prefect server",
            ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port), "--no-ui"],
            env,
        )

    def create_database(self) -> str:
        """A new, empty database for the Prefect server on the local PostgreSQL server, dropped at the end."""
        admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        name = f"cadence_prefect_{os.getpid()}_{uuid.uuid4().hex[:8]}"

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        drop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.exit_stack.callback(admin.dispose)
        self.exit_stack.callback(drop)  # after the server has stopped
        url = _pg_admin_url().set(drivername="postgresql+asyncpg", database=name)
        return url.render_as_string(hide_password=False)

    def wait_for_server(self) -> None:
        """Return once the server answers its health check; fail the test if it does not in time."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + SERVER_STARTUP_SECONDS
        while time.monotonic() < deadline:
            if not self.server.running():
                pytest.fail(f"the Prefect server exited while starting\n{self.server.report()}")
            try:
                with opener.open(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        pytest.fail(f"the Prefect server did not answer within {SERVER_STARTUP_SECONDS}s\n{self.server.report()}")

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str], cwd: Path = ROOT) -> Service:
        log = self.root / f"{name.replace(' ', '-')}.log"
        self.logs.append(log)
        service = Service.start(name, [str(BIN / args[0]), *args[1:]], env, log, cwd=cwd)
        self.services.append(service)
        self.exit_stack.callback(service.stop)
        return service

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``prefect ARGS`` from the project's root to completion; fail the test unless it succeeds."""
        log = self.root / f"prefect-{len(self.logs)}-{args[0]}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            try:
                completed = subprocess.run(
                    [str(BIN / "prefect"), *args],
                    env=dict(env or self.environment()),
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=COMMAND_SECONDS,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"prefect {' '.join(args)} did not finish within {COMMAND_SECONDS}s\n{tail(log)}")
        output = log.read_text(errors="replace")
        if completed.returncode != 0:
            pytest.fail(f"prefect {' '.join(args)} exited {completed.returncode}\n{tail(log)}")
        return output

    def report(self) -> str:
        return "\n".join(s.report() for s in self.services)


@contextmanager
def pointed_at(api_url: str) -> Iterator[None]:
    """Flows run in this process report to the Prefect server at ``api_url`` while inside.

    What ``prefect_test_harness`` does once its own server is up, for a server that runs already:
    the API URL as a temporary setting, also as the process-global settings (code in a context
    copied before this one sees it too), and the log and event workers drained on the way out.
    """
    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.utilities.asyncutils import run_coro_as_sync

    with ExitStack() as stack:
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
        stack.enter_context(prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()))
        yield

        async def drain() -> None:  # as the harness does: in async code, drain() returns an awaitable
            try:
                logs = APILogWorker.instance().drain()
                if inspect.isawaitable(logs):
                    await logs
            except RuntimeError:  # never started
                pass
            events = EventsWorker.drain_all()
            if inspect.isawaitable(events):
                await events

        run_coro_as_sync(drain())
