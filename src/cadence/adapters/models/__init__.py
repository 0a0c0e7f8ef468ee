"""The database schema (SQLAlchemy 2.0 declarative models), one module per area.

Times are stored as UTC. Every model is importable from here (``from cadence.adapters.models import
Lead``). Importing this package imports every module below, so every class that a relationship names
is mapped before the mappers are configured; a module imports the modules whose classes its
relationships name, so the order of mapping is the same on every run:

- :mod:`~cadence.adapters.models.base`: the declarative base, UTC datetimes, the naming convention;
- :mod:`~cadence.adapters.models.leads`: reps, leads, accounts, and what a lead's history records;
- :mod:`~cadence.adapters.models.cadences`: cadence versions, enrollments, touches, tasks, decisions;
- :mod:`~cadence.adapters.models.imports`: lead imports and what each changed;
- :mod:`~cadence.adapters.models.mail`: digests, replies mailboxes, sending mailboxes and domains;
- :mod:`~cadence.adapters.models.reports`: the report's facts of settled enrollments;
- :mod:`~cadence.adapters.models.web`: the workspace's and the API's accounts, keys, audit log;
- :mod:`~cadence.adapters.models.webhooks`: outbound webhooks.
"""

from __future__ import annotations

from cadence.adapters.models.base import MAX_ROW_ID, NAMING, Base, UTCDateTime
from cadence.adapters.models.cadences import (
    OPEN_STATES_SQL,
    CadencePause,
    CadenceVersion,
    Decision,
    Enrollment,
    Response,
    Suppression,
    Task,
    Touch,
)
from cadence.adapters.models.imports import Import, ImportChange
from cadence.adapters.models.leads import (
    Account,
    AccountChange,
    Interaction,
    Lead,
    LeadAction,
    LeadNote,
    QualifyingAnswer,
    Rep,
    StageChange,
)
from cadence.adapters.models.mail import Digest, InboundMessage, MailboxState, SendingDomain, SendingMailbox
from cadence.adapters.models.reports import RollupMark, SettledFacts
from cadence.adapters.models.web import (
    ApiIdempotency,
    ApiKey,
    AuditEntry,
    DashboardSnapshot,
    LoginFailure,
    TemplateFile,
    User,
    WebSession,
)
from cadence.adapters.models.webhooks import (
    PENDING_DELIVERIES_SQL,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

__all__ = [
    "MAX_ROW_ID",
    "NAMING",
    "OPEN_STATES_SQL",
    "PENDING_DELIVERIES_SQL",
    "Account",
    "AccountChange",
    "ApiIdempotency",
    "ApiKey",
    "AuditEntry",
    "Base",
    "CadencePause",
    "CadenceVersion",
    "DashboardSnapshot",
    "Decision",
    "Digest",
    "Enrollment",
    "Import",
    "ImportChange",
    "InboundMessage",
    "Interaction",
    "Lead",
    "LeadAction",
    "LeadNote",
    "LoginFailure",
    "MailboxState",
    "QualifyingAnswer",
    "Rep",
    "Response",
    "RollupMark",
    "SendingDomain",
    "SendingMailbox",
    "SettledFacts",
    "StageChange",
    "Suppression",
    "Task",
    "TemplateFile",
    "Touch",
    "UTCDateTime",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
]
