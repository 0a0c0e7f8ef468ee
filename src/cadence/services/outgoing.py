"""Building outgoing emails: render the template, compose the message, serialize it to bytes.

Done for a whole wave at a time, either in the sending process (:func:`build`) or in a process of
its own (:class:`RenderProcess`), so that on a machine with more than one core the rendering does
not hold the event loop that hands messages over to SMTP and commits their outcomes.

The render process is started with ``python -m cadence.services.outgoing``: it reads requests on its
standard input and writes answers on its standard output, each a length-prefixed pickle. It ends
when its standard input closes, which happens when the process that started it ends, however it
ends (a ``kill -9`` included): it never outlives its runner.

This module imports only what rendering needs (the templates and the message builder), so that the
render process starts in a fraction of a second.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

from cadence.adapters.mail import build_message
from cadence.adapters.templates import RenderedEmail, TemplateError, Templates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailIdentity:
    """The settings a message is composed with (a subset of :class:`cadence.settings.Settings`)."""

    mail_domain: str
    reply_to: str | None
    unsubscribe_address: str | None


@dataclass(frozen=True)
class Draft:
    """Everything one email is built from: the step's template and variables, the envelope's people."""

    touch_id: int
    template: str
    variables: dict[str, Any]
    message_id: str
    lead_email: str
    owner_name: str
    owner_email: str | None
    thread_parent: tuple[str, str] | None = None  # (message_id, subject) of the previous email
    rendered: RenderedEmail | None = None  # rendered already (an owner's daily cap renders first)


@dataclass(frozen=True)
class Built:
    """A message as it goes on the wire, and its subject."""

    subject: str
    data: bytes


def headers(identity: MailIdentity, draft: Draft) -> dict[str, str]:
    """Our own headers: one-click unsubscribe (RFC 8058) and the touch the message belongs to."""
    unsubscribe = draft.variables["unsubscribe_url"]
    mailto = (
        identity.unsubscribe_address or identity.reply_to or draft.owner_email or f"unsubscribe@{identity.mail_domain}"
    )
    return {
        "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{mailto}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Cadence-Touch": str(draft.touch_id),
    }


def compose(identity: MailIdentity, draft: Draft, rendered: RenderedEmail, *, now: datetime) -> EmailMessage:
    """The exact message of a rendered email step: headers, text and HTML."""
    subject = rendered.subject
    if draft.thread_parent is not None:
        parent_subject = draft.thread_parent[1]
        subject = parent_subject if parent_subject.lower().startswith("re:") else f"Re: {parent_subject}"
    return build_message(
        from_name=draft.owner_name,
        from_address=draft.owner_email or f"sales@{identity.mail_domain}",
        to_address=draft.lead_email,
        to_name=draft.variables["lead"]["full_name"],
        subject=subject,
        text=rendered.text,
        html=rendered.html,
        message_id=draft.message_id,
        date=now,
        reply_to=identity.reply_to or draft.owner_email,
        in_reply_to=draft.thread_parent[0] if draft.thread_parent else None,
        references=[draft.thread_parent[0]] if draft.thread_parent else (),
        headers=headers(identity, draft),
    )


def build(templates: Templates, identity: MailIdentity, draft: Draft, *, now: datetime) -> Built | str:
    """Render (unless rendered already), compose and serialize one email; a string: why it cannot be built.

    Only a template's fault (:class:`TemplateError`) is answered with a reason; anything else raises.
    """
    rendered = draft.rendered
    if rendered is None:
        try:
            rendered = templates.render_email(draft.template, draft.variables)
        except TemplateError as exc:
            return str(exc)
    message = compose(identity, draft, rendered, now=now)
    return Built(str(message["Subject"]), message.as_bytes())


# -- The render process -------------------------------------------------------------------------------

_HEADER = struct.Struct("!Q")


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> bytes:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the other end closed the pipe")
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the other end closed the pipe mid-message")
    return payload


@dataclass(frozen=True)
class _Request:
    templates_dir: str
    identity: MailIdentity
    now: datetime
    drafts: Sequence[Draft]


class RenderProcess:
    """A process of its own that builds the emails of a wave (:func:`build`), for any number of runs.

    Started on first use and kept for the life of this process. :meth:`build_wave` blocks (call it
    in a worker thread) and answers None when the process could not do it (it failed to start, it
    died, it answered with an error): the caller then builds the wave itself, and a new process is
    started only after :data:`RESTART_AFTER_S`.
    """

    RESTART_AFTER_S = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._failed_at: float | None = None

    @property
    def pid(self) -> int | None:
        """The render process's id, while it runs."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def build_wave(
        self, templates_dir: Path | str, identity: MailIdentity, drafts: Sequence[Draft], *, now: datetime
    ) -> list[Built | str] | None:
        """What :func:`build` gives for each draft, in order; None if the render process could not do it."""
        request = _Request(str(Path(templates_dir).resolve()), identity, now, list(drafts))
        with self._lock:
            process = self._started()
            if process is None:
                return None
            assert process.stdin is not None
            assert process.stdout is not None
            try:
                _write_frame(process.stdin, pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
                status, answer = pickle.loads(_read_frame(process.stdout))
            except Exception as exc:  # whatever went wrong, the caller builds the wave itself
                self._fail(f"it stopped answering ({exc!r}; exit code {process.poll()})")
                return None
            if status != "ok":
                self._fail(f"it failed to build a wave:\n{answer}")
                return None
            built: list[Built | str] = answer
            return built

    def start(self) -> bool:
        """Start the render process now, if it does not run (rather than at the first wave); whether it runs."""
        with self._lock:
            return self._started() is not None

    def close(self) -> None:
        """Let the render process go (it ends as its input closes); the next wave starts a new one."""
        with self._lock:
            self._stop()
            self._failed_at = None

    def _started(self) -> subprocess.Popen[bytes] | None:
        if self._process is not None and self._process.poll() is None:
            return self._process
        if self._process is not None:
            self._fail(f"it ended (exit code {self._process.returncode})")
        if self._failed_at is not None and time.monotonic() - self._failed_at < self.RESTART_AFTER_S:
            return None
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "cadence.services.outgoing"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=os.environ | {"PYTHONPATH": _package_path()},
            )
        except OSError as exc:
            self._fail(f"it could not be started ({exc})")
            return None
        self._failed_at = None
        return self._process

    def _fail(self, why: str) -> None:
        log.warning("the render process is not used (the emails are built in the sending process): %s", why)
        self._stop()
        self._failed_at = time.monotonic()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _package_path() -> str:
    """PYTHONPATH for the render process: where this package is imported from, then the inherited path."""
    here = str(Path(__file__).resolve().parents[2])
    inherited = os.environ.get("PYTHONPATH")
    return f"{here}{os.pathsep}{inherited}" if inherited else here


_SHARED: RenderProcess | None = None
_SHARED_LOCK = threading.Lock()


def render_process() -> RenderProcess:
    """This process's render process (one per process, started on first use, let go at exit)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = RenderProcess()
            atexit.register(_SHARED.close)
        return _SHARED


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The render process's loop: answer each wave with what :func:`build` gives, until the input closes."""
    templates: dict[str, Templates] = {}
    frozen = False
    while True:
        try:
            payload = _read_frame(requests)
        except EOFError:
            return
        try:
            request: _Request = pickle.loads(payload)
            folder = templates.get(request.templates_dir)
            if folder is None:
                folder = templates[request.templates_dir] = Templates(Path(request.templates_dir))
            answer: tuple[str, Any] = (
                "ok",
                [build(folder, request.identity, draft, now=request.now) for draft in request.drafts],
            )
        except Exception:
            answer = ("error", traceback.format_exc())
        _write_frame(answers, pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        if not frozen:
            # The compiled templates and the modules live as long as the process: the garbage
            # collector need not walk them again at every collection.
            gc.freeze()
            frozen = True


def main() -> None:
    """Entry point of the render process: requests on standard input, answers on standard output."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything printed goes to stderr, not into the answers
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    # Through the imported module, not this `__main__` copy: what it pickles must name
    # `cadence.services.outgoing`, the module the sending process knows.
    from cadence.services import outgoing

    outgoing.main()
