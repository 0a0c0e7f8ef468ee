"""Posting a webhook over HTTP (httpx): one attempt, its answer or what went wrong, within bounded timeouts.

The endpoint's body is never read: its status says it all, and an endpoint that streams forever
cannot hold a worker. Redirects are not followed (a signed body goes where it was registered only).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

USER_AGENT = "cadence-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """What one attempt got: the HTTP status, or the error that kept it from one."""

    status: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        """Whether the endpoint took it (any 2xx)."""
        return self.status is not None and 200 <= self.status < 300


def client(timeout_seconds: float) -> httpx.Client:
    """An HTTP client for deliveries: every phase (connect, write, each read, pool) bounded by ``timeout_seconds``."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
        trust_env=False,
    )


def post(http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
    """POST ``body`` to ``url``: the status the endpoint answered, or the transport error, most specific first."""
    try:
        with http.stream("POST", url, content=body, headers=headers) as response:
            status = response.status_code
    except httpx.TimeoutException as exc:
        return Attempt(None, f"timed out ({type(exc).__name__})")
    except httpx.ConnectError as exc:
        return Attempt(None, f"could not connect: {exc}"[:500])
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        return Attempt(None, f"connection dropped: {exc or type(exc).__name__}"[:500])
    except httpx.HTTPError as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= status < 300:
        return Attempt(status)
    return Attempt(status, f"answered HTTP {status}")
