"""SmtpSender against the real sink (aiosmtpd): one hand-off at a time per connection, withdrawals, what faults mean."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cadence.adapters.mail import (
    DeliveryError,
    PermanentFailure,
    SmtpConfig,
    SmtpSender,
    TransientFailure,
    UnknownOutcome,
    Withdrawn,
    build_message,
)
from cadence.adapters.smtp_sink import SinkFaults, SmtpSink
from tests.support.ports import free_port
from tests.support.smtp_faults import FaultyProxy, ProxyFaults

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def message(i: int) -> EmailMessage:
    return build_message(
        from_name="Rita", from_address="rita@cadence.example", to_address=f"lead{i}@acme.example", to_name=None,
        subject=f"Hello {i}", text="Body line\n.a line that starts with a dot\n" * 50, html=None,
        message_id=f"<m{i}@cadence.example>", date=NOW, headers={"X-Cadence-Touch": str(i)},
    )  # fmt: skip


class Recorder:
    """A HandOff that logs the calls, counts the hand-offs in flight at once, and may withdraw."""

    def __init__(self, log: list[tuple[str, int, object]], active: list[int], *, i: int, allow: bool = True) -> None:
        self.log, self.active, self.i, self.allow = log, active, i, allow

    def before(self) -> bool:
        with LOCK:
            self.active.append(self.i)
            PEAK[0] = max(PEAK[0], len(self.active))
            self.log.append(("before", self.i, None))
        time.sleep(0.002)  # as long as a database commit: other connections get to run meanwhile
        if not self.allow:
            with LOCK:
                self.active.remove(self.i)
        return self.allow

    def after(self, outcome: str | DeliveryError) -> None:
        with LOCK:
            self.log.append(("after", self.i, outcome))
        time.sleep(0.001)
        with LOCK:
            self.active.remove(self.i)


LOCK = threading.Lock()
PEAK = [0]  # the most hand-offs in flight at once in the last send_all


async def send_all(port: int, count: int, *, withdraw: frozenset[int] = frozenset(), connections: int = 4) -> tuple[
    list[str | BaseException], list[tuple[str, int, object]]
]:  # fmt: skip
    log: list[tuple[str, int, object]] = []
    active: list[int] = []
    PEAK[0] = 0
    async with SmtpSender(SmtpConfig(host="127.0.0.1", port=port, connections=connections, timeout=5)) as sender:
        results = await asyncio.gather(
            *(
                sender.send(
                    message(i),
                    sender="rita@cadence.example",
                    recipient=f"lead{i}@acme.example",
                    hand_off=Recorder(log, active, i=i, allow=i not in withdraw),
                )
                for i in range(count)
            ),
            return_exceptions=True,
        )
    return list(results), log


def test_each_connection_hands_its_messages_over_one_at_a_time(smtp_sink: SmtpSink) -> None:
    results, log = asyncio.run(send_all(smtp_sink.port, 12, connections=1))
    assert all(isinstance(r, str) and r.startswith("250") for r in results), results
    # before, after, before, after, ...: each message's reply is recorded before the next hand-off.
    assert [kind for kind, _, _ in log] == ["before", "after"] * 12
    assert all(log[k][1] == log[k + 1][1] for k in range(0, 24, 2))
    assert PEAK[0] == 1


def test_messages_go_out_over_several_connections_with_at_most_one_in_doubt_on_each(smtp_sink: SmtpSink) -> None:
    results, log = asyncio.run(send_all(smtp_sink.port, 24))
    assert all(isinstance(r, str) and r.startswith("250") for r in results), results
    assert smtp_sink.count() == 24
    assert 0 < PEAK[0] <= 4  # never more messages in doubt at once than connections
    # Each message's outcome comes after its own hand-off.
    for i in range(24):
        assert log.index(("before", i, None)) < next(k for k, entry in enumerate(log) if entry[:2] == ("after", i))
    bodies = {m["X-Cadence-Touch"]: m.get_content() for m in smtp_sink.messages()}
    assert ".a line that starts with a dot" in bodies["3"]  # dot-stuffing undone by the server


def test_a_withdrawn_message_is_discarded_by_the_server_and_the_others_go_out(smtp_sink: SmtpSink) -> None:
    results, log = asyncio.run(send_all(smtp_sink.port, 10, withdraw=frozenset({2, 7})))
    assert isinstance(results[2], Withdrawn)
    assert isinstance(results[7], Withdrawn)
    assert sorted(m["X-Cadence-Touch"] for m in smtp_sink.messages()) == sorted(
        str(i) for i in range(10) if i not in (2, 7)
    )
    assert ("after", 2, results[2]) not in log  # nothing was handed over: there is no outcome to record


def test_a_451_at_the_end_of_data_is_transient_and_recorded(smtp_sink: SmtpSink) -> None:
    smtp_sink.faults = SinkFaults(temp_fail_rate=1.0)
    results, log = asyncio.run(send_all(smtp_sink.port, 3, connections=1))
    assert all(isinstance(r, TransientFailure) and r.code == 451 for r in results), results
    assert [type(outcome) for kind, _, outcome in log if kind == "after"] == [TransientFailure] * 3
    assert smtp_sink.count() == 0


def test_a_550_recipient_is_permanent_and_never_reaches_the_hand_off(smtp_sink: SmtpSink) -> None:
    smtp_sink.faults = SinkFaults(reject_recipients={"lead1@acme.example"})
    results, log = asyncio.run(send_all(smtp_sink.port, 3, connections=1))
    assert isinstance(results[1], PermanentFailure)
    assert results[1].code == 550
    assert [i for kind, i, _ in log if kind == "before"] == [0, 2]
    assert smtp_sink.count() == 2


def test_a_connection_cut_mid_data_delivers_nothing_and_is_transient(smtp_sink: SmtpSink) -> None:
    with FaultyProxy(smtp_sink.port, ProxyFaults(mid_data_rate=1.0)) as proxy:
        results, _ = asyncio.run(send_all(proxy.port, 4, connections=2))
    assert smtp_sink.count() == 0
    assert proxy.cut_touches("mid_data") == {"0", "1", "2", "3"}
    # The cut is seen before the final dot is written (the usual case) or, if it comes in just after,
    # taken as unknown: never as sent.
    assert all(isinstance(r, TransientFailure | UnknownOutcome) for r in results), results
    assert any(isinstance(r, TransientFailure) for r in results)


def test_a_connection_cut_after_the_dot_is_unknown_although_the_server_has_the_message(smtp_sink: SmtpSink) -> None:
    with FaultyProxy(smtp_sink.port, ProxyFaults(after_dot_rate=1.0)) as proxy:
        results, log = asyncio.run(send_all(proxy.port, 3, connections=1))
    assert all(isinstance(r, UnknownOutcome) for r in results), results
    assert [type(outcome) for kind, _, outcome in log if kind == "after"] == [UnknownOutcome] * 3
    assert smtp_sink.count() == 3  # they did arrive: which is why they must never be sent again
    assert proxy.cut_touches("after_dot") == {"0", "1", "2"}


def test_a_server_that_is_down_gives_a_transient_failure_before_any_hand_off(smtp_sink: SmtpSink) -> None:
    with FaultyProxy(smtp_sink.port) as proxy:
        proxy.go_down()
        results, log = asyncio.run(send_all(proxy.port, 2, connections=1))
        assert all(isinstance(r, TransientFailure) for r in results), results
        assert log == []
        proxy.come_back()
        results, _ = asyncio.run(send_all(proxy.port, 2, connections=1))
    assert all(isinstance(r, str) for r in results)
    assert smtp_sink.count() == 2


def test_a_hand_off_that_fails_before_the_dot_delivers_nothing(smtp_sink: SmtpSink) -> None:
    class Broken:
        def before(self) -> bool:
            raise RuntimeError("database unreachable")

        def after(self, outcome: str | DeliveryError) -> None:
            raise AssertionError("nothing was handed over")

    async def go() -> BaseException | str:
        async with SmtpSender(SmtpConfig(host="127.0.0.1", port=smtp_sink.port, connections=1)) as sender:
            try:
                return await sender.send(message(0), sender="rita@cadence.example", recipient="lead0@acme.example",
                                         hand_off=Broken())  # fmt: skip
            except DeliveryError as exc:
                return exc

    result = asyncio.run(go())
    assert isinstance(result, TransientFailure)
    assert smtp_sink.count() == 0


class RefusingServer:
    """An SMTP server that refuses our sender (as a relay refuses an unknown account) or the data."""

    def __init__(self, *, mail: str | None = None, data: str | None = None) -> None:
        self.mail, self.data = mail, data

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.mail:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.data or "250 OK"


@pytest.mark.parametrize(
    ("server", "code"),
    [
        (RefusingServer(mail="530 5.7.0 authentication required"), 530),
        (RefusingServer(mail="553 5.7.1 sender not allowed to relay"), 553),
    ],
)
def test_a_5xx_about_our_side_is_no_bounce_of_the_recipient(server: RefusingServer, code: int) -> None:
    # A refused sender says nothing about the lead's address: a bounce would decide and suppress every
    # due lead for a wrong password or relay setting. It is transient: the step waits and goes again.
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        results, log = asyncio.run(send_all(controller.port, 2, connections=1))
    finally:
        controller.stop()
    assert all(isinstance(r, TransientFailure) and r.code == code for r in results), results
    assert not any(isinstance(r, PermanentFailure) for r in results)
    assert log == []  # nothing reached the hand-off
