"""The private Dovecot of the tests is a real IMAP server: what is appended can be fetched back by UID."""

from __future__ import annotations

import imaplib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dovecot import DovecotError, DovecotServer
from tests.support.servers import REPLIES_PASSWORD, REPLIES_USER, unavailable


def a_reply(subject: str = "Re: Following up on your request") -> tuple[str, bytes]:
    """A reply from a lead with a Message-ID of its own (the server is shared by the whole session)."""
    message_id = f"<{secrets.token_hex(8)}@lead.example>"
    message = (
        f"From: Bob Lead <bob@lead.example>\r\n"
        f"To: replies@cadence.example\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: {message_id}\r\n"
        f"In-Reply-To: <followup-1@cadence.example>\r\n"
        f"\r\n"
        f"Yes, Tuesday at 10 works for me.\r\n"
    ).encode()
    return message_id, message


@pytest.fixture
def imap(dovecot: DovecotServer) -> Iterator[imaplib.IMAP4]:
    """A plain imaplib connection to the private Dovecot, logged in as the replies user."""
    client = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    client.login(REPLIES_USER, REPLIES_PASSWORD)
    yield client
    client.logout()


def uid_of(imap: imaplib.IMAP4, message_id: str) -> int:
    typ, data = imap.uid("SEARCH", "HEADER", "Message-ID", f'"{message_id}"')
    assert typ == "OK", data
    [uid] = data[0].split()
    return int(uid)


class TestAppendAndFetch:
    def test_an_appended_message_is_fetched_back_by_uid_byte_for_byte(
        self, dovecot: DovecotServer, imap: imaplib.IMAP4
    ) -> None:
        message_id, message = a_reply()

        appended_uid = dovecot.append(REPLIES_USER, "INBOX", message)

        typ, _ = imap.select("INBOX", readonly=True)
        assert typ == "OK"
        uid = uid_of(imap, message_id)
        assert uid == appended_uid
        typ, data = imap.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
        assert typ == "OK"
        envelope, body = data[0]
        assert f"UID {uid} ".encode() in envelope
        assert body == message

    def test_select_reports_the_uidvalidity_of_the_mailbox(self, dovecot: DovecotServer, imap: imaplib.IMAP4) -> None:
        dovecot.append(REPLIES_USER, "INBOX", a_reply()[1])

        imap.select("INBOX", readonly=True)
        typ, data = imap.response("UIDVALIDITY")

        assert typ == "UIDVALIDITY"
        assert data[0] is not None
        assert int(data[0]) > 0

    def test_uids_grow_with_each_appended_message(self, dovecot: DovecotServer) -> None:
        first = dovecot.append(REPLIES_USER, "INBOX", a_reply()[1])
        second = dovecot.append(REPLIES_USER, "INBOX", a_reply()[1])

        assert first is not None
        assert second is not None
        assert second > first

    def test_a_message_can_be_appended_to_a_new_folder_with_flags(
        self, dovecot: DovecotServer, imap: imaplib.IMAP4
    ) -> None:
        folder = f"Replies/{secrets.token_hex(4)}"
        message_id, message = a_reply()

        dovecot.append(REPLIES_USER, folder, message, flags=[r"\Seen"])

        typ, listed = imap.list('""', f'"{folder}"')
        assert typ == "OK"
        assert listed[0] is not None
        assert f'"/" {folder}'.encode() in listed[0]
        imap.select(f'"{folder}"', readonly=True)
        typ, data = imap.uid("FETCH", str(uid_of(imap, message_id)), "(FLAGS)")
        assert rb"\Seen" in data[0]


class TestUsers:
    def test_a_wrong_password_is_refused(self, dovecot: DovecotServer) -> None:
        client = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
        try:
            with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
                client.login(REPLIES_USER, "not-the-password")
        finally:
            client.logout()

    def test_a_user_added_while_running_can_log_in_at_once(self, dovecot: DovecotServer) -> None:
        name = f"late-{secrets.token_hex(4)}@cadence.example"
        dovecot.add_user(name, "late-secret")

        with dovecot.connect(name) as imap:
            typ, data = imap.select("INBOX")
        assert typ == "OK"
        assert data == [b"0"]

    def test_mail_is_stored_under_the_servers_own_directory(self, dovecot: DovecotServer) -> None:
        dovecot.append(REPLIES_USER, "INBOX", a_reply()[1])

        maildir = dovecot.users[REPLIES_USER].home / "Maildir"
        assert maildir.is_relative_to(dovecot.root)
        assert any((maildir / "new").iterdir()) or any((maildir / "cur").iterdir())
        assert dovecot.port not in (143, 993)


class TestStartup:
    def test_a_taken_port_fails_with_the_log(self, dovecot: DovecotServer) -> None:
        root = Path(tempfile.mkdtemp(prefix="cadence-dovecot-"))
        try:
            second = DovecotServer(root, port=dovecot.port)
            with pytest.raises(DovecotError, match="Address already in use"):
                second.start()
            assert not second.running
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def test_a_directory_the_dovecot_user_cannot_reach_is_refused(self, dovecot: DovecotServer, tmp_path: Path) -> None:
        # pytest's base temp directory is mode 0700: the mail processes could not enter it.
        with pytest.raises(DovecotError, match="cannot reach"):
            DovecotServer(tmp_path / "dovecot").start()

    def test_without_dovecot_the_tests_are_skipped_with_the_reason(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("CI", raising=False)
        with pytest.raises(pytest.skip.Exception, match=r"run scripts/install-system-packages\.sh"):
            unavailable("dovecot-imapd not installed: run scripts/install-system-packages.sh")

    def test_without_dovecot_ci_fails_instead_of_skipping(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match="CI=true"):
            unavailable("dovecot-imapd not installed: run scripts/install-system-packages.sh")
