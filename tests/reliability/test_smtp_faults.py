"""SMTP faults: 421 and 451 at random, connections cut mid-DATA and after it, a server down for a while, 550s.

All deliverable mail is delivered exactly once in the end, or is ``uncertain`` where a connection
was cut after the whole message had been written; refused recipients are bounced and suppressed;
each run reports what it did, and one lead's trouble holds up no other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, Lead, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.services.suppression import is_suppressed
from cadence.settings import Settings
from tests.conftest import TEMPLATES
from tests.reliability.scenarios import MAIL_DOMAIN, SmtpTrouble, TouchLog
from tests.support.smtp_faults import FaultyProxy, ProxyFaults, ServerFaults


@pytest.fixture
def proxy(logging_sink: SmtpSink) -> Iterator[FaultyProxy]:
    faults = ProxyFaults(mid_data_rate=0.06, after_dot_rate=0.05, before_body_rate=0.05, seed=7)
    with FaultyProxy(logging_sink.port, faults) as running:
        yield running


def test_every_deliverable_email_goes_out_once_through_every_kind_of_smtp_fault(
    database_url: str,
    logging_sink: SmtpSink,
    touch_log: TouchLog,
    proxy: FaultyProxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(
        database_url=database_url, templates_dir=TEMPLATES, smtp_host="127.0.0.1", smtp_port=proxy.port,
        smtp_connections=4, smtp_timeout=5, mail_domain=MAIL_DOMAIN, batch_size=30, lease_seconds=2,
        retry_base_seconds=1, retry_max_seconds=2,
        # The refused recipients are about a tenth of the sends: the bounce guard would pause the cadence
        # and leave the deliverable emails waiting. This scenario is about exactly-once delivery through
        # faults; the guard has its own tests (tests/flows/test_mailboxes.py).
        bounce_guard_rate=1,
    )  # fmt: skip
    scenario = SmtpTrouble(settings, proxy, touch_log)
    rejected = {email for email in scenario.emails() if email.startswith("x")}
    logging_sink.faults = ServerFaults(rejected=rejected, rcpt_451_rate=0.05, data_451_rate=0.08,
                                       data_421_rate=0.04, seed=11)  # fmt: skip
    result, reports = scenario.play()
    with capsys.disabled():
        cuts = (f"{len(proxy.cut_recipients('before_body'))} before the body, {len(proxy.cut_touches('mid_data'))} "
                f"mid-DATA, {len(proxy.cut_touches('after_dot'))} after the dot")  # fmt: skip
        print(f"\nSMTP faults on {database_url.split(':')[0]}: {result.json()} cuts: {cuts}")

    assert result.duplicates == 0
    assert result.lost == 0
    assert result.sent + result.uncertain == scenario.leads - len(rejected)
    # The down run: everything it claimed came back to be retried, nothing was lost or sent.
    down = reports[1]
    assert down.claimed > 0
    assert (down.emails_sent, down.retried) == (0, down.claimed)
    # Each run reports what it did, and no lead held up another: every step a run claimed got its outcome in that run.
    for report in reports:
        assert (
            report.emails_sent + report.retried + report.bounced + report.uncertain + report.skipped == report.claimed
        )
    assert sum(r.emails_sent for r in reports) == result.sent
    assert sum(r.bounced for r in reports) == len(rejected)
    assert sum(r.uncertain for r in reports) == result.uncertain
    assert sum(r.retried for r in reports) > down.claimed  # the random 4xx and the mid-DATA cuts were retried

    from tests.reliability.scenarios import Context

    ctx = Context(settings)
    try:
        with ctx.sessions() as s:
            states = {
                email: (str(touch_id), state)
                for email, touch_id, state in s.execute(
                    select(Lead.email, Touch.id, Touch.state).join(Touch, Touch.lead_id == Lead.id)
                ).tuples()
            }
            decided = {email for (email,) in s.execute(select(Lead.email).join(Decision, Decision.lead_id == Lead.id))}
            for email in rejected:
                assert states[email][1] == "bounced"
                assert is_suppressed(s, email)
            assert decided == rejected
    finally:
        ctx.close()
    uncertain = {touch for touch, state in states.values() if state == "uncertain"}
    after_dot = proxy.cut_touches("after_dot")
    # Uncertain only where a connection was cut during DATA; a cut after the dot is never taken for sent or re-sent.
    assert uncertain <= after_dot | proxy.cut_touches("mid_data")
    assert after_dot
    assert all(touch in uncertain and touch_log.counts[touch] <= 1 for touch in after_dot)
    assert any(touch_log.counts[touch] == 1 for touch in after_dot)  # some did arrive: a re-send would duplicate
    # A cut before the body delivered nothing and cadence knew it: such steps were retried and went out
    # (unless a later try met a cut during or after DATA). A cut in the middle of the body delivered nothing
    # either, but the client may have written its final dot by then: it cannot tell that from a cut after it.
    before_body = proxy.cut_recipients("before_body")
    assert before_body
    assert all(states[email][1] == "sent" or states[email][0] in uncertain for email in before_body)
    assert any(states[email][1] == "sent" for email in before_body)
