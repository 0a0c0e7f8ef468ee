"""``cadence mailboxes``, ``cadence domains`` and the rate ``plan`` and ``due`` show, on both databases."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.cli.test_cli import LEADS_CSV, NOW, write
from tests.conftest import Cli

BOX = "rita@outreach.cadence.example"


def add_box(cli: Cli, *extra: str, expect: int = 0) -> str:
    result = cli("mailboxes", "add", BOX, "--rep", "rita@cadence.example", "--smtp-host", "smtp.outreach.example",
                 "--daily-cap", "50", *extra, "--now", NOW, expect=expect)  # fmt: skip
    return result.stdout + result.stderr


def test_mailboxes_are_added_listed_paused_resumed_and_removed(run_cli: Cli) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--timezone", "America/Chicago")
    assert "added mailbox" in add_box(run_cli, "--ramp", "10:5:50", "--per-minute", "2", "--password-block", "rita-pw")
    (row,) = run_cli("mailboxes", "list", "--json", "--now", NOW).json()
    assert row["rep"] == "rita@cadence.example"
    assert row["ramp"] == "10:5:50"
    assert row["today_allowed"] == 10  # day one of its ramp-up
    assert row["rate"] == "up to 10 emails today, about one every 54 minutes"
    assert row["state"] == "active"
    assert "exists already" in add_box(run_cli, expect=1)
    paused = run_cli("mailboxes", "pause", BOX, "--reason", "provider warning")
    assert "cadence mailboxes resume" in paused.stdout
    assert "is paused: provider warning" in run_cli("mailboxes", "list", "--now", NOW).stdout
    run_cli("mailboxes", "resume", BOX)
    assert run_cli("mailboxes", "list", "--json", "--now", NOW).json()[0]["state"] == "active"
    run_cli("mailboxes", "remove", BOX)
    assert "no sending mailboxes" in run_cli("mailboxes", "list").stdout
    assert "added mailbox" in add_box(run_cli), "a removed address can be added again"


def test_bad_mailbox_options_are_clear_errors(run_cli: Cli) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep")
    assert "START:STEP:MAX" in add_box(run_cli, "--ramp", "ten", expect=1)
    assert "START must be at least 1 and at most MAX" in add_box(run_cli, "--ramp", "60:5:50", expect=1)
    assert "SMTP TLS must be" in add_box(run_cli, "--smtp-tls", "maybe", expect=1)
    assert "per-minute cap must be from 1" in add_box(run_cli, "--per-minute", "0", expect=1)
    assert "not a host name" in run_cli("mailboxes", "add", BOX, "--rep", "rita@cadence.example", "--smtp-host",
                                        "smtp host", "--daily-cap", "5", expect=1).stderr  # fmt: skip
    assert "no rep with email" in run_cli("mailboxes", "add", BOX, "--rep", "nobody@cadence.example", "--smtp-host",
                                          "smtp.example", "--daily-cap", "5", expect=1).stderr  # fmt: skip


def test_plan_and_due_show_the_rate_the_mailbox_allows(run_cli: Cli, tmp_path: Path) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep", "--timezone", "America/Chicago")
    run_cli("leads", "import", str(write(tmp_path, LEADS_CSV)), "--now", NOW, expect=3)
    without = run_cli("plan", "ada@acme.example")
    assert "emails leave from mailbox" not in without.stdout
    add_box(run_cli)
    plan = run_cli("plan", "ada@acme.example", "--json").json()
    assert plan["sending"] == [
        f"{BOX} (rita@cadence.example): up to 50 emails today, about one every 11 minutes; sent today 0"
    ]
    assert f"emails leave from mailbox {BOX}" in run_cli("plan", "ada@acme.example").stdout
    assert f"mailbox {BOX} (rita@cadence.example): up to 50 emails today" in run_cli("due", "--now", NOW).stdout


def test_sending_domains_are_added_with_the_record_to_publish_listed_and_removed(run_cli: Cli, tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "dkim.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    added = run_cli("domains", "add", "Outreach.Cadence.Example", "--dkim-selector", "s1", "--dkim-key", str(pem))
    assert "publish this TXT record at s1._domainkey.outreach.cadence.example" in added.stdout
    assert "v=DKIM1; k=rsa; p=" in added.stdout
    (row,) = run_cli("domains", "list", "--json").json()
    assert row == {"domain": "outreach.cadence.example", "selector": "s1", "key": str(pem.resolve()),
                   "record_name": "s1._domainkey.outreach.cadence.example"}  # fmt: skip
    missing = run_cli("domains", "add", "other.example", "--dkim-selector", "s1", "--dkim-key", str(tmp_path / "no"),
                      expect=1)  # fmt: skip
    assert "does not exist" in missing.stderr
    both = run_cli("domains", "add", "other.example", "--dkim-selector", "s1", expect=1)
    assert "--dkim-key FILE.pem or --dkim-key-block NAME" in both.stderr
    run_cli("domains", "remove", "outreach.cadence.example")
    assert "no sending domains" in run_cli("domains", "list").stdout


FLAGGED_CSV = """\
Email,First Name,Last Name,Title,Company,Industry,Company Size,Country,Timezone,Source,Interactions
info@acme.example,Info,Desk,VP Engineering,Acme,Software,500,US,America/New_York,webinar,3
jo@mailinator.com,Jo,Throwaway,VP Engineering,Beta,Software,500,US,America/New_York,webinar,3
ada@acme.example,Ada,Lovelace,VP Engineering,Acme,Software,500,US,America/New_York,webinar,3
"""


def test_role_addresses_are_enrolled_with_a_warning_and_disposable_ones_kept_but_not_enrolled(
    run_cli: Cli, tmp_path: Path
) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep")
    result = run_cli("leads", "import", str(write(tmp_path, FLAGGED_CSV)), "--now", NOW)
    assert "imported 3 new, updated 0, enrolled 2" in result.stdout
    assert "  row 2: info@ is a role address" in result.stderr
    assert "  row 3: mailinator.com is a disposable email service: not enrolled" in result.stderr
    report = run_cli("leads", "import", str(write(tmp_path, FLAGGED_CSV)), "--now", NOW, "--json").json()
    assert [(w["email"], w["flag"]) for w in report["warnings"]] == [
        ("info@acme.example", "role"),
        ("jo@mailinator.com", "disposable"),
    ]
    shown = run_cli("leads", "show", "jo@mailinator.com").stdout
    assert "warning: mailinator.com is a disposable email service: not enrolled" in shown
    assert "warning" not in run_cli("leads", "show", "ada@acme.example").stdout


def test_a_mailbox_can_name_its_own_inbox_and_bad_imap_options_are_clear_errors(run_cli: Cli) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep")
    assert "an IMAP host is needed" in add_box(run_cli, "--imap-user", "rita", expect=1)
    assert "must come from a Prefect Secret block" in add_box(run_cli, "--imap-host", "imap.outreach.example",
                                                              expect=1)  # fmt: skip
    bad = add_box(run_cli, "--imap-host", "imap host", "--imap-tls", "maybe", "--imap-password-block", "x y", expect=1)
    assert "IMAP host 'imap host' is not a host name" in bad
    assert "IMAP TLS must be none, starttls or tls" in bad
    assert "IMAP password block 'x y' is not a Prefect block name" in bad
    added = add_box(run_cli, "--imap-host", "IMAP.outreach.example", "--imap-password-block", "rita-imap")
    assert "sync-replies reads its inbox: INBOX on imap.outreach.example:993" in added
    entries = run_cli("audit", "list", "--action", "mailboxes", "--json").json()
    assert [(e["action"], e["actor"], e["subject"]) for e in entries] == [("mailboxes.add", "cli", BOX)]
    assert entries[0]["details"]["imap"] == "imap.outreach.example:993 INBOX"


def test_removing_a_reps_only_mailbox_says_its_leads_send_through_the_settings_server(
    run_cli: Cli, tmp_path: Path
) -> None:
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita Rep")
    add_box(run_cli)
    removed = run_cli("mailboxes", "remove", BOX, "--by", "max@cadence.example", "--now", NOW).stdout
    assert f"removed {BOX}. It has no leads under way." in removed
    assert "What it sent stays in the leads' histories." in removed
    add_box(run_cli)
    other = "rita2@outreach.cadence.example"
    run_cli("mailboxes", "add", other, "--rep", "rita@cadence.example", "--smtp-host", "smtp.outreach.example",
            "--daily-cap", "5", "--now", NOW)  # fmt: skip
    run_cli("mailboxes", "pause", other)
    assert "It has no leads under way." in run_cli("mailboxes", "remove", BOX, "--now", NOW).stdout
    (entry,) = run_cli("audit", "list", "--actor", "max@cadence.example", "--json").json()
    assert (entry["action"], entry["subject"], entry["details"]["leads"]) == ("mailboxes.remove", BOX, 0)
