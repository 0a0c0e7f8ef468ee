"""Whether the receiving server vouched for a message's sender: ``Authentication-Results`` (RFC 8601), pure.

Only the header our own receiving server adds counts: the first one (top-most) whose authserv-id
is the one configured (``CADENCE_TRUSTED_AUTHSERV_ID``). Any other is the sender's own words. A
message passes when DMARC passes, or when SPF or DKIM passes for a domain aligned with the ``From``
address (the same domain, or one a subdomain of the other: relaxed alignment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from cadence.core.inbound.message import headers

_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)(.*)$", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom|smtp\.from)\s*=\s*([^\s;()]+)", re.I)
_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Verdict:
    """What our receiving server said about a message: ``passed`` None when it said nothing (not checked)."""

    passed: bool | None
    reason: str


def _aligned(domain: str, sender_domain: str) -> bool:
    domain = domain.rsplit("@", 1)[-1].strip(".").lower()
    return bool(domain) and (
        domain == sender_domain or domain.endswith("." + sender_domain) or sender_domain.endswith("." + domain)
    )


def verdict(message: Message, sender: str | None, authserv_id: str | None) -> Verdict:
    """Our server's verdict on ``message`` from ``sender`` (see the module's docstring); never raises."""
    if not authserv_id:
        return Verdict(None, "no trusted authserv-id is configured")
    trusted = authserv_id.strip().lower()
    for value in headers(message, "Authentication-Results"):
        head, _, rest = value.partition(";")
        if (head.split() or [""])[0].lower() != trusted:
            continue
        sender_domain = (sender or "").rpartition("@")[2].lower()
        results: dict[str, list[tuple[str, str]]] = {}
        for item in _COMMENT.sub(" ", rest).split(";"):
            found = _RESULT.match(item)
            if found:
                method, result, properties = found.group(1).lower(), found.group(2).lower(), found.group(3)
                domains = [m.group(2) for m in _PROPERTY.finditer(properties)]
                results.setdefault(method, []).extend((result, d) for d in domains or [""])
        said = ", ".join(f"{m}={'/'.join(sorted({r for r, _ in v}))}" for m, v in sorted(results.items())) or "none"
        if any(result == "pass" for result, _ in results.get("dmarc", [])):
            return Verdict(True, f"{trusted}: {said}")
        for method in ("spf", "dkim"):
            if any(result == "pass" and _aligned(domain, sender_domain) for result, domain in results.get(method, [])):
                return Verdict(True, f"{trusted}: {said} (aligned)")
        return Verdict(False, f"our server ({trusted}) did not authenticate the sender: {said}")
    return Verdict(None, f"no Authentication-Results from {trusted}")
