"""``cadence mailboxes`` and ``cadence domains``: the reps' sending mailboxes and the DKIM keys of sending domains."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, context, emit_json, parse_instant, run, session, table

mailboxes_app = typer.Typer(help="The reps' own sending mailboxes: caps, ramp-up, pacing.", no_args_is_help=True)
domains_app = typer.Typer(help="Sending domains and their DKIM keys.", no_args_is_help=True)


@mailboxes_app.command("add")
def mailboxes_add(
    address: str,
    rep: Annotated[str, typer.Option("--rep", help="The rep whose leads' emails leave from it (their email).")],
    smtp_host: Annotated[str, typer.Option("--smtp-host", help="The mailbox's SMTP server.")],
    daily_cap: Annotated[int, typer.Option("--daily-cap", help="At most this many emails a day (its local day).")],
    smtp_port: Annotated[int, typer.Option("--smtp-port", help="The SMTP port.")] = 587,
    smtp_tls: Annotated[str, typer.Option("--smtp-tls", help="none, starttls or tls.")] = "starttls",
    smtp_username: Annotated[
        str | None, typer.Option("--smtp-username", help="The login (default: the address, when a password is set).")
    ] = None,
    password_block: Annotated[
        str | None, typer.Option("--password-block", help="Name of a Prefect Secret block holding the password.")
    ] = None,
    per_minute: Annotated[int | None, typer.Option("--per-minute", help="At most this many emails a minute.")] = None,
    ramp: Annotated[
        str | None, typer.Option("--ramp", help="Ramp-up START:STEP:MAX, e.g. 10:5:50 (10 the first day, +5 a day).")
    ] = None,
    imap_host: Annotated[
        str | None, typer.Option("--imap-host", help="Its own inbox's IMAP server: sync-replies reads it too.")
    ] = None,
    imap_port: Annotated[
        int | None, typer.Option("--imap-port", help="The IMAP port (default 993 with tls, else 143).")
    ] = None,
    imap_tls: Annotated[str, typer.Option("--imap-tls", help="none, starttls or tls.")] = "tls",
    imap_user: Annotated[
        str | None, typer.Option("--imap-user", help="The IMAP login (default: the mailbox's address).")
    ] = None,
    imap_password_block: Annotated[
        str | None,
        typer.Option("--imap-password-block", help="Name of a Prefect Secret block holding the IMAP password."),
    ] = None,
    imap_folder: Annotated[str | None, typer.Option("--imap-folder", help="The folder read (default INBOX).")] = None,
    by: Annotated[str, typer.Option("--by", help="Who makes the change, for the audit log.")] = "cli",
    now: NowOption = None,
) -> None:
    """Add a sending mailbox for a rep: their leads' emails leave from their mailboxes from now on."""

    def go() -> None:
        from cadence.services.mailboxes import ImapOptions, add_mailbox

        imap = ImapOptions(host=imap_host, port=imap_port, tls=imap_tls, username=imap_user,
                           password_block=imap_password_block, folder=imap_folder)  # fmt: skip
        with session() as s:
            mailbox = add_mailbox(s, address, rep_email=rep, smtp_host=smtp_host, now=parse_instant(now),
                                  daily_cap=daily_cap, smtp_port=smtp_port, smtp_tls=smtp_tls,
                                  smtp_username=smtp_username, password_block=password_block, per_minute=per_minute,
                                  ramp=ramp, imap=imap, actor=by)  # fmt: skip
            typer.echo(f"added mailbox {mailbox.address} for {mailbox.rep.email} (at most {mailbox.daily_cap} a day)")
            if mailbox.imap_host:
                typer.echo(
                    f"sync-replies reads its inbox: {mailbox.imap_folder} on {mailbox.imap_host}:{mailbox.imap_port}"
                )

    run(go)


@mailboxes_app.command("list")
def mailboxes_list(now: NowOption = None, as_json: JsonOption = False) -> None:
    """List the mailboxes: owner, caps, today's allowance and sends, the rate pacing allows, state."""

    def go() -> None:
        from cadence.services.mailboxes import list_mailboxes

        with session() as s:
            rows = list_mailboxes(s, now=parse_instant(now), settings=context().settings)
        if as_json:
            emit_json(rows)
        elif not rows:
            typer.echo("no sending mailboxes: emails leave through the SMTP server of the settings (CADENCE_SMTP_*)")
        else:
            typer.echo(
                table(
                    [
                        (
                            r["address"],
                            r["rep"],
                            r["state"],
                            f"{r['today_sent']}/{r['today_allowed']}",
                            r["ramp"] or "",
                            r["leads_under_way"],
                            r["recent_bounces"],
                            r["rate"],
                        )
                        for r in rows
                    ],
                    ["mailbox", "rep", "state", "today", "ramp", "leads", "bounces", "pacing"],
                )
            )
            for r in rows:
                if r["paused_reason"]:
                    typer.echo(f"{r['address']} is paused: {r['paused_reason']}")

    run(go)


@mailboxes_app.command("pause")
def mailboxes_pause(
    address: str,
    reason: Annotated[str, typer.Option("--reason", help="Why (shown in the list).")] = "paused by hand",
    now: NowOption = None,
) -> None:
    """Pause a mailbox: its leads' emails stay due and wait until it is resumed."""

    def go() -> None:
        from cadence.services.mailboxes import pause_mailbox

        with session() as s:
            mailbox = pause_mailbox(s, address, now=parse_instant(now), reason=reason)
            typer.echo(f"paused {mailbox.address}: its emails wait until `cadence mailboxes resume {mailbox.address}`")

    run(go)


@mailboxes_app.command("resume")
def mailboxes_resume(address: str, now: NowOption = None) -> None:
    """Resume a paused mailbox (the only way out of a pause by the bounce guard)."""

    def go() -> None:
        from cadence.services.mailboxes import resume_mailbox

        with session() as s:
            mailbox = resume_mailbox(s, address, now=parse_instant(now))
            typer.echo(f"resumed {mailbox.address}: the emails that waited go within the hour, at their next slot")

    run(go)


@mailboxes_app.command("remove")
def mailboxes_remove(
    address: str,
    by: Annotated[str, typer.Option("--by", help="Who makes the change, for the audit log.")] = "cli",
    now: NowOption = None,
) -> None:
    """Remove a mailbox; its leads under way are routed afresh at their next email (another of their owner's
    mailboxes, else the SMTP server of the settings): the command says which."""

    def go() -> None:
        from cadence.services.mailbox_removal import remove_mailbox

        with session() as s:
            removal = remove_mailbox(s, address, now=parse_instant(now), actor=by)
            typer.echo(f"removed {removal.address}. {removal.consequence()}")

    run(go)


@domains_app.command("add")
def domains_add(
    domain: str,
    dkim_selector: Annotated[str, typer.Option("--dkim-selector", help="The DKIM selector, e.g. s1.")],
    dkim_key: Annotated[Path | None, typer.Option("--dkim-key", help="The private key, a PEM file.")] = None,
    dkim_key_block: Annotated[
        str | None, typer.Option("--dkim-key-block", help="Or a Prefect Secret block holding the PEM key.")
    ] = None,
    now: NowOption = None,
) -> None:
    """Sign the outgoing mail of DOMAIN (its From addresses) with a DKIM key."""

    def go() -> None:
        from cadence.services.sending_domains import add_domain

        with session() as s:
            row, record = add_domain(s, domain, selector=dkim_selector, now=parse_instant(now), key_file=dkim_key,
                                     key_block=dkim_key_block)  # fmt: skip
            typer.echo(f"mail from {row.domain} is DKIM-signed with selector {row.selector}")
            if record:
                typer.echo(f"publish this TXT record at {row.selector}._domainkey.{row.domain}:\n{record}")
            typer.echo(f"then check it: cadence mail check-domain {row.domain} --selector {row.selector}")

    run(go)


@domains_app.command("list")
def domains_list(as_json: JsonOption = False) -> None:
    """List the sending domains and their DKIM selectors and keys."""

    def go() -> None:
        from cadence.services.sending_domains import list_domains

        with session() as s:
            rows = list_domains(s)
        if as_json:
            emit_json(rows)
        elif not rows:
            typer.echo("no sending domains: mail is sent without DKIM signatures")
        else:
            typer.echo(table([(r["domain"], r["selector"], r["key"]) for r in rows], ["domain", "selector", "key"]))

    run(go)


@domains_app.command("remove")
def domains_remove(domain: str) -> None:
    """Stop signing the mail of DOMAIN."""

    def go() -> None:
        from cadence.services.sending_domains import remove_domain

        with session() as s:
            remove_domain(s, domain)
            typer.echo(f"mail from {domain.strip().lower()} is no longer DKIM-signed")

    run(go)
