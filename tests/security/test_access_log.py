"""Finding 6 of #28: a request path cannot write forged lines or terminal escapes into the log.

The app runs under uvicorn with the logging ``cadence web`` configures (:func:`cadence.web.server.log_config`)
in a process of its own; raw requests carry ``%0d%0a`` and ANSI escapes in their path.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

SERVER = """
import sys
import uvicorn
from starlette.responses import PlainTextResponse
from cadence.web.edge import Edge
from cadence.web.server import log_config

async def app(scope, receive, send):
    if scope["type"] == "http":
        await PlainTextResponse("ok")(scope, receive, send)

uvicorn.run(Edge(app), host="127.0.0.1", port=int(sys.argv[1]), log_config=log_config(), access_log=False)
"""

FORGED_PATHS = [
    "/x%0d%0aINFO:%20%20%20%20%20127.0.0.1%20GET%20/admin%20200",
    "/x%0aERROR:%20forged%0d",
    "/x%1b[2J%1b[31mred%1b[0m",
    "/x%e2%80%a8INFO:%20forged",  # U+2028, a line separator to some log viewers
    "/x%c2%85INFO:%20forged",  # U+0085, next line
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_request_path_writes_one_log_line_with_its_control_characters_escaped() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=False
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "the server stopped"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        for path in FORGED_PATHS:
            assert request(port, path).startswith(b"HTTP/1.1 200")
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    log = (out + err).decode("utf-8")
    access = [line for line in log.splitlines() if " GET /x" in line]

    assert len(access) == len(FORGED_PATHS), log
    assert "forged" not in "".join(line for line in log.splitlines() if line not in access)
    assert [char for char in ("\x1b", "\u2028", "\x85", "\r") if char in log] == []
    assert "/x\\r\\nINFO:" in access[0]
    assert "/x\\x1b[2J\\x1b[31mred\\x1b[0m" in access[2]
