"""Sending mailboxes against real SMTP sinks (aiosmtpd) and both databases: routing, caps, ramp-up,
pacing, DKIM signatures verified with the key a real DNS server (dnsmasq) serves, and the bounce guard."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from cadence.adapters.dkim import parse_private_key
from cadence.adapters.dns import DnsConfig, TxtLookup
from cadence.adapters.models import CadencePause, Enrollment, SendingMailbox, Task, Touch
from cadence.adapters.smtp_sink import SinkFaults, SmtpSink
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.digest import due_digests
from cadence.services.guards import resume_cadence
from cadence.services.mailbox_removal import preview, remove_mailbox
from cadence.services.mailboxes import add_mailbox, resume_mailbox
from cadence.services.sending_domains import add_domain
from cadence.settings import Settings
from tests.flows.conftest import lead_row, seed
from tests.support.servers import DnsServerFactory

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York; nurture's day-1 email is due Tuesday
NEW_YORK = ZoneInfo("America/New_York")
MAILBOX = "rita@outreach.cadence.example"


@pytest.fixture
def own_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """The SMTP server of Rita's own mailbox (the global one is ``smtp_sink``)."""
    with SmtpSink(tmp_path / "own-mail") as sink:
        yield sink


def make_ctx(settings: Settings, global_sink: SmtpSink, **extra: object) -> Context:
    return Context(settings.model_copy(update={"smtp_host": global_sink.host, "smtp_port": global_sink.port,
                                               "pacing_seed": 7, "mail_domain": "mail.cadence.example",
                                               **extra}))  # fmt: skip


def add_own_mailbox(ctx: Context, sink: SmtpSink, **options: object) -> None:
    with ctx.sessions() as s, s.begin():
        add_mailbox(s, MAILBOX, rep_email="rita@cadence.example", smtp_host=sink.host, smtp_port=sink.port,
                    smtp_tls="none", now=MONDAY, **options)  # type: ignore[arg-type]  # fmt: skip


def run_day(ctx: Context, day: datetime, *, every: timedelta = timedelta(minutes=15)) -> None:
    """Run the engine every ``every`` through one New York day's nurture send window (09:00 to 16:00)."""
    at = datetime.combine(day.astimezone(NEW_YORK).date(), datetime.min.time(), NEW_YORK) + timedelta(hours=9)
    while at.hour < 16:
        asyncio.run(run_until_idle(ctx, now=at.astimezone(UTC)))
        at += every


def sent_at(sink: SmtpSink) -> list[datetime]:
    return [parsedate_to_datetime(m["Date"]).astimezone(NEW_YORK) for m in sink.messages()]


def test_emails_leave_from_the_owners_mailbox_within_its_ramp_up_and_cap_day_after_day(
    settings: Settings, smtp_sink: SmtpSink, own_sink: SmtpSink
) -> None:
    ctx = make_ctx(settings, smtp_sink)
    seed(ctx, [lead_row(i) for i in range(12)], now=MONDAY, cadence="nurture")
    add_own_mailbox(ctx, own_sink, daily_cap=2, ramp="1:1:3")
    for day in range(1, 5):  # Tuesday to Friday
        run_day(ctx, MONDAY + timedelta(days=day))
    per_day = Counter(d.date().isoformat() for d in sent_at(own_sink))
    # Ramp-up 1, 2, 3 a day, capped at 2 a day: 1, 2, 2, 2.
    assert [per_day[d] for d in ("2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04")] == [1, 2, 2, 2]
    assert smtp_sink.count() == 0, "nothing leaves through the global server once the rep has a mailbox"
    first = own_sink.messages()[0]
    assert first["From"] == f"Rita Alvarez <{MAILBOX}>"
    assert first["Reply-To"] == MAILBOX
    assert {e.mail_from for e in own_sink.envelopes} == {MAILBOX}
    with ctx.sessions() as s:
        enrollments = list(s.scalars(select(Enrollment)))
        mailbox_id = s.scalars(select(SendingMailbox.id)).one()
        # Nothing lost: the 7 that went are on their next step, the 5 others still due on their first.
        assert Counter(e.next_step for e in enrollments) == Counter({1: 7, 0: 5})
        waiting = [e for e in enrollments if e.next_step == 0]
        assert all(e.state == "active" and e.next_due_at is not None for e in waiting)
        sent = [e for e in enrollments if e.next_step == 1]
        assert all(e.mailbox_id == mailbox_id for e in sent)
        assert {t.mailbox_id for t in s.scalars(select(Touch))} == {mailbox_id}


def test_a_mailboxs_emails_are_spread_over_the_window_with_a_minimum_interval_and_jitter(
    settings: Settings, smtp_sink: SmtpSink, own_sink: SmtpSink
) -> None:
    ctx = make_ctx(settings, smtp_sink, pacing_min_seconds=1200)
    seed(ctx, [lead_row(i) for i in range(12)], now=MONDAY, cadence="nurture")
    add_own_mailbox(ctx, own_sink, daily_cap=6)
    run_day(ctx, MONDAY + timedelta(days=1), every=timedelta(minutes=5))
    times = sent_at(own_sink)
    assert len(times) == 6
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    # 7 hours shared by 6 emails: about 70 minutes apart, moved by up to 30%; never under 20 minutes.
    assert all(gap >= 1200 for gap in gaps)
    assert len(set(gaps)) > 1, "jitter: the intervals are not all the same"
    assert all(49 * 60 <= gap <= 91 * 60 + 300 for gap in gaps), gaps
    assert times[0].strftime("%H:%M") == "09:00"
    assert times[-1].hour >= 13, "spread over the day, not a burst"


@pytest.fixture(scope="module")
def dkim_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_outgoing_mail_is_dkim_signed_by_its_sending_domain_and_verifies_against_dns(
    settings: Settings, smtp_sink: SmtpSink, own_sink: SmtpSink, dns_server: DnsServerFactory, tmp_path: Path,
    dkim_pem: bytes,
) -> None:  # fmt: skip
    key_file = tmp_path / "outreach.pem"
    key_file.write_bytes(dkim_pem)
    ctx = make_ctx(settings, smtp_sink, pacing_min_seconds=0)
    seed(ctx, [lead_row(i) for i in range(3)], now=MONDAY, cadence="nurture")
    add_own_mailbox(ctx, own_sink, daily_cap=50)
    with ctx.sessions() as s, s.begin():
        _, record = add_domain(s, "outreach.cadence.example", selector="s2026", now=MONDAY, key_file=key_file)
    assert record == parse_private_key(dkim_pem).public_record()
    run_day(ctx, MONDAY + timedelta(days=1))
    raw = own_sink.raw_messages()
    assert len(raw) == 3
    server = dns_server({"s2026._domainkey.outreach.cadence.example": [record]})
    lookup = TxtLookup(DnsConfig(nameservers=(server.host,), port=server.port))
    asked: list[str] = []

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        asked.append(name.decode().rstrip("."))
        found = lookup(asked[-1])
        return found[0].encode() if found else None

    for message in raw:
        assert message.startswith(b"DKIM-Signature:")
        assert dkim.verify(message, dnsfunc=txt, minkey=1024)
    assert set(asked) == {"s2026._domainkey.outreach.cadence.example"}
    tampered = raw[0].replace(b"Subject: ", b"Subject: Re: ", 1)
    assert not dkim.verify(tampered, dnsfunc=txt, minkey=1024)


def test_an_unreadable_dkim_key_holds_the_email_with_the_reason(
    settings: Settings, smtp_sink: SmtpSink, tmp_path: Path, dkim_pem: bytes
) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(dkim_pem)
    ctx = make_ctx(settings, smtp_sink)
    seed(ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    with ctx.sessions() as s, s.begin():
        add_domain(s, "cadence.example", selector="s1", now=MONDAY, key_file=key_file)
    key_file.unlink()
    report = asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=1)))
    assert smtp_sink.count() == 0
    assert report.held == 1
    with ctx.sessions() as s:
        touch = s.scalars(select(Touch)).one()
        assert touch.state == "held"
        assert "DKIM key" in (touch.error or "")
        assert "does not exist" in (touch.error or "")


def test_a_sink_refusing_one_recipient_in_five_pauses_the_mailbox_at_the_threshold(
    settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # 45 leads, one in five of the first 40 refused (8): whatever order they go in, the first 40 sends
    # hold at least 3 bounces (more than 5%), so the mailbox is paused at its 40th send and 5 stay due.
    rows = [lead_row(i) for i in range(45)]
    refused = {row.lead.email for i, row in enumerate(rows[:40]) if i % 5 == 4}
    with SmtpSink(tmp_path / "own", faults=SinkFaults(reject_recipients=refused)) as own:
        ctx = make_ctx(settings, smtp_sink, pacing_min_seconds=0, manager_email="max@cadence.example")
        seed(ctx, rows, now=MONDAY, cadence="nurture")
        add_own_mailbox(ctx, own, daily_cap=1000)
        at = MONDAY + timedelta(days=1)
        for _ in range(60):  # one email a run at most: 1,000 a day share 7 hours, 25 seconds apart
            asyncio.run(run_until_idle(ctx, now=at))
            at += timedelta(minutes=1)
        with ctx.sessions() as s:
            mailbox = s.scalars(select(SendingMailbox)).one()
            assert mailbox.state == "paused"
            touches = list(s.scalars(select(Touch).where(Touch.mailbox_id == mailbox.id)))
            states = Counter(t.state for t in touches)
            assert states.total() == 40
            assert states["bounced"] >= 3
            assert f"{states['bounced']} of its last 40 emails bounced" in (mailbox.paused_reason or "")
            waiting = list(s.scalars(select(Enrollment).where(Enrollment.next_step == 0, Enrollment.state == "active")))
            assert len(waiting) == 5
            assert all(e.next_due_at is not None for e in waiting), "paused sends stay due"
            alert = s.scalars(select(Task).where(Task.title.like("Sending paused: mailbox%"))).one()
            assert alert.owner_id == mailbox.rep_id
            assert "cadence mailboxes resume" in (alert.instructions or "")
            assert s.scalars(select(CadencePause.cadence_name)).all() == ["nurture"]
        sent = own.count()
        assert sent == states["sent"]
        with ctx.sessions() as s:  # the manager's next morning digest names both pauses
            digests = due_digests(s, ctx, now=datetime(2026, 12, 2, 7, 0, tzinfo=UTC))
        manager = next(d for d in digests if d.recipient == "max@cadence.example")
        assert sorted(t["title"] for t in manager.overdue) == [
            "Sending paused: cadence nurture bounced too often",
            f"Sending paused: mailbox {MAILBOX} bounced too often",
        ]
        # Paused: an hour later, still nothing from it.
        asyncio.run(run_until_idle(ctx, now=at + timedelta(hours=1)))
        assert own.count() == sent
        # Resumed by hand (the mailbox and the cadence): the waiting emails go.
        with ctx.sessions() as s, s.begin():
            resume_mailbox(s, MAILBOX, now=at)
            resume_cadence(s, "nurture", now=at)
        for _ in range(12):
            at += timedelta(hours=1, minutes=1)
            asyncio.run(run_until_idle(ctx, now=at))
        assert own.count() > sent


def test_a_removed_mailboxs_leads_send_their_next_email_from_the_owners_other_mailbox_or_the_settings_server(
    settings: Settings, smtp_sink: SmtpSink, own_sink: SmtpSink, tmp_path: Path
) -> None:
    ctx = make_ctx(settings, smtp_sink)
    seed(ctx, [lead_row(i) for i in range(2)], now=MONDAY, cadence="nurture")
    add_own_mailbox(ctx, own_sink, daily_cap=50)
    run_day(ctx, MONDAY + timedelta(days=1))
    assert own_sink.count() == 2
    with SmtpSink(tmp_path / "second") as second:
        other = "rita.b@outreach.cadence.example"
        with ctx.sessions() as s, s.begin():
            add_mailbox(s, other, rep_email="rita@cadence.example", smtp_host=second.host, smtp_port=second.port,
                        smtp_tls="none", now=MONDAY, daily_cap=50)  # fmt: skip
            said = preview(s, MAILBOX).consequence()
            assert said.startswith(f"Its 2 leads under way send their next emails from another of "
                                   f"rita@cadence.example's mailboxes ({other})")  # fmt: skip
            removal = remove_mailbox(s, MAILBOX, now=MONDAY, actor="max@cadence.example")
            assert removal.consequence() == said
        run_day(ctx, datetime(2026, 12, 8, 15, 0, tzinfo=UTC))  # day 7: the next emails
        assert (own_sink.count(), second.count(), smtp_sink.count()) == (2, 2, 0)
        assert {e.mail_from for e in second.envelopes} == {other}
    with ctx.sessions() as s, s.begin():
        said = preview(s, other).consequence()
        assert said.startswith("rita@cadence.example has no other mailbox: its 2 leads under way send their next "
                               "emails through the SMTP server of the settings")  # fmt: skip
        remove_mailbox(s, other, now=MONDAY)
        assert s.scalars(select(Enrollment.mailbox_id)).all() == [None, None]
    for day in range(21, 31):  # day 21: the final emails
        run_day(ctx, MONDAY + timedelta(days=day), every=timedelta(hours=1))
    assert smtp_sink.count() == 2, "no lead is left behind: the settings' server takes them"
    assert {m["To"] for m in smtp_sink.messages()} == {"Lead0 Tester <lead0@acme.example>",
                                                       "Lead1 Tester <lead1@acme.example>"}  # fmt: skip
