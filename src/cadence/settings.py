"""Settings, read from the environment (``CADENCE_*``) and an optional ``.env`` file."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cadence.adapters.db import SQLITE_BUSY_TIMEOUT_MS
from cadence.core.leads import validate_timezone
from cadence.errors import ValidationError

DEFAULT_DATABASE_URL = "sqlite:///var/cadence.db"
DEMO_SECRET_KEY = "change-me-cadence-demo-secret"
"""The key links and forms are signed with when ``CADENCE_SECRET_KEY`` is not set: public, for the demo only."""


class Settings(BaseSettings):
    """Everything cadence reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CADENCE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL of the cadence database; SQLite at ./var/cadence.db by default.",
    )
    templates_dir: Path = Field(default=Path("templates"), description="Cadences, rules and message templates.")
    default_timezone: str = Field(
        default="UTC",
        description="Time zone of a lead whose owner has none either.",
        validate_default=False,  # a known zone: checking one lists the system's zone files, ~7 ms every command
    )
    lease_seconds: int = Field(default=300, ge=1, le=3600, description="How long a claimed step stays claimed.")
    reply_grace_days: int = Field(
        default=3, ge=0, le=60, description="Business days to wait for a reply after the last step."
    )
    batch_size: int = Field(default=200, ge=1, le=10_000, description="Due steps per batch (one Prefect task run).")
    db_retry_seconds: float = Field(
        default=60, ge=0, le=3600,
        description="How long a run waits for PostgreSQL to answer again (a restart, a failover) before it stops.",
    )  # fmt: skip
    sqlite_busy_timeout_ms: int = Field(
        default=SQLITE_BUSY_TIMEOUT_MS, ge=0, le=3_600_000,
        description="How long a writer waits for another to finish before SQLite reports 'database is locked'.",
    )  # fmt: skip

    smtp_host: str = Field(default="localhost", description="SMTP server.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_password_block: str | None = Field(
        default=None, description="Name of a Prefect Secret block holding the SMTP password."
    )
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_timeout: float = Field(default=30.0, gt=0, le=600)
    smtp_connections: int = Field(default=4, ge=1, le=64, description="SMTP connections used at once.")
    retry_base_seconds: int = Field(default=300, ge=1, description="First retry delay after a transient failure.")
    retry_max_seconds: int = Field(default=6 * 3600, ge=1, description="Longest retry delay.")

    mail_domain: str = Field(default="cadence.example", description="Domain of our Message-IDs.")
    reply_to: str | None = Field(
        default=None, description="Reply-To of every email (the mailbox sync-replies reads); default: the owner."
    )
    company_name: str = Field(default="Cadence Demo Company", description="Our company, in footers.")
    company_website: str = Field(default="https://cadence.example")
    company_benefit: str | None = Field(
        default=None,
        max_length=300,
        description=(
            'One sentence on what we do for customers, after our name ("helps small sales teams answer every'
            ' lead the same day"): the Initial Benefit Statement of the introduction email and call openings.'
        ),
    )
    postal_address: str = Field(
        default="1 Example Street, Springfield, 00000, USA", description="Our postal address (CAN-SPAM footer)."
    )
    imap_host: str | None = Field(default=None, description="IMAP server of the mailbox replies arrive in.")
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_tls: Literal["none", "starttls", "tls"] = "tls"
    imap_folder: str = Field(default="INBOX", description="The folder sync-replies reads.")
    imap_timeout: float = Field(default=30.0, gt=0, le=600)
    auto_reply_pause_days: int = Field(
        default=7, ge=1, le=90, description="How long an out-of-office pauses a lead when it names no return date."
    )
    dashboard_refresh_seconds: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How often `cadence web` computes the managers' dashboard in the background (its page shows"
        " the latest numbers and their time); 0: the page computes them at each view.",
    )
    response_sla_hours: int = Field(
        default=4, ge=1, le=80, description="Business hours within which an interested reply is answered."
    )
    reengage_cadence: str = Field(
        default="re-engage", description="The cadence a lead that said 'not now, in March' is enrolled in then."
    )
    referral_cadence: str = Field(default="referral", description="The cadence a lead named in a referral gets.")
    development_cadence: str = Field(
        default="development", description="The cadence a passed-back lead gets in the lead-development queue."
    )
    unsubscribe_address: str | None = Field(
        default=None, description="The mailto: address of List-Unsubscribe (default: the Reply-To mailbox)."
    )
    digest_hour: int = Field(default=7, ge=0, le=23, description="Local hour at which reps get their digest.")
    manager_email: str | None = Field(default=None, description="Gets escalations of long-overdue tasks.")
    escalate_after_days: int = Field(default=2, ge=1, le=60, description="Overdue days before a task is escalated.")
    report_recipients: str | None = Field(
        default=None, description="Comma-separated addresses that get the weekly report (CADENCE_REPORT_RECIPIENTS)."
    )
    base_url: str = Field(default="http://127.0.0.1:8000", description="Where `cadence web` is reached.")
    secret_key: SecretStr = Field(
        default=SecretStr(DEMO_SECRET_KEY), description="Signs unsubscribe links and the login form."
    )
    max_send_attempts: int = Field(
        default=8, ge=1, le=100,
        description="Attempts at one step's email before the step fails (recorded, reported, a task for its owner).",
    )  # fmt: skip
    auto_reply_max_days: int = Field(
        default=30, ge=1, le=365, description="The longest an out-of-office pauses a lead, whatever date it names.",
    )  # fmt: skip
    trusted_proxies: str | None = Field(
        default=None,
        description="Comma-separated addresses (or networks) of the reverse proxies whose X-Forwarded-For is "
        "believed; by default none: the client address is the connection's.",
    )
    bounce_domain: str | None = Field(
        default=None,
        description="A domain whose mail reaches the replies mailbox: each email's envelope sender is then "
        "bounce+TOKEN@ this domain (VERP), so that a bounce is matched to the email it returns.",
    )
    trusted_authserv_id: str | None = Field(
        default=None,
        description="The authserv-id of the Authentication-Results header our receiving mail server adds "
        "(e.g. mx.yourco.example): a reply, out-of-office or unsubscribe it did not authenticate is kept for review.",
    )
    erasure_key: SecretStr | None = Field(
        default=None,
        description="Keys the hash of an erased person's address, kept so they are never enrolled again"
        " (default: CADENCE_SECRET_KEY). Never change it once people were erased.",
    )

    # The API (/api/v1) and the public contact form (/forms/contact).
    api_requests_per_minute: int = Field(
        default=120, ge=1, le=100_000, description="Requests each API key may make per minute (then 429)."
    )
    api_max_body_bytes: int = Field(
        default=65_536, ge=1_024, le=10_485_760, description="The largest request body the API and the form take."
    )
    contact_form_origins: str | None = Field(
        default=None,
        description="Comma-separated origins (https://www.yourco.example) whose pages may post the contact form;"
        " none: the form is off.",
    )
    contact_form_thanks_url: str | None = Field(
        default=None, description="Where the contact form sends the visitor after a post (default: a short page)."
    )
    contact_form_min_seconds: int = Field(
        default=3, ge=0, le=3600, description="A form posted sooner after it was shown is taken for a bot's."
    )
    contact_form_per_address_per_hour: int = Field(
        default=3, ge=1, le=1000, description="Contact form posts taken per email address per hour."
    )

    follow_up_deployment: str | None = Field(
        default=None,
        description="With Prefect deployments and workers: the deployment `cadence web` starts for each lead the"
        " API or the form enrolls (follow-up-lead/follow-up-lead), so that its first steps run at once.",
    )

    def contact_origins(self) -> frozenset[str]:
        """The origins allowed to post the contact form, lower-cased, without a trailing slash."""
        raw = self.contact_form_origins or ""
        return frozenset(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())

    first_touch_reassign: bool = Field(
        default=False, description="Reassign a lead whose first-touch SLA passed to the rep with the fewest open tasks."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="Longest wait for a webhook endpoint's answer (connect, each read)."
    )
    webhook_retry_base_seconds: int = Field(
        default=30, ge=1, le=3600, description="First retry delay of a failed webhook delivery (doubling)."
    )
    webhook_retry_max_seconds: int = Field(default=3 * 3600, ge=1, description="Longest delay between two attempts.")
    webhook_retry_window_hours: float = Field(
        default=24, gt=0, le=24 * 14, description="How long a delivery is retried before it is dead-lettered."
    )

    bounce_guard_rate: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Hard-bounce rate over a mailbox's or cadence's last sends that pauses it.",
    )
    bounce_guard_sends: int = Field(
        default=40, ge=1, le=100_000, description="The last sends the bounce guard counts (and at least that many)."
    )
    pacing_min_seconds: int = Field(
        default=90, ge=0, le=86_400, description="Least time between two emails of one sending mailbox."
    )
    pacing_jitter: float = Field(
        default=0.3, ge=0, le=1, description="Random share added to or taken from each interval of a mailbox's pacing."
    )
    pacing_seed: int | None = Field(
        default=None, description="Seeds the pacing's random jitter (simulations and tests repeat exactly)."
    )

    def erasure_secret(self) -> bytes:
        """The key of erased addresses' hashes: ``erasure_key``, else ``secret_key``."""
        chosen = self.erasure_key or self.secret_key
        return chosen.get_secret_value().encode("utf-8")

    def demo_key_exposed(self, *, listen_host: str | None = None) -> bool:
        """Whether the public demo key signs links or forms that reach beyond this machine.

        That is: ``CADENCE_SECRET_KEY`` is not set, and ``CADENCE_BASE_URL`` (where the links in
        emails point) or ``listen_host`` (where ``cadence web`` listens) is not a loopback address.
        Anyone could then forge an unsubscribe link for any lead.
        """
        if self.secret_key.get_secret_value() != DEMO_SECRET_KEY:
            return False
        hosts = [urlsplit(self.base_url).hostname or "", *([listen_host] if listen_host is not None else [])]
        return not all(_loopback(host) for host in hosts)

    @field_validator("base_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        """An http(s) address with a host: it goes into every email's unsubscribe link."""
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError as exc:  # e.g. an unclosed [IPv6 address]
            raise ValueError(f"not a web address ({exc})") from exc
        if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in value):
            raise ValueError("must be an http:// or https:// address with a host, e.g. https://cadence.example.com")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return validate_timezone(value)
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc


def _loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
