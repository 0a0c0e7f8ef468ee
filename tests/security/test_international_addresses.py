"""Finding 7 of #28: an address a mail server cannot take without SMTPUTF8 is refused at intake.

A non-ASCII local part (``josé@...``) needs SMTPUTF8: it is refused, with a reason saying so, and the
import's row goes to the rejects file. A non-ASCII domain can be written in ASCII (IDNA, ``xn--``):
it is kept in that form, which every mail server takes, so the Unicode and the ASCII spellings are
one lead.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

import tests.flows.conftest as flow_fixtures
from cadence.adapters.csv_leads import parse_leads_csv
from cadence.adapters.mail import SmtpConfig, SmtpSender, Unsendable, build_message
from cadence.adapters.models import Task, Touch
from cadence.adapters.smtp_sink import SinkFaults, SmtpSink
from cadence.core.leads import normalize_email
from cadence.errors import ValidationError
from cadence.services.advance import run_until_idle
from cadence.services.enrollments import get_lead
from flows.advance import flow_context
from tests.conftest import Cli
from tests.flows.conftest import lead_row, seed
from tests.flows.test_advance import MONDAY, SEND

NOW = "2026-11-23T14:00:00+00:00"
flow_env = flow_fixtures.flow_env


@pytest.mark.parametrize("address", ["josé@exämple.example", "josé@example.example", "李@example.example"])
def test_an_address_with_a_non_ascii_local_part_is_refused_with_the_reason(address: str) -> None:
    with pytest.raises(ValidationError, match="before the @") as refused:
        normalize_email(address)
    assert "SMTPUTF8" in str(refused.value)


@pytest.mark.parametrize(
    "address",
    ["jose@exämple.example", "Jose@EXÄMPLE.example", "jose@xn--exmple-cua.example", "JOSE@XN--EXMPLE-CUA.EXAMPLE"],
)
def test_a_non_ascii_domain_is_kept_in_its_ascii_form_so_that_every_spelling_is_one_address(address: str) -> None:
    normalized = normalize_email(address)
    assert normalized == "jose@xn--exmple-cua.example"
    normalized.encode("ascii")  # what an SMTP server without SMTPUTF8 takes


def test_the_import_rejects_the_row_with_the_reason_and_keeps_the_others() -> None:
    data = "email,first_name\njosé@exämple.example,José\njose@exämple.example,Jose\n".encode()
    parsed = parse_leads_csv(data)
    assert [row.lead.email for row in parsed.rows] == ["jose@xn--exmple-cua.example"]
    (error,) = parsed.errors
    assert error.row == 2
    assert "SMTPUTF8" in error.reason


def test_cadence_leads_import_writes_the_refused_address_to_the_rejects_file(run_cli: Cli, tmp_path: Path) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita", "--now", NOW)
    source = tmp_path / "leads.csv"
    source.write_text("email,first_name\njosé@exämple.example,José\nann@acme.example,Ann\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"

    result = run_cli("leads", "import", str(source), "--rejects", str(rejects), "--now", NOW, "--json", expect=None)

    assert result.json()["rejected"] == 1
    assert "Traceback" not in result.stderr
    rows = list(csv.DictReader(io.StringIO(rejects.read_text(encoding="utf-8-sig"))))
    assert [(row["email"], "SMTPUTF8" in row["reason"]) for row in rows] == [("josé@exämple.example", True)]


# -- the sending side: SMTPUTF8 when the server offers it, else a clear refusal, never a retry ----------


def utf8_message(to_address: str) -> EmailMessage:
    return build_message(from_name="Rita Alvarez", from_address="rita@cadence.example", to_address=to_address,
                         to_name="José Tester", subject="Hello", text="Hello\n", html=None,
                         message_id="<c.1.a@cadence.example>", date=datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip


def send_to(sink: SmtpSink, address: str) -> str:
    async def go() -> str:
        async with SmtpSender(SmtpConfig(host=sink.host, port=sink.port, connections=1)) as sender:
            return await sender.send(utf8_message(address), sender="rita@cadence.example", recipient=address)

    return asyncio.run(go())


def test_a_non_ascii_address_is_sent_with_smtputf8_when_the_server_offers_it() -> None:
    with SmtpSink(smtputf8=True) as sink:
        assert send_to(sink, "josé@acme.example").startswith("250")
        [raw] = sink.raw_messages()
        assert sink.envelopes[0].rcpt_tos == ("josé@acme.example",)
    assert "To: José Tester <josé@acme.example>" in raw.decode("utf-8")


def test_a_non_ascii_address_is_refused_for_good_when_the_server_does_not_offer_smtputf8() -> None:
    with SmtpSink() as sink:
        with pytest.raises(Unsendable, match="does not offer SMTPUTF8"):
            send_to(sink, "josé@acme.example")
        assert sink.count() == 0


def test_a_lead_whose_address_the_server_cannot_take_gets_a_failed_step_and_its_owner_a_task(
    flow_env: SmtpSink,
) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(0), lead_row(1)], now=MONDAY, cadence="nurture")
    with ctx.sessions() as s, s.begin():  # imported before intake refused such addresses
        get_lead(s, "lead1@acme.example").email = "josé@acme.example"
    report = asyncio.run(run_until_idle(ctx, now=SEND, batch_size=10))
    assert (report.emails_sent, report.failed, report.retried) == (1, 1, 0)
    assert "does not offer SMTPUTF8" in str(report.failures)
    with ctx.sessions() as s:
        assert s.scalars(select(Touch.state).order_by(Touch.lead_id)).all() == ["sent", "failed"]
        assert "could not be sent" in s.scalars(select(Task.title)).one()


def test_a_step_that_keeps_failing_is_given_up_after_the_last_attempt(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_MAX_SEND_ATTEMPTS", "3")
    monkeypatch.setenv("CADENCE_RETRY_BASE_SECONDS", "60")
    ctx = flow_context()
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    flow_env.faults = SinkFaults(temp_fail_rate=1.0)
    reports = [asyncio.run(run_until_idle(ctx, now=SEND + timedelta(hours=h), batch_size=10)) for h in range(5)]
    assert [(r.retried, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1), (0, 0), (0, 0)]
    assert "gave up after 3 attempts: deferred at dot: 451" in str(reports[2].failures)
    with ctx.sessions() as s:
        touch = s.scalars(select(Touch)).one()
        assert (touch.state, touch.attempts) == ("failed", 3)
        assert s.scalars(select(Task.title)).one().startswith("Email step 1 to Lead0 Tester could not be sent")
