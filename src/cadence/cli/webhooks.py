"""``cadence webhooks``: endpoints that hear what happens (subscriptions), failed deliveries, redelivery."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, context, emit_json, parse_instant, run, session, table
from cadence.core.webhooks import EVENT_TYPES
from cadence.errors import ValidationError

webhooks_app = typer.Typer(
    help="Outbound webhooks: endpoints told of new leads, emails sent, responses, decisions and tasks.",
    no_args_is_help=True,
)

IdArgument = Annotated[int, typer.Argument(help="The subscription's number (`cadence webhooks list`).", min=1)]


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="The endpoint: an http:// or https:// address.")],
    events: Annotated[
        list[str],
        typer.Option(
            "--events", "-e", help=f"Events to send (repeat or comma-separate; `all`): {', '.join(EVENT_TYPES)}."
        ),
    ],
    description: Annotated[str | None, typer.Option(help="What the endpoint is, for the list.")] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe an endpoint to events; its signing secret is shown this once."""

    def go() -> None:
        from cadence.services.webhooks.subscriptions import add_subscription

        with session() as s:
            created = add_subscription(s, url, events, now=parse_instant(now), description=description)
        if as_json:
            emit_json({"id": created.id, "url": created.url, "events": created.events, "secret": created.secret})
            return
        typer.echo(f"webhook {created.id}: {created.url}")
        typer.echo(f"events: {', '.join(created.events)}")
        typer.echo(f"signing secret (shown only now; keep it with the endpoint): {created.secret}")

    run(go)


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOption = False) -> None:
    """List the subscriptions, with their deliveries waiting and failed."""

    def go() -> None:
        from cadence.services.webhooks.subscriptions import list_subscriptions

        with session() as s:
            items = list_subscriptions(s)
        if as_json:
            emit_json(items)
            return
        if not items:
            typer.echo("no webhooks: add one with `cadence webhooks add URL --events ...`")
            return
        rows = [
            (i["id"], i["url"], ", ".join(i["events"]), "active" if i["active"] else "paused", i["pending"], i["dead"])
            for i in items
        ]
        typer.echo(table(rows, ["id", "url", "events", "state", "waiting", "failed"]))

    run(go)


def _set_active(subscription_id: int, active: bool, now: str | None) -> None:
    from cadence.services.webhooks.subscriptions import set_active

    with session() as s:
        row = set_active(s, subscription_id, active, now=parse_instant(now))
        typer.echo(f"webhook {row.id} {'resumed' if active else 'paused: its deliveries wait until it is resumed'}")


@webhooks_app.command("pause")
def webhooks_pause(subscription_id: IdArgument, now: NowOption = None) -> None:
    """Pause a subscription: events are kept for it and sent when it is resumed."""
    run(lambda: _set_active(subscription_id, False, now))


@webhooks_app.command("resume")
def webhooks_resume(subscription_id: IdArgument, now: NowOption = None) -> None:
    """Resume a paused subscription: what waited goes out, in order."""
    run(lambda: _set_active(subscription_id, True, now))


@webhooks_app.command("remove")
def webhooks_remove(subscription_id: IdArgument, now: NowOption = None) -> None:
    """Remove a subscription and every delivery waiting for it."""

    def go() -> None:
        from cadence.services.webhooks.subscriptions import remove_subscription

        with session() as s:
            dropped = remove_subscription(s, subscription_id, now=parse_instant(now))
        typer.echo(f"webhook {subscription_id} removed ({dropped} deliveries with it)")

    run(go)


@webhooks_app.command("failures")
def webhooks_failures(as_json: JsonOption = False) -> None:
    """The deliveries that failed for the whole retry window (dead-lettered), the latest first."""

    def go() -> None:
        from cadence.services.webhooks.delivery import failures

        with session() as s:
            items = failures(s)
        if as_json:
            emit_json(items)
            return
        if not items:
            typer.echo("no failed deliveries")
            return
        rows = [
            (i["id"], i["subscription"], i["event"], i["attempts"], (i["last_attempt_at"] or "")[:16], i["last_error"])
            for i in items
        ]
        typer.echo(table(rows, ["delivery", "webhook", "event", "attempts", "last try", "last error"]))
        typer.echo("send one again: cadence webhooks redeliver DELIVERY (or --all)")

    run(go)


@webhooks_app.command("redeliver")
def webhooks_redeliver(
    delivery_id: Annotated[
        int | None, typer.Argument(help="The delivery (`cadence webhooks failures`).", min=1)
    ] = None,
    all_failed: Annotated[bool, typer.Option("--all", help="Every failed delivery.")] = False,
    now: NowOption = None,
) -> None:
    """Send a failed delivery again, with a new retry window; the worker sends it at its next run."""

    def go() -> None:
        from cadence.services.webhooks.delivery import redeliver, redeliver_dead

        if (delivery_id is None) == (not all_failed):
            raise ValidationError("name one delivery, or give --all")
        with session() as s:
            if all_failed:
                typer.echo(f"{redeliver_dead(s, now=parse_instant(now))} deliveries will be sent again")
            else:
                assert delivery_id is not None
                redeliver(s, delivery_id, now=parse_instant(now))
                typer.echo(f"delivery {delivery_id} will be sent again")

    run(go)


@webhooks_app.command("deliver")
def webhooks_deliver(now: NowOption = None, as_json: JsonOption = False) -> None:
    """Send every delivery due now, once (`cadence serve` does this every few seconds)."""

    def go() -> None:
        from cadence.services.webhooks.delivery import deliver_due

        ctx = context()
        ctx.require_schema()
        fixed = parse_instant(now) if now is not None else None
        report = deliver_due(ctx, clock=lambda: fixed or datetime.now(UTC))
        if as_json:
            emit_json(report.as_dict())
        else:
            typer.echo(f"delivered {report.delivered}, retrying {report.retried}, failed {report.dead}")

    run(go)
