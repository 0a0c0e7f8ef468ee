"""``cadence webhooks`` and the pure rules of webhooks: event names, addresses, secrets, signatures, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from cadence.core.webhooks import EVENT_TYPES, check_url, headers, next_attempt, parse_events, sign
from cadence.errors import ValidationError
from tests.conftest import Cli
from tests.webhooks.receiver import Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_the_signature_is_the_one_the_specifications_library_computes() -> None:
    body = '{"type":"lead.created","data":{"name":"Zoë"}}'.encode()
    expected = Webhook(SECRET).sign("msg_1", NOW, body)
    assert sign(SECRET, "msg_1", int(NOW.timestamp()), body) == expected
    sent = headers(SECRET, "msg_1", NOW, body)
    assert sent["webhook-signature"] == expected
    assert sent["webhook-timestamp"] == str(int(NOW.timestamp()))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["lead.created"], ["lead.created"]),
        (["task.completed,lead.created", " touch.sent "], ["lead.created", "touch.sent", "task.completed"]),
        (["all"], list(EVENT_TYPES)),
        (["*"], list(EVENT_TYPES)),
    ],
)
def test_event_names_are_read_in_any_order_and_kept_in_one(given: list[str], expected: list[str]) -> None:
    assert parse_events(given) == expected


@pytest.mark.parametrize(
    ("given", "said"),
    [([], "name at least one event"), (["lead.deleted"], "unknown event 'lead.deleted'"), ([","], "at least one")],
)
def test_an_unknown_or_missing_event_is_refused_with_the_known_ones(given: list[str], said: str) -> None:
    with pytest.raises(ValidationError, match=said) as error:
        parse_events(given)
    if given:
        assert "meeting.booked" in str(error.value) or "at least one" in said


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example/x",
        "https://",
        "hooks.example/x",
        "https://hooks.example/x\r\nX-Injected: 1",
        "https://hooks.example/a b",
        "https://user:pw@hooks.example/x",
        "https://hooks.example:port/x",
        "https://" + "a" * 2000 + ".example",
    ],
)
def test_an_address_that_is_not_a_plain_http_endpoint_is_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        check_url(url)


def test_retries_double_and_stop_at_the_end_of_the_window() -> None:
    def after(attempts: int, now: datetime) -> datetime | None:
        return next_attempt(attempts=attempts, first_attempt_at=NOW, now=now, base=timedelta(seconds=30),
                            cap=timedelta(hours=3), window=timedelta(hours=24))  # fmt: skip

    assert after(1, NOW) == NOW + timedelta(seconds=30)
    assert after(3, NOW) == NOW + timedelta(minutes=2)
    assert after(40, NOW + timedelta(hours=20)) == NOW + timedelta(hours=23)  # capped at 3 h
    assert after(1000, NOW + timedelta(hours=22)) is None  # the next one would be past 24 h


@pytest.mark.one_database
def test_the_cli_adds_lists_pauses_resumes_and_removes_a_subscription(run_cli: Cli, receiver: Receiver) -> None:
    run_cli("init")
    added = run_cli("webhooks", "add", receiver.url, "--events", "lead.created,decision.recorded", "--json").json()
    assert added["secret"].startswith("whsec_")
    assert added["events"] == ["lead.created", "decision.recorded"]
    text = run_cli("webhooks", "add", receiver.url, "-e", "all", "--description", "CRM").stdout
    assert "signing secret (shown only now" in text
    listed = run_cli("webhooks", "list").stdout
    assert receiver.url in listed
    assert "whsec_" not in listed
    assert "whsec_" not in run_cli("webhooks", "list", "--json").stdout
    assert "paused" in run_cli("webhooks", "pause", "1").stdout
    assert [i["active"] for i in run_cli("webhooks", "list", "--json").json()] == [False, True]
    run_cli("webhooks", "resume", "1")
    assert "removed" in run_cli("webhooks", "remove", "2").stdout
    assert [i["id"] for i in run_cli("webhooks", "list", "--json").json()] == [1]
    assert run_cli("webhooks", "failures").stdout.strip() == "no failed deliveries"


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["add", "https://hooks.example/x", "--events", "lead.exploded"], "unknown event 'lead.exploded'"),
        (["add", "javascript:alert(1)", "--events", "all"], "http:// or https://"),
        (["pause", "7"], "no webhook subscription 7"),
        (["redeliver", "7"], "no webhook delivery 7"),
        (["redeliver"], "name one delivery, or give --all"),
    ],
)
def test_the_cli_says_what_is_wrong(run_cli: Cli, args: list[str], said: str) -> None:
    run_cli("init")
    result = run_cli("webhooks", *args, expect=1)
    assert said in result.stderr


def test_the_cli_lists_failed_deliveries_and_sends_them_again(
    run_cli: Cli, receiver: Receiver, tmp_path: object
) -> None:
    run_cli("init")
    run_cli("reps", "add", "rita@cadence.example", "--name", "Rita")
    run_cli("webhooks", "add", receiver.url, "--events", "lead.created")
    csv = "email,first_name,source\nada@acme.example,Ada,webinar\n"
    with open("leads.csv", "w") as handle:
        handle.write(csv)
    run_cli("leads", "import", "leads.csv")
    receiver.default = 500
    day = datetime.now(UTC)
    for hours in range(0, 49, 1):  # a simulated clock: an attempt each hour for two days
        run_cli("webhooks", "deliver", "--now", (day + timedelta(hours=hours)).isoformat())
    [failed] = run_cli("webhooks", "failures", "--json").json()
    assert failed["last_error"] == "answered HTTP 500"
    assert "answered HTTP 500" in run_cli("webhooks", "failures").stdout
    receiver.default = "ok"
    assert "1 deliveries will be sent again" in run_cli("webhooks", "redeliver", "--all").stdout
    assert "delivered 1" in run_cli("webhooks", "deliver").stdout
    assert [e["data"]["lead"]["email"] for e in receiver.events()] == ["ada@acme.example"]
