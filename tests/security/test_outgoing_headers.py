"""Finding 1 of issue #28: no value from a lead can add a header or a body to an email, on this interpreter.

Python 3.11.7 and 3.12.1 (without the CVE-2024-6923 fix) decode an RFC 2047 word when they fold a
header, and write the CR LF it holds as a real line break. These tests run on the interpreter in
use and look at the bytes an SMTP server (aiosmtpd) received.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tests.flows.conftest as flow_fixtures
from cadence.adapters.mail import SmtpConfig, SmtpSender, Unsendable, build_message, message_bytes
from cadence.adapters.models import Enrollment, Lead, Task, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.advance import run_until_idle
from cadence.services.enrollments import get_lead
from flows.advance import flow_context
from tests.flows.conftest import lead_row, seed, templates_with_subject
from tests.flows.test_advance import MONDAY, SEND

flow_env = flow_fixtures.flow_env

INJECTION = "=?utf-8?b?DQpSZXBseS1UbzogYUBldmlsLmV4YW1wbGUNCg0KPGgxPkhpPC9oMT4=?="
"""An RFC 2047 word that decodes to CR LF, ``Reply-To: a@evil.example``, an empty line and HTML."""
DECODED_CRLF = "=?utf-8?q?a=0D=0AReply-To=3A_a=40evil=2Eexample?="
LONG = " and a few more words so that the header is long enough to be folded by the generator"


def message(**changes: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "from_name": "Rita Alvarez",
        "from_address": "rita@cadence.example",
        "to_address": "lead@acme.example",
        "to_name": "Lead Tester",
        "subject": "15 minutes on your pipeline?",
        "text": "Hello\n",
        "html": "<p>Hello</p>",
        "message_id": "<c.1.abc@mail.cadence.example>",
        "date": datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        "reply_to": "rita@cadence.example",
        "headers": {"List-Unsubscribe": "<https://x.example/unsubscribe/t>, <mailto:u@x.example?subject=unsubscribe>"},
    }
    values.update(changes)
    return build_message(**values)


def unsubscribe(value: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<https://x.example/unsubscribe/{value}>, <mailto:u@x.example?subject=unsubscribe>"}


@pytest.mark.parametrize("word", [INJECTION, DECODED_CRLF])
@pytest.mark.parametrize(
    "field",
    [
        pytest.param(lambda w: {"subject": f"Hi {w}"}, id="short subject"),
        pytest.param(lambda w: {"subject": f"Hi {w}{LONG}"}, id="folded subject"),
        pytest.param(lambda w: {"from_name": f"Rita {w}"}, id="From display name"),
        pytest.param(lambda w: {"to_name": f"{w} Tester"}, id="To display name"),
        pytest.param(lambda w: {"headers": unsubscribe(w)}, id="List-Unsubscribe"),
    ],
)
def test_a_header_that_would_not_stay_one_header_is_refused(field: Any, word: str) -> None:
    built = message(**field(word))
    try:
        data = message_bytes(built)
    except Unsendable:  # what 3.11.7 and 3.12.1 come to: their folding writes the CR LF
        return
    # An interpreter with the CVE-2024-6923 fix may keep the value encoded: then it must be one header.
    head = data.partition(b"\r\n\r\n")[0].decode("ascii")
    assert [line.partition(":")[0] for line in head.split("\r\n") if line[:1] not in " \t"] == list(built.keys())
    assert "evil.example" not in "".join(line for line in head.split("\r\n") if not line.startswith("Reply-To"))


def test_an_ordinary_message_keeps_exactly_its_headers() -> None:
    built = message(subject="Grüße from Zürich, " + "a long subject " * 10, to_name="José Müller")
    data = message_bytes(built)
    head = data.partition(b"\r\n\r\n")[0].decode("ascii")
    names = [line.partition(":")[0] for line in head.split("\r\n") if not line.startswith((" ", "\t"))]
    assert names == list(built.keys())
    assert "Reply-To: rita@cadence.example" in head


def test_the_smtp_sender_never_writes_an_injected_header(smtp_sink: SmtpSink) -> None:
    async def send() -> None:
        async with SmtpSender(SmtpConfig(host=smtp_sink.host, port=smtp_sink.port, connections=1)) as sender:
            with pytest.raises(Unsendable):
                await sender.send(message(to_name=INJECTION), sender="rita@cadence.example",
                                  recipient="lead@acme.example")  # fmt: skip
            await sender.send(message(), sender="rita@cadence.example", recipient="lead@acme.example")

    asyncio.run(send())
    assert [m["To"] for m in smtp_sink.messages()] == ["Lead Tester <lead@acme.example>"]


def test_a_lead_whose_name_would_inject_a_header_gets_no_email_and_its_owner_a_task(
    flow_env: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CADENCE_TEMPLATES_DIR",
        str(templates_with_subject(tmp_path, '{{ lead.first_name | default("there", true) }}: ')),
    )
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1, first_name=INJECTION)], now=MONDAY, cadence="nurture")
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=10))

    raw = flow_env.raw_messages()
    assert len(raw) == 1  # the other lead's email, whole
    head, _, body = raw[0].replace(b"\r\n", b"\n").partition(b"\n\n")
    assert b"evil.example" not in raw[0]
    assert head.count(b"\nReply-To: ") == 1
    assert head.count(b"\nSubject: ") == 1
    assert b"List-Unsubscribe: <http" in head
    assert b"Lead0" in body
    assert (report.emails_sent, report.failed, report.held, report.retried) == (1, 1, 0, 0)
    assert "break the To header" in str(report.failures)
    with ctx.sessions() as s:
        lead = s.scalars(select(Lead).where(Lead.email == "lead1@acme.example")).one()
        touch = s.scalars(select(Touch).where(Touch.lead_id == lead.id)).one()
        assert touch.state == "failed"
        assert "break the To header" in (touch.error or "")
        task = s.scalars(select(Task).where(Task.lead_id == lead.id)).one()
        assert "could not be sent" in task.title
        enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id)).one()
        assert enrollment.state == "active"
        assert enrollment.next_step == 1  # the cadence goes on, without this step

    again = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=10))
    assert (again.emails_sent, again.failed) == (0, 0)  # never tried again


# Moved from tests/flows/test_advance.py: the earlier header test (a raw CR LF in a lead's field).
@pytest.mark.one_database
@pytest.mark.parametrize("hostile", ["Evil\r\nBcc: victim@else.example", "<script>alert(1)</script>"])
def test_hostile_lead_fields_cannot_inject_headers(flow_env: SmtpSink, hostile: str) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0, company="Acme")], now=MONDAY, cadence="nurture")
    with ctx.sessions() as s, s.begin():
        get_lead(s, "lead0@acme.example").first_name = hostile  # as if it had slipped past validation
    asyncio.run(run_until_idle(ctx, now=SEND, batch_size=10))
    message = flow_env.messages()[0]
    assert message["Bcc"] is None
    assert flow_env.envelopes[0].rcpt_tos == ("lead0@acme.example",)
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        assert "<script>" not in html.get_content()
