"""A private PostgreSQL cluster for tests that stop, restart or crash the server on purpose.

The shared server on 127.0.0.1:5432 is used by the rest of the suite and must never be restarted;
this one is Debian's own binaries (``/usr/lib/postgresql/<version>/bin``: ``initdb``, ``pg_ctl``)
on a cluster of our own: its data directory, its unix socket and its log live in one temporary
directory, it listens on 127.0.0.1 on a free port, and every local connection is trusted (the
superuser is ``postgres``). Run as root (as the tests are here), the server runs as the ``postgres``
system user (``runuser``); run as anyone else, as that user.

fsync is off (the data need not survive the machine, only the server): a crash of the server
(``pg_ctl stop -m immediate``) still loses no committed transaction, since the operating system
keeps what was written.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import sqlalchemy as sa

from tests.support.ports import free_port

BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_USER = "postgres"
INSTALL_HINT = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
COMMAND_SECONDS = 60

ShutdownMode = Literal["smart", "fast", "immediate"]


class ClusterError(RuntimeError):
    """The private cluster could not be set up, started or stopped."""


def server_bin() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl, or None."""
    candidates = []
    for path in Path("/").glob(BIN_GLOB.lstrip("/")):
        version = re.match(r"\d+", path.parent.name)
        if version and (path / "initdb").exists() and (path / "pg_ctl").exists():
            candidates.append((int(version.group()), path))
    return max(candidates)[1] if candidates else None


def missing_requirement() -> str | None:
    """Why a :class:`PostgresCluster` cannot run on this machine, or ``None`` when it can."""
    if server_bin() is None:
        return INSTALL_HINT
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"the system user {SERVER_USER!r} is missing (the server must not run as root)"
        if shutil.which("runuser") is None:
            return "runuser is missing (util-linux): it runs the server as the postgres user"
    return None


class PostgresCluster:
    """A private PostgreSQL server: ``with PostgresCluster() as pg: pg.url("db")``; restart it at will."""

    def __init__(self, root: Path | None = None) -> None:
        binaries = server_bin()
        if binaries is None:
            raise ClusterError(INSTALL_HINT)
        self.bin = binaries
        self._own_root = root is None
        # Not pytest's tmp_path: its base is mode 0700, which the postgres user cannot enter.
        self.root = root or Path(tempfile.mkdtemp(prefix="cadence-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.user = SERVER_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.restarts = 0

    # -- running the binaries ----------------------------------------------------------------------

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin / program), *args]
        return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command

    def _run(self, program: str, *args: str) -> str:
        try:
            done = subprocess.run(
                self._command(program, *args), capture_output=True, text=True, timeout=COMMAND_SECONDS,
                cwd=self.root, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(
                f"{program} {' '.join(args)} did not finish in {COMMAND_SECONDS}s\n{self.tail()}"
            ) from exc
        if done.returncode != 0:
            raise ClusterError(
                f"{program} {' '.join(args)} exited {done.returncode}: {done.stdout}{done.stderr}\n{self.tail()}"
            )
        return done.stdout

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=32MB"
        )

    def tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        if not self.log.exists():
            return f"({self.log} was never written)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    # -- life cycle --------------------------------------------------------------------------------

    def init(self) -> None:
        """Create the cluster (``initdb``, trust authentication, superuser ``postgres``)."""
        if os.geteuid() == 0:
            info = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, info.pw_uid, info.pw_gid)
        self.root.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--locale=C.UTF-8")  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", self._options(),
                  "start")  # fmt: skip

    def stop(self, mode: ShutdownMode = "fast") -> None:
        """Stop the server: ``fast`` ends every session (a clean shutdown), ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop")

    def restart(self, mode: ShutdownMode = "fast", down_for: float = 0.0) -> None:
        """Stop the server with ``mode``, keep it down ``down_for`` seconds, start it again (and wait for it)."""
        self.stop(mode)
        if down_for > 0:
            time.sleep(down_for)
        self.start()
        self.restarts += 1

    def running(self) -> bool:
        """True while the server runs (``pg_ctl status``)."""
        done = subprocess.run(
            self._command("pg_ctl", "-D", str(self.data), "status"), capture_output=True, timeout=COMMAND_SECONDS,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        return done.returncode == 0

    # -- databases ---------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3, as the superuser, over TCP)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create the database ``name`` (dropping any of that name first); return its URL."""
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def __enter__(self) -> Self:
        self.init()
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Remove the cluster's directory (when this object made it)."""
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
