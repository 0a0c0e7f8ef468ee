"""Sending domains: the DKIM selector and private key each outgoing email is signed with, by its From domain.

The key is a PEM file on the machine that sends (``--dkim-key FILE.pem``: read when a batch starts,
so a replaced file is used at the next batch) or a Prefect Secret block holding the PEM text
(``--dkim-key-block NAME``). A domain without an entry is sent unsigned, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.dkim import DkimError, DkimKey, load_private_key, parse_private_key, sign_message
from cadence.adapters.models import SendingDomain
from cadence.errors import AlreadyExists, NotFound, ValidationError


def _domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    labels = domain.split(".")
    if (
        len(labels) < 2
        or len(domain) > 253
        or not all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)
        or not domain.isascii()
    ):
        raise ValidationError(f"{value!r} is not a domain name (e.g. yourco.example)")
    return domain


def _selector(value: str) -> str:
    selector = value.strip().lower()
    if not selector or len(selector) > 63 or not all(p and p.replace("-", "").isalnum() for p in selector.split(".")):
        raise ValidationError(f"{value!r} is not a DKIM selector (letters, digits and -, e.g. s1 or mail2026)")
    if not selector.isascii():
        raise ValidationError(f"the DKIM selector {value!r} must be ASCII")
    return selector


def add_domain(
    session: Session,
    domain: str,
    *,
    selector: str,
    now: datetime,
    key_file: Path | None = None,
    key_block: str | None = None,
) -> tuple[SendingDomain, str | None]:
    """Add a sending domain's DKIM key; (the row, the TXT record to publish when the key is a file).

    A key file is read and checked now (:class:`cadence.adapters.dkim.DkimKeyError` says what is wrong).
    """
    name = _domain(domain)
    if (key_file is None) == (key_block is None):
        raise ValidationError("give the DKIM key as --dkim-key FILE.pem or --dkim-key-block NAME (one of them)")
    record = None
    path: str | None = None
    if key_file is not None:
        resolved = key_file.expanduser().resolve()
        record = load_private_key(resolved).public_record()
        path = str(resolved)
    if session.scalar(select(SendingDomain.id).where(SendingDomain.domain == name)) is not None:
        raise AlreadyExists(f"the sending domain {name} exists already; remove it first to change its key")
    row = SendingDomain(domain=name, selector=_selector(selector), key_file=path,
                        key_block=key_block.strip() if key_block else None, created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row, record


def remove_domain(session: Session, domain: str) -> None:
    """Stop signing the mail of ``domain``."""
    name = _domain(domain)
    row = session.scalar(select(SendingDomain).where(SendingDomain.domain == name))
    if row is None:
        raise NotFound(f"no sending domain {name}")
    session.delete(row)


def list_domains(session: Session) -> list[dict[str, Any]]:
    """Every sending domain with its selector and key source."""
    return [
        {
            "domain": d.domain,
            "selector": d.selector,
            "key": d.key_file or f"Prefect Secret block {d.key_block}",
            "record_name": f"{d.selector}._domainkey.{d.domain}",
        }
        for d in session.scalars(select(SendingDomain).order_by(SendingDomain.domain))
    ]


@dataclass
class Signers:
    """The DKIM keys of the sending domains, read once per batch: signs each email by its From domain."""

    keys: dict[str, tuple[str, DkimKey | str]] = field(default_factory=dict)
    """By domain: (selector, the key, or why it cannot be used)."""

    def sign(self, data: bytes, from_address: str) -> bytes | str:
        """``data`` signed for the From domain (unchanged for a domain without a key); a string: why it cannot be."""
        domain = from_address.rpartition("@")[2].lower()
        if domain not in self.keys:
            return data
        selector, key = self.keys[domain]
        if isinstance(key, str):
            return key
        try:
            return sign_message(data, domain=domain, selector=selector, key=key)
        except DkimError as exc:
            return f"the message cannot be DKIM-signed for {domain}: {exc}"


def domain_keys(session: Session) -> list[tuple[str, str, str | None, str | None]]:
    """Each sending domain as (domain, selector, key file, key block)."""
    rows = session.execute(
        select(SendingDomain.domain, SendingDomain.selector, SendingDomain.key_file, SendingDomain.key_block)
    ).tuples()
    return list(rows)


async def load_signers(domains: list[tuple[str, str, str | None, str | None]]) -> Signers:
    """The keys of ``domains`` (:func:`domain_keys`); a key that cannot be read is kept as the reason."""
    signers = Signers()
    for domain, selector, key_file, key_block in domains:
        key: DkimKey | str
        try:
            if key_file is not None:
                key = load_private_key(Path(key_file))
            else:
                from prefect.blocks.system import Secret

                block: Secret[str] = await Secret.aload(key_block or "")
                key = parse_private_key(str(block.get()).encode(), source=f"the Prefect Secret block {key_block}")
        except DkimError as exc:
            key = f"the DKIM key of {domain} cannot be used: {exc}"
        except Exception as exc:  # a missing or unreadable block
            key = f"the DKIM key of {domain} cannot be read from the Prefect Secret block {key_block}: {exc}"
        signers.keys[domain] = (selector, key)
    return signers
