"""A private Dovecot IMAP server for tests: Debian's own dovecot, on a free port, with its own config.

Nothing of the system's Dovecot is used but its binaries: the configuration, the runtime directory
(``base_dir``), the state, the log, the users and their Maildirs all live under one directory given
by the caller, and the server listens on 127.0.0.1 only, in plain text (``ssl = no``).

The master runs as root (as a packaged Dovecot does) and drops privileges to the ``dovecot`` and
``dovenull`` system users, which the ``dovecot-core`` package creates; the mail users are virtual
(a passwd-file) and own their Maildirs with the ``dovecot`` user's uid and gid. So the directory
given must be reachable by those users: its parents must be searchable by others (``/tmp/x`` made
by :func:`tempfile.mkdtemp` is; pytest's ``tmp_path`` is not, its base is mode 0700).

Install the binaries with ``scripts/install-system-packages.sh`` (package ``dovecot-imapd``).
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.support.ports import free_port

# Debian puts the daemons in /usr/sbin, which is not on a non-root PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])

INTERNAL_USER = "dovecot"
LOGIN_USER = "dovenull"
INSTALL_HINT = "dovecot-imapd not installed: run scripts/install-system-packages.sh"

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_FORBIDDEN_IN_PASSWD_FILE = re.compile(r"[:\s]")


class DovecotError(RuntimeError):
    """The private Dovecot could not be set up, started, stopped or used."""


def find_executable(name: str) -> str | None:
    """The path of one of Dovecot's programs (``dovecot``, ``doveadm``), or ``None`` when not installed."""
    return shutil.which(name, path=_SEARCH_PATH)


def dovecot_version(executable: str | None = None) -> tuple[int, ...] | None:
    """The installed Dovecot's version, e.g. ``(2, 3, 19, 1)``, or ``None`` when Dovecot is not installed."""
    executable = executable or find_executable("dovecot")
    if executable is None:
        return None
    output = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    match = re.match(r"\s*(\d+(?:\.\d+)*)", output)
    if match is None:
        raise DovecotError(f"cannot read the version in `dovecot --version`: {output!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def missing_requirement() -> str | None:
    """Why a :class:`DovecotServer` cannot run on this machine, or ``None`` when it can."""
    if find_executable("dovecot") is None or find_executable("doveadm") is None:
        return INSTALL_HINT
    try:
        pwd.getpwnam(INTERNAL_USER)
        pwd.getpwnam(LOGIN_USER)
    except KeyError:
        return f"the system users {INTERNAL_USER} and {LOGIN_USER} are missing: reinstall dovecot-core"
    if os.geteuid() != 0:
        return "the private Dovecot's master must run as root (as the packaged one does)"
    return None


@dataclass(frozen=True)
class ImapUser:
    """A virtual mail user of the private Dovecot."""

    name: str
    password: str
    home: Path


class DovecotServer:
    """A private Dovecot IMAP server under ``root``, listening in plain text on ``host:port``.

    ``port=0`` picks a free port at :meth:`start` (and another one if that port is taken in between).
    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Users are added with
    :meth:`add_user`, before or after the start (Dovecot re-reads its passwd-file when it changes).
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 15.0) -> None:
        self.root = root.resolve()
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.config_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self.stderr_path = self.root / "dovecot.stderr"
        self.users_path = self.root / "users"
        self.base_dir = self.root / "run"
        self.state_dir = self.root / "state"
        self.homes = self.root / "home"
        self._users: dict[str, ImapUser] = {}
        self._process: subprocess.Popen[bytes] | None = None
        # A token in the greeting tells our server from whatever else might answer on the port.
        self._greeting = f"cadence test dovecot {secrets.token_hex(4)} ready"
        self._version: tuple[int, ...] | None = None

    # -- users ---------------------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> ImapUser:
        """Add (or replace) a mail user with a Maildir under this server's directory."""
        if not name or _FORBIDDEN_IN_PASSWD_FILE.search(name) or "/" in name or name.startswith("."):
            raise ValueError(f"not a usable user name for the passwd-file: {name!r}")
        if _FORBIDDEN_IN_PASSWD_FILE.search(password):
            raise ValueError("the password may not contain ':' or white space (passwd-file format)")
        user = ImapUser(name=name, password=password, home=self.homes / name)
        self._users[name] = user
        if self.running:
            self._write_users()
            self._wait_until_login_works(user)
        return user

    @property
    def users(self) -> dict[str, ImapUser]:
        """The mail users, by name (a copy)."""
        return dict(self._users)

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def version(self) -> tuple[int, ...]:
        """The version of the Dovecot that runs this server."""
        if self._version is None:
            version = dovecot_version(self._executable("dovecot"))
            if version is None:
                raise DovecotError(INSTALL_HINT)
            self._version = version
        return self._version

    @property
    def running(self) -> bool:
        """True while the master process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Write the configuration, start the master and wait until IMAP answers.

        Raises :class:`DovecotError`, with the log, when it does not come up within ``start_timeout``.
        """
        if self.running:
            raise DovecotError("the private Dovecot is already running")
        problem = missing_requirement()
        if problem is not None:
            raise DovecotError(problem)
        self._prepare_directories()
        attempts = 3 if self.port == 0 else 1
        pick_port = self.port == 0
        for attempt in range(1, attempts + 1):
            if pick_port:
                self.port = free_port(self.host)
            self._write_users()
            self.config_path.write_text(self.render_config())
            try:
                self._start_master()
                break
            except _PortTaken:
                if not pick_port:
                    raise DovecotError(f"port {self.port} on {self.host} is taken:\n{self.log()}") from None
                if attempt == attempts:
                    raise DovecotError(f"no free port after {attempts} tries:\n{self.log()}") from None
        atexit.register(self.stop)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the master and its children; does nothing when not running."""
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log(self) -> str:
        """What Dovecot wrote to its log file and to its standard error so far."""
        parts = []
        for path in (self.stderr_path, self.log_path):
            if path.exists():
                text = path.read_text(errors="replace").strip()
                if text:
                    parts.append(f"--- {path} ---\n{text}")
        return "\n".join(parts) or "(Dovecot logged nothing)"

    # -- IMAP ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self, user: str, timeout: float = 10.0) -> Iterator[imaplib.IMAP4]:
        """An IMAP connection logged in as ``user``, logged out at the end."""
        account = self._user(user)
        imap = imaplib.IMAP4(self.host, self.port, timeout=timeout)
        try:
            imap.login(account.name, account.password)
            yield imap
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def append(
        self, user: str, folder: str, message: bytes, flags: Iterable[str] = (), received: datetime | None = None
    ) -> int | None:
        """Put ``message`` into ``user``'s ``folder`` (created when missing) with IMAP APPEND; ``received``: the
        internal date the server keeps for it (default: now).

        Returns the UID the server gave the message (from the UIDPLUS ``APPENDUID`` reply), if it said.
        """
        with self.connect(user) as imap:
            if folder.upper() != "INBOX":
                typ, _ = imap.select(_quote(folder), readonly=True)
                if typ != "OK":
                    _check(imap.create(_quote(folder)), f"CREATE {folder}")
            flag_list = f"({' '.join(flags)})" if flags else None
            typ, data = imap.append(_quote(folder), flag_list, received, message)
            _check((typ, data), f"APPEND to {folder}")
            for item in data:
                if isinstance(item, bytes) and (match := _APPENDUID.search(item)):
                    return int(match.group(2))
            return None

    # -- internals -----------------------------------------------------------------------------

    def render_config(self) -> str:
        """The private configuration file, in the syntax of the installed Dovecot (2.3 or 2.4)."""
        internal = pwd.getpwnam(INTERNAL_USER)
        settings = {
            "root": self.root,
            "base_dir": self.base_dir,
            "state_dir": self.state_dir,
            "log_path": self.log_path,
            "users_path": self.users_path,
            "host": self.host,
            "port": self.port,
            "first_valid_uid": internal.pw_uid,
            "greeting": self._greeting,
            "instance": f"cadence-test-{self.port}",
        }
        template = _CONFIG_2_4 if self.version >= (2, 4) else _CONFIG_2_3
        return template.format(**settings)

    def _executable(self, name: str) -> str:
        path = find_executable(name)
        if path is None:
            raise DovecotError(INSTALL_HINT)
        return path

    def _user(self, name: str) -> ImapUser:
        try:
            return self._users[name]
        except KeyError:
            raise DovecotError(f"no such user on the private Dovecot: {name!r} (add it with add_user)") from None

    def _prepare_directories(self) -> None:
        internal = pwd.getpwnam(INTERNAL_USER)
        self.root.mkdir(parents=True, exist_ok=True)
        _check_reachable(self.root, internal.pw_uid, internal.pw_gid)
        self.root.chmod(0o755)
        for directory in (self.state_dir, self.homes):
            directory.mkdir(exist_ok=True)
            directory.chmod(0o755)
        # The master makes base_dir itself, and insists on owning it.
        if self.base_dir.exists():
            shutil.rmtree(self.base_dir)

    def _write_users(self) -> None:
        internal = pwd.getpwnam(INTERNAL_USER)
        lines = []
        for user in self._users.values():
            user.home.mkdir(parents=True, exist_ok=True)
            os.chown(user.home, internal.pw_uid, internal.pw_gid)
            user.home.chmod(0o700)
            lines.append(f"{user.name}:{{PLAIN}}{user.password}:{internal.pw_uid}:{internal.pw_gid}::{user.home}::\n")
        # Written whole and renamed, so that Dovecot never reads half a file; readable by the auth
        # process, which runs as the dovecot user.
        partial = self.users_path.with_suffix(".partial")
        partial.write_text("".join(lines))
        os.chown(partial, 0, grp.getgrnam(INTERNAL_USER).gr_gid)
        partial.chmod(0o640)
        partial.replace(self.users_path)

    def _wait_until_login_works(self, user: ImapUser, timeout: float = 5.0) -> None:
        # Dovecot re-reads a changed passwd-file on the next lookup, but looks at it at most once a second.
        # A userdb lookup is cheap to repeat (a failed login costs 0.5 s), so poll that, then check the login.
        doveadm = [self._executable("doveadm"), "-c", str(self.config_path)]
        deadline = time.monotonic() + timeout
        for command in (["user", user.name], ["auth", "test", user.name, user.password]):
            while True:
                result = subprocess.run(
                    [*doveadm, *command], capture_output=True, text=True, timeout=timeout, check=False
                )
                if result.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise DovecotError(
                        f"Dovecot does not accept the new user {user.name}:\n{result.stderr}\n{self.log()}"
                    )
                time.sleep(0.05)

    def _start_master(self) -> None:
        for path in (self.log_path, self.stderr_path):
            path.unlink(missing_ok=True)
        with self.stderr_path.open("wb") as stderr:
            self._process = subprocess.Popen(
                [self._executable("dovecot"), "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                # Its own session: a Ctrl-C meant for pytest does not race the fixture's teardown.
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._process.poll() is not None:
                self._process = None
                log = self.log()
                if "Address already in use" in log:
                    raise _PortTaken
                raise DovecotError(f"dovecot exited while starting, see its log:\n{log}")
            if self._answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                where = f"{self.host}:{self.port}"
                raise DovecotError(
                    f"dovecot did not answer IMAP on {where} within {self.start_timeout}s:\n{self.log()}"
                )
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                greeting = sock.makefile("rb").readline(4096)
        except OSError:
            return False
        return greeting.startswith(b"* OK") and self._greeting.encode() in greeting


class _PortTaken(Exception):
    """The port picked for IMAP was taken before Dovecot could bind it."""


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(response: tuple[str, Sequence[object]], what: str) -> None:
    typ, data = response
    if typ != "OK":
        raise DovecotError(f"IMAP {what} failed: {typ} {data!r}")


def _check_reachable(directory: Path, uid: int, gid: int) -> None:
    """Raise when the user ``uid`` (group ``gid``) cannot search every parent of ``directory``."""
    for parent in directory.parents:
        mode = parent.stat()
        if mode.st_uid == uid:
            allowed = bool(mode.st_mode & stat.S_IXUSR)
        elif mode.st_gid == gid:
            allowed = bool(mode.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(mode.st_mode & stat.S_IXOTH)
        if not allowed:
            raise DovecotError(
                f"the {INTERNAL_USER} user cannot reach {directory}: {parent} is mode "
                f"{stat.filemode(mode.st_mode)}; use a directory made by tempfile.mkdtemp() under /tmp"
            )


# Dovecot 2.3 (Debian 12). Only this file is read: nothing from /etc/dovecot is included.
_CONFIG_2_3 = """\
# Private Dovecot for cadence's tests, under {root}. Written by tests/support/dovecot.py.
instance_name = {instance}
protocols = imap
listen = {host}
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log_path}
info_log_path = {log_path}
login_greeting = {greeting}

ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# A wrong password is answered at once, not after the usual 2 seconds.
auth_failure_delay = 0

default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {first_valid_uid}
last_valid_uid = 0

mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN {users_path}
}}
userdb {{
  driver = passwd-file
  args = {users_path}
}}

service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}

# The auth penalty (Dovecot delays every login from an address by up to 15 s after a failed one) would
# make one test of a wrong password slow down all the others: without its anvil socket it is off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

# Dovecot 2.4 renamed and restructured settings (dovecot_config_version, auth_allow_cleartext,
# mail_driver/mail_path, named passdb/userdb blocks). Written from the 2.4 documentation; Debian 12
# ships 2.3, so this variant has not been run here.
_CONFIG_2_4 = """\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
# Private Dovecot for cadence's tests, under {root}. Written by tests/support/dovecot.py.
instance_name = {instance}
protocols = imap
listen = {host}
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log_path}
info_log_path = {log_path}
login_greeting = {greeting}

ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain login
auth_failure_delay = 0

default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {first_valid_uid}
last_valid_uid = 0

mail_driver = maildir
mail_path = ~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}

passdb passwd-file {{
  passwd_file_path = {users_path}
}}
userdb passwd-file {{
  passwd_file_path = {users_path}
}}

service imap-login {{
  inet_listener imap {{
    listen = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}

# The auth penalty (Dovecot delays every login from an address by up to 15 s after a failed one) would
# make one test of a wrong password slow down all the others: without its anvil socket it is off.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
