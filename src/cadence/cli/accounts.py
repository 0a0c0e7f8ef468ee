"""``cadence accounts``: the companies leads work at: list, show, merge, split, reassign."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, parse_instant, run, session, table

accounts_app = typer.Typer(help="The companies leads work at: one owner each.", no_args_is_help=True)

AccountArg = Annotated[str, typer.Argument(help="The account: its domain, company name, a contact's address or #id.")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who decided (recorded with the change).")]


@accounts_app.command("list")
def accounts_list(
    owner: Annotated[str | None, typer.Option(help="Only this rep's accounts.")] = None, as_json: JsonOption = False
) -> None:
    """List accounts with their owner, contacts and engaged contacts (most engaged first)."""

    def go() -> None:
        from cadence.services.accounts import list_accounts

        with session() as s:
            items = list_accounts(s, owner=owner)
        if as_json:
            emit_json(items)
            return
        rows = [(f"#{i['id']}", i["account"], i["domain"], i["owner"], i["contacts"], i["engaged"]) for i in items]
        typer.echo(table(rows, ["id", "account", "domain", "owner", "contacts", "engaged"]))
        typer.echo(f"{len(items)} account(s)")

    run(go)


@accounts_app.command("show")
def accounts_show(account: AccountArg, as_json: JsonOption = False) -> None:
    """Show an account: contacts with roles and states, coverage, open tasks, one timeline, changes."""

    def go() -> None:
        from cadence.services.accounts import show_account

        with session() as s:
            data = show_account(s, account)
        if as_json:
            emit_json(data)
            return
        _print(data)

    run(go)


def _print(data: dict[str, Any]) -> None:
    cover = data["coverage"]
    typer.echo(f"{data['account']} (#{data['id']}, {data['domain'] or 'no company domain'}), owner {data['owner']}")
    typer.echo(
        f"  coverage: decision maker {'known' if cover['decision_maker'] else 'unknown'}, "
        f"approver {'known' if cover['approver'] else 'unknown'}, {cover['engaged']} of {cover['contacts']} engaged"
    )
    rows = [(c["email"] or c["phone"], c["name"] or c["ref"], c["title"], c["role"], c["status"], c["decision"])
            for c in data["contacts"]]  # fmt: skip
    typer.echo(table(rows, ["contact", "name", "title", "role", "status", "decision"]))
    if data["open_tasks"]:
        typer.echo("open tasks:")
        typer.echo(table([(t["due"], t["contact"], t["title"], t["owner"]) for t in data["open_tasks"]],
                         ["due", "contact", "task", "owner"]))  # fmt: skip
    if data["timeline"]:
        typer.echo("timeline:")
        typer.echo(table([(t["at"], t["contact"], t["what"], t["detail"]) for t in data["timeline"]],
                         ["at", "contact", "what", "detail"]))  # fmt: skip
    for change in data["changes"]:
        typer.echo(f"  {change['at']}: {change['kind']} by {change['by'] or 'unknown'}: {change['note']}")


@accounts_app.command("merge")
def accounts_merge(
    source: Annotated[str, typer.Argument(help="The account that goes (its contacts move).")],
    target: Annotated[str, typer.Argument(help="The account that takes them.")],
    by: ByOption = None,
    now: NowOption = None,
) -> None:
    """Merge SOURCE into TARGET: its contacts, with their timelines, join TARGET and its owner (recorded)."""

    def go() -> None:
        from cadence.services.accounts import merge_accounts

        with session() as s:
            result = merge_accounts(s, source, target, by=by, now=parse_instant(now))
        typer.echo(f"merged {result['merged']} into {result['into']}: {result['contacts_moved']} contact(s) moved")

    run(go)


@accounts_app.command("split")
def accounts_split(
    account: AccountArg,
    contacts: Annotated[list[str], typer.Option("--contact", help="A contact that moves (repeat the option).")],
    into: Annotated[str, typer.Option("--into", help="The new account's name.")],
    by: ByOption = None,
    now: NowOption = None,
) -> None:
    """Move some contacts of ACCOUNT into a new account (recorded)."""

    def go() -> None:
        from cadence.services.accounts import split_account

        with session() as s:
            result = split_account(s, account, contacts, into=into, by=by, now=parse_instant(now))
        typer.echo(f"moved {result['contacts_moved']} contact(s) of {result['account']} to {result['into']}")

    run(go)


@accounts_app.command("reassign")
def accounts_reassign(
    account: AccountArg,
    to: Annotated[str, typer.Option("--to", help="The rep who takes the account.")],
    by: ByOption = None,
    now: NowOption = None,
) -> None:
    """Give the account to another rep: its contacts and their open tasks move with it (recorded)."""

    def go() -> None:
        from cadence.services.accounts import reassign_account

        with session() as s:
            result = reassign_account(s, account, to, by=by, now=parse_instant(now))
        typer.echo(f"{result['account']} is {result['owner']}'s now: {result['contacts_moved']} contact(s) moved")

    run(go)
