"""A fast SMTP sink for the benchmarks: aiosmtpd, accepting and counting every message, storing none.

    python benchmarks/sink.py [--host 127.0.0.1] [--port 0] [--latency-ms L]

It prints the port it listens on, then answers one command per line on stdin, with one JSON line on
stdout: ``stats`` (messages, bytes, distinct recipients, duplicate X-Cadence-Touch headers),
``reset`` (counts from zero again), ``stop``. End of input stops it too. No message is parsed or
kept (cadence's own sink, ``python -m cadence.adapters.smtp_sink``, parses and stores each one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from aiosmtpd.smtp import SMTP


class CountingHandler:
    """Accepts every message; counts messages, bytes, recipients and repeated touch headers."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency = latency_ms / 1000
        self.reset()

    def reset(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.recipients: set[str] = set()
        self.touches: set[bytes] = set()
        self.duplicates = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        self.messages += 1
        self.bytes += len(raw)
        self.recipients.update(envelope.rcpt_tos)
        # X-Cadence-Touch names the step: seeing one twice would mean a step was done twice.
        start = raw.find(b"X-Cadence-Touch: ")
        if start >= 0:
            touch = raw[start + 17 : raw.find(b"\n", start)].strip()
            if touch in self.touches:
                self.duplicates += 1
            self.touches.add(touch)
        if self.latency:  # a real relay takes this long to answer the final dot; other sessions go on meanwhile
            await asyncio.sleep(self.latency)
        return "250 2.0.0 OK: queued"

    def stats(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "recipients": len(self.recipients),
            "duplicate_touches": self.duplicates,
        }


async def serve(host: str, port: int, latency_ms: float = 0.0) -> None:
    """Listen on ``host:port``, print the port, then answer the commands read from stdin until ``stop``."""
    loop = asyncio.get_running_loop()
    handler = CountingHandler(latency_ms)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.bench.example", ident="cadence-bench-sink"), host, port
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        command = (await reader.readline()).decode().strip()
        if command == "stats":
            print(json.dumps(handler.stats()), flush=True)
        elif command == "reset":
            handler.reset()
            print(json.dumps({"reset": True}), flush=True)
        elif command in ("stop", ""):
            break
    server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description="a counting SMTP sink for benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="answer each final dot after this long")
    args = parser.parse_args()
    if args.latency_ms < 0:
        parser.error("--latency-ms must be 0 or more")
    asyncio.run(serve(args.host, args.port, args.latency_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
