"""The SMTP sink is a real SMTP server: clients talk SMTP to it, and it keeps what they sent, as sent."""

from __future__ import annotations

import asyncio
import mailbox
import signal
import smtplib
import socket
import subprocess
import sys
from pathlib import Path

import aiosmtplib
import pytest

from cadence.adapters.smtp_sink import ReceivedEnvelope, SinkFaults, SmtpSink

CLIENT_NAME = "client.cadence.example"  # a fixed EHLO name: no getfqdn() DNS lookups in tests

MESSAGE = (
    b"From: Ann Rep <ann@cadence.example>\r\n"
    b"To: Bob Lead <bob@lead.example>\r\n"
    b"Subject: Following up on your request\r\n"
    b"Message-ID: <followup-1@cadence.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hello Bob,\r\n"
    b".a line that starts with a dot, which SMTP stuffs and the server unstuffs\r\n"
    b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln,   trailing spaces   \r\n"
    b"\r\n"
    b"Ann\r\n"
)


def maildir_files(maildir: Path) -> list[Path]:
    return sorted((maildir / "new").iterdir()) + sorted((maildir / "cur").iterdir())


async def send_with_aiosmtplib(sink: SmtpSink, message: bytes, sender: str, recipients: list[str]) -> None:
    await aiosmtplib.send(
        message,
        sender=sender,
        recipients=recipients,
        hostname=sink.host,
        port=sink.port,
        local_hostname=CLIENT_NAME,
        start_tls=False,
        timeout=10,
    )


class TestStoringMessages:
    def test_a_message_sent_with_aiosmtplib_lands_in_the_maildir_byte_for_byte(self, smtp_sink: SmtpSink) -> None:
        asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))

        assert smtp_sink.maildir is not None
        files = maildir_files(smtp_sink.maildir)
        assert len(files) == 1
        assert files[0].read_bytes() == MESSAGE
        assert smtp_sink.raw_messages() == [MESSAGE]

    def test_a_message_sent_with_smtplib_lands_in_the_maildir_byte_for_byte(self, smtp_sink: SmtpSink) -> None:
        with smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname=CLIENT_NAME, timeout=10) as client:
            refused = client.sendmail("ann@cadence.example", ["bob@lead.example"], MESSAGE)

        assert refused == {}
        assert smtp_sink.maildir is not None
        assert [path.read_bytes() for path in maildir_files(smtp_sink.maildir)] == [MESSAGE]

    def test_the_maildir_is_readable_by_the_standard_library(self, smtp_sink: SmtpSink) -> None:
        asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))

        assert smtp_sink.maildir is not None
        box = mailbox.Maildir(smtp_sink.maildir, create=False)
        assert [message["Message-ID"] for message in box] == ["<followup-1@cadence.example>"]

    def test_messages_are_parsed_with_the_default_policy(self, smtp_sink: SmtpSink) -> None:
        asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))

        [message] = smtp_sink.wait_for(1)
        assert message["Subject"] == "Following up on your request"
        assert message["To"].addresses[0].addr_spec == "bob@lead.example"
        body = message.get_body(("plain",))
        assert body is not None
        assert "Grüße aus Köln" in body.get_content()

    def test_without_a_maildir_messages_are_kept_in_memory(self) -> None:
        with SmtpSink() as sink:
            asyncio.run(send_with_aiosmtplib(sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))
            assert sink.maildir is None
            assert sink.raw_messages() == [MESSAGE]
            assert sink.count() == 1

    def test_an_existing_empty_directory_becomes_a_maildir(self, tmp_path: Path) -> None:
        (tmp_path / "mail").mkdir()
        with SmtpSink(tmp_path / "mail") as sink:
            asyncio.run(send_with_aiosmtplib(sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))

        assert [path.read_bytes() for path in maildir_files(tmp_path / "mail")] == [MESSAGE]

    def test_messages_are_kept_in_the_order_they_arrived(self, smtp_sink: SmtpSink) -> None:
        with smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname=CLIENT_NAME, timeout=10) as client:
            for number in range(3):
                client.sendmail("ann@cadence.example", ["bob@lead.example"], f"Subject: {number}\r\n\r\nx\r\n")

        assert [message["Subject"] for message in smtp_sink.wait_for(3)] == ["0", "1", "2"]


class TestEnvelopes:
    def test_the_envelope_is_recorded_and_not_written_into_the_message(self, smtp_sink: SmtpSink) -> None:
        recipients = ["bob@lead.example", "hidden-bcc@cadence.example"]
        asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "bounces+42@cadence.example", recipients))

        [envelope] = smtp_sink.envelopes
        assert envelope.mail_from == "bounces+42@cadence.example"
        assert envelope.rcpt_tos == ("bob@lead.example", "hidden-bcc@cadence.example")
        assert smtp_sink.maildir is not None
        assert [path.name.split(":")[0] for path in maildir_files(smtp_sink.maildir)] == [envelope.key]
        assert b"hidden-bcc" not in smtp_sink.raw_messages()[0]

    def test_envelopes_can_be_read_from_the_handler_as_well(self, smtp_sink: SmtpSink) -> None:
        with smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname=CLIENT_NAME, timeout=10) as client:
            client.sendmail("ann@cadence.example", ["bob@lead.example"], MESSAGE)

        assert smtp_sink.handler.envelopes == smtp_sink.envelopes
        assert smtp_sink.envelopes[0] == ReceivedEnvelope(
            "ann@cadence.example", ("bob@lead.example",), smtp_sink.envelopes[0].key
        )


class TestFaults:
    def test_a_rejected_recipient_gets_550_user_unknown(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.faults = SinkFaults(reject_recipients={"Gone@Lead.example"})

        async def rcpt() -> None:
            client = aiosmtplib.SMTP(hostname=smtp_sink.host, port=smtp_sink.port, local_hostname=CLIENT_NAME)
            async with client:
                await client.mail("ann@cadence.example")
                await client.rcpt("gone@lead.example")

        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            asyncio.run(rcpt())
        assert isinstance(refused.value, aiosmtplib.SMTPResponseException)
        assert refused.value.code == 550
        assert "5.1.1 user unknown" in refused.value.message
        assert smtp_sink.count() == 0

    def test_a_message_to_good_and_rejected_recipients_goes_to_the_good_ones_only(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.faults = SinkFaults(reject_recipients={"gone@lead.example"})

        async def send() -> dict[str, aiosmtplib.SMTPResponse]:
            errors, _ = await aiosmtplib.send(
                MESSAGE,
                sender="ann@cadence.example",
                recipients=["gone@lead.example", "bob@lead.example"],
                hostname=smtp_sink.host,
                port=smtp_sink.port,
                local_hostname=CLIENT_NAME,
                start_tls=False,
            )
            return errors

        errors = asyncio.run(send())

        assert errors["gone@lead.example"].code == 550
        assert [envelope.rcpt_tos for envelope in smtp_sink.envelopes] == [("bob@lead.example",)]

    def test_smtplib_sees_the_550_as_a_refused_recipient(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.faults = SinkFaults(reject_recipients={"gone@lead.example"})

        with (
            smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname=CLIENT_NAME, timeout=10) as client,
            pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
        ):
            client.sendmail("ann@cadence.example", ["gone@lead.example"], MESSAGE)

        assert refused.value.recipients == {"gone@lead.example": (550, b"5.1.1 user unknown")}

    def test_a_temporary_failure_rate_of_one_answers_every_message_451(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.faults = SinkFaults(temp_fail_rate=1.0)

        for _ in range(2):
            with pytest.raises(aiosmtplib.SMTPDataError) as failed:
                asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))
            assert failed.value.code == 451
            assert "4.3.0 try again" in failed.value.message
        assert smtp_sink.count() == 0
        assert smtp_sink.maildir is not None
        assert maildir_files(smtp_sink.maildir) == []

    def test_a_421_reply_closes_the_connection(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.faults = SinkFaults(disconnect_rate=1.0)

        with smtplib.SMTP(smtp_sink.host, smtp_sink.port, local_hostname=CLIENT_NAME, timeout=10) as client:
            client.ehlo()
            client.mail("ann@cadence.example")
            client.rcpt("bob@lead.example")
            code, _ = client.data(MESSAGE)
            assert code == 421
            # The server has hung up: the next command finds the connection closed.
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.noop()
        assert smtp_sink.count() == 0

    def test_aiosmtplib_sees_the_421_as_a_data_error(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.faults = SinkFaults(disconnect_rate=1.0)

        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))
        assert failed.value.code == 421

    def test_faults_can_be_lifted_while_running(self, smtp_sink: SmtpSink) -> None:
        smtp_sink.faults = SinkFaults(temp_fail_rate=1.0)
        with pytest.raises(aiosmtplib.SMTPDataError):
            asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))

        smtp_sink.faults = None
        asyncio.run(send_with_aiosmtplib(smtp_sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"]))

        assert smtp_sink.count() == 1

    def test_the_same_seed_fails_the_same_messages(self) -> None:
        def pattern(seed: int) -> list[str | None]:
            faults = SinkFaults(temp_fail_rate=0.5, seed=seed)
            return [faults.on_data("a@x.example", ["b@y.example"]) for _ in range(40)]

        assert pattern(7) == pattern(7)
        assert pattern(7) != pattern(8)
        assert 5 < pattern(7).count("451 4.3.0 try again") < 35

    @pytest.mark.parametrize("rate", [-0.1, 1.5])
    def test_a_rate_outside_zero_to_one_is_refused(self, rate: float) -> None:
        with pytest.raises(ValueError, match="temp_fail_rate"):
            SinkFaults(temp_fail_rate=rate)


class TestLifeCycle:
    def test_two_sinks_on_port_zero_get_different_free_ports(self) -> None:
        with SmtpSink() as first, SmtpSink() as second:
            assert first.port != 0
            assert second.port != 0
            assert first.port != second.port
            for sink in (first, second):
                with smtplib.SMTP(sink.host, sink.port, local_hostname=CLIENT_NAME, timeout=10) as client:
                    assert client.noop()[0] == 250

    def test_a_taken_port_fails_at_once(self) -> None:
        with SmtpSink() as first, pytest.raises(OSError, match="address already in use"):
            SmtpSink(port=first.port).start()

    def test_a_stopped_sink_no_longer_listens(self) -> None:
        with SmtpSink() as sink:
            port = sink.port
        assert not sink.running
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_wait_for_raises_when_the_messages_do_not_come(self, smtp_sink: SmtpSink) -> None:
        with pytest.raises(TimeoutError, match="received 0 message"):
            smtp_sink.wait_for(1, timeout=0.05)

    def test_the_sink_works_as_an_async_context_manager(self, tmp_path: Path) -> None:
        async def scenario() -> list[str]:
            async with SmtpSink(tmp_path / "mail") as sink:
                await send_with_aiosmtplib(sink, MESSAGE, "ann@cadence.example", ["bob@lead.example"])
                messages = await sink.wait_for_async(1)
            return [message["Message-ID"] for message in messages]

        assert asyncio.run(scenario()) == ["<followup-1@cadence.example>"]


class TestCommandLine:
    def test_it_serves_until_interrupted_and_says_where_mail_goes(self, tmp_path: Path) -> None:
        maildir = tmp_path / "var" / "mail"
        process = subprocess.Popen(
            [sys.executable, "-m", "cadence.adapters.smtp_sink", "--maildir", str(maildir), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            assert f"storing mail in the Maildir {maildir}" in banner
            port = int(banner.split("127.0.0.1:")[1].split(";")[0])

            with smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT_NAME, timeout=10) as client:
                client.sendmail("ann@cadence.example", ["bob@lead.example"], MESSAGE)
            assert "ann@cadence.example -> bob@lead.example" in process.stdout.readline()

            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

        assert process.returncode == 0, err
        assert "stored 1 message(s)" in out
        assert [path.read_bytes() for path in maildir_files(maildir)] == [MESSAGE]
