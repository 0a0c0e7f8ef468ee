"""A private DNS server for tests: Debian's own dnsmasq, on a free port, serving the TXT records given.

Nothing of the system's dnsmasq is used but its binary: the configuration lives in a directory given
by the caller, only that file is read (no ``/etc/dnsmasq.conf``, no ``/etc/hosts``, no
``/etc/resolv.conf``), the server listens on 127.0.0.1 only (UDP and TCP), and it forwards nothing:
a name under one of the ``local`` domains that has no record is answered NXDOMAIN at once.

dnsmasq reads TXT records from its configuration at start only, so a server is started with the
records a test needs (starting one takes a few milliseconds).

Install the binary with ``scripts/install-system-packages.sh`` (package ``dnsmasq-base``: the
binary without the packaged service).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.ports import free_port

# Debian puts the daemon in /usr/sbin, which is not on a non-root PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
INSTALL_HINT = "dnsmasq not installed: run scripts/install-system-packages.sh (package dnsmasq-base)"
_MAX_STRING = 255  # one character-string of a TXT record; longer values are split (RFC 7208 3.3, RFC 6376 3.6.2.2)


class DnsmasqError(RuntimeError):
    """The private dnsmasq could not be set up, started or stopped."""


def find_executable() -> str | None:
    """The path of the ``dnsmasq`` binary, or ``None`` when it is not installed."""
    return shutil.which("dnsmasq", path=_SEARCH_PATH)


def missing_requirement() -> str | None:
    """Why a :class:`DnsmasqServer` cannot run on this machine, or ``None`` when it can."""
    return INSTALL_HINT if find_executable() is None else None


def _quoted(value: str) -> str:
    if any(c in value for c in '"\\\n\r') or not value.isprintable():
        raise ValueError(f"not a TXT string the test server can serve: {value!r}")
    return f'"{value}"'


class DnsmasqServer:
    """A private dnsmasq under ``root`` answering for the ``local_domains`` on ``host:port`` (UDP and TCP).

    ``txt`` maps a name to its TXT records; each record is one string (split into strings of 255
    characters, as a zone file would) or a sequence of strings. ``port=0`` picks a free port.
    """

    def __init__(
        self,
        root: Path,
        txt: Mapping[str, Iterable[str | Sequence[str]]],
        *,
        local_domains: Sequence[str] = ("test", "example"),
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 10.0,
    ) -> None:
        self.root = root
        self.txt = {name: [r if isinstance(r, str) else tuple(r) for r in records] for name, records in txt.items()}
        self.local_domains = tuple(local_domains)
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.config_path = root / "dnsmasq.conf"
        self.log_path = root / "dnsmasq.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def render_config(self) -> str:
        """The private configuration file."""
        lines = [
            "# Private dnsmasq for cadence's tests. Written by tests/support/dnsmasq.py.",
            f"port={self.port}",
            f"listen-address={self.host}",
            "bind-interfaces",
            "no-resolv",
            "no-hosts",
            "no-poll",
            "no-negcache",
            "pid-file=",
            "log-queries",
            f"log-facility={self.log_path}",
        ]
        lines += [f"local=/{domain}/" for domain in self.local_domains]
        for name, records in self.txt.items():
            for record in records:
                strings = _split(record) if isinstance(record, str) else record
                lines.append(f"txt-record={name}," + ",".join(_quoted(s) for s in strings))
        return "\n".join(lines) + "\n"

    def start(self) -> Self:
        """Write the configuration, start dnsmasq in the foreground and wait until it answers."""
        executable = find_executable()
        if executable is None:
            raise DnsmasqError(INSTALL_HINT)
        if self.running:
            raise DnsmasqError("the private dnsmasq is already running")
        self.root.mkdir(parents=True, exist_ok=True)
        pick_port = self.port == 0
        for attempt in range(1, 4 if pick_port else 2):
            if pick_port:
                self.port = free_port(self.host)
            self.config_path.write_text(self.render_config())
            self.log_path.unlink(missing_ok=True)
            # --conf-file names the only file read; -k keeps it in the foreground, so that we own the process.
            self._process = subprocess.Popen(
                [executable, f"--conf-file={self.config_path}", "--keep-in-foreground"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            try:
                self._wait_until_answering()
            except _PortTaken:
                if not pick_port or attempt == 3:
                    raise DnsmasqError(f"port {self.port} on {self.host} is taken") from None
                continue
            atexit.register(self.stop)
            return self
        raise DnsmasqError("dnsmasq did not start")  # pragma: no cover - the loop returns or raises

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server; does nothing when not running."""
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if process.stderr is not None:
            process.stderr.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log(self) -> str:
        """What dnsmasq logged so far (its start and every query)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(dnsmasq logged nothing)"

    def _wait_until_answering(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                self._process = None
                if "Address already in use" in stderr:
                    raise _PortTaken
                raise DnsmasqError(f"dnsmasq exited while starting: {stderr.strip()}\n{self.log()}")
            if self._answers_tcp():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise DnsmasqError(f"dnsmasq did not listen on {self.host}:{self.port}:\n{self.log()}")
            time.sleep(0.02)

    def _answers_tcp(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False


class _PortTaken(Exception):
    pass


def _split(value: str) -> tuple[str, ...]:
    """A long TXT value as strings of at most 255 characters, the way a DNS provider publishes it."""
    return tuple(value[i : i + _MAX_STRING] for i in range(0, len(value), _MAX_STRING)) or ("",)
