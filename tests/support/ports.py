"""Ports for the servers the tests start: free, and never one the kernel hands out meanwhile.

A server started on a port found free (Prefect's takes seconds to listen, Dovecot and PostgreSQL a
fraction of one) must not lose it in between: a port from the kernel's ephemeral range could be given
meanwhile to any socket bound to port 0 or connecting out, such as an SMTP sink of the other test
process (a Prefect client then read an SMTP greeting). So the ports here are below that range,
which the kernel never hands out by itself, and each test process (pytest-xdist worker) has its own
residue class of them, so that two processes never pick the same one.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

LOWEST = 20_000
SLOTS = 16  # test processes that get ports of their own (more share them, still checked free)


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (32768 when it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _slot() -> int:
    """This test process's residue class: its pytest-xdist worker number (gw0, gw1, ...), 0 without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return int(worker) % SLOTS if worker.isdigit() else 0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of ``host`` nobody listens on right now, below the ephemeral range, of this process's class."""
    top = _ephemeral_start()
    if top - LOWEST < 10 * SLOTS:  # an odd range: take what the kernel gives
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            return int(probe.getsockname()[1])
    candidates = list(range(LOWEST + _slot(), top, SLOTS))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free TCP port on {host} between {LOWEST} and {top}")
