"""The unsubscribe use case without HTTP: what a link stands for, and unsubscribing, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, Suppression
from cadence.core.tokens import sign_unsubscribe
from cadence.services.context import Context
from cadence.services.suppression import is_suppressed
from cadence.services.unsubscribe import InvalidLink, LinkStatus, Unsubscribed, link_status, unsubscribe_link
from tests.flows.conftest import lead_row, seed
from tests.web.conftest import MONDAY

NOW = MONDAY + timedelta(days=2)


def token(ctx: Context, address: str) -> str:
    return sign_unsubscribe(address, ctx.settings.secret_key.get_secret_value())


def test_a_link_says_whom_it_unsubscribes_and_changes_nothing(ctx: Context) -> None:
    seed(ctx, [lead_row(0)], now=MONDAY)
    assert link_status(ctx, token(ctx, "Lead0@ACME.example")) == LinkStatus("lead0@acme.example", already=False)
    with ctx.sessions() as s:
        assert not is_suppressed(s, "lead0@acme.example")


def test_unsubscribing_suppresses_decides_once_and_is_idempotent(ctx: Context) -> None:
    seed(ctx, [lead_row(0)], now=MONDAY)
    link = token(ctx, "lead0@acme.example")
    assert unsubscribe_link(ctx, link, now=NOW) == Unsubscribed("lead0@acme.example", decided=True)
    assert unsubscribe_link(ctx, link, now=NOW + timedelta(hours=1)) == Unsubscribed(
        "lead0@acme.example", decided=False
    )
    assert link_status(ctx, link).already
    with ctx.sessions() as s:
        assert s.execute(select(Decision.outcome, Decision.decided_at)).all() == [("unsubscribed", NOW)]
        assert s.scalars(select(Suppression.value)).all() == ["lead0@acme.example"]


def test_an_address_with_no_lead_is_suppressed_without_a_decision(ctx: Context) -> None:
    assert unsubscribe_link(ctx, token(ctx, "nobody@acme.example"), now=NOW) == Unsubscribed(
        "nobody@acme.example", decided=False
    )
    with ctx.sessions() as s:
        assert is_suppressed(s, "nobody@acme.example")
        assert s.scalars(select(Decision)).all() == []


FORGED: dict[str, Callable[[Context], str]] = {
    "empty": lambda ctx: "",
    "garbage": lambda ctx: "not-a-token",
    "a bare address": lambda ctx: "lead0@acme.example",
    "a genuine token for a whole domain": lambda ctx: token(ctx, "@acme.example"),
    "a variant of a genuine token": lambda ctx: token(ctx, "lead0@acme.example") + "=",
    "another key's token": lambda ctx: sign_unsubscribe("lead0@acme.example", "another-key"),
}


@pytest.mark.parametrize("forge", FORGED.values(), ids=FORGED.keys())
def test_a_token_that_is_not_ours_is_an_invalid_link_and_changes_nothing(
    ctx: Context, forge: Callable[[Context], str]
) -> None:
    seed(ctx, [lead_row(0)], now=MONDAY)
    bad = forge(ctx)
    with pytest.raises(InvalidLink, match="This link is not valid"):
        link_status(ctx, bad)
    with pytest.raises(InvalidLink):
        unsubscribe_link(ctx, bad, now=NOW)
    with ctx.sessions() as s:
        assert s.scalars(select(Suppression)).all() == []
        assert s.scalars(select(Decision)).all() == []
