"""The reliability scenarios of ``tests/reliability``, played longer: kill -9, SMTP faults, database faults, races.

    python benchmarks/chaos.py [--kills 200] [--smtp-leads 2000] [--restarts 20] [--races 5000]
                               [--only kill|smtp|database|races] [--database-url URL]

(The database scenario starts a private PostgreSQL server of its own, with Debian's binaries.)

Each scenario runs on a PostgreSQL database of its own (created on the local server, or the one of
``--database-url``, and dropped at the end) against the SMTP sink, which logs every message by its
``X-Cadence-Touch`` header. Each prints one JSON line when it is done:
``{"scenario", "kills", "steps", "sent", "duplicates", "lost", "uncertain", "sent_after_decision", ...}``;
the last line on stdout is the JSON of all of them, with ``"ok"``: every scenario had no duplicate,
nothing lost, no send after a decision, and (kill -9) at most one uncertain email per kill and SMTP
connection (``connections`` in each line: hand-offs run in parallel across a runner's connections,
one at a time on each).
Progress goes to stderr. The exit code is 0 when ``ok``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, database, isolate_environment, log

sys.path.insert(0, str(ROOT))


def kill_scenario(url: str, args: argparse.Namespace, work: Path) -> Any:
    """kill -9 of ``cadence run`` processes, ``--kills`` times."""
    from cadence.adapters.smtp_sink import SmtpSink
    from tests.reliability.scenarios import KillNine, TouchLog
    from tests.support.prefect_server import PrefectStack

    touch_log = TouchLog()
    with ExitStack() as stack, SmtpSink(on_message=touch_log) as sink:
        prefect = PrefectStack(work / "prefect", stack)
        prefect.start_server()
        prefect.wait_for_server()
        scenario = KillNine(database_url=url, sink_port=sink.port, log=touch_log, environment=prefect.environment(),
                            work_dir=work, kills=args.kills, seed=args.seed, progress=log)  # fmt: skip
        return scenario.play()


def smtp_scenario(url: str, args: argparse.Namespace, work: Path) -> Any:
    """SMTP faults over ``--smtp-leads`` leads."""
    from cadence.adapters.smtp_sink import SmtpSink
    from cadence.settings import Settings
    from tests.reliability.scenarios import MAIL_DOMAIN, TEMPLATES, SmtpTrouble, TouchLog
    from tests.support.smtp_faults import FaultyProxy, ProxyFaults, ServerFaults

    touch_log = TouchLog()
    with (
        SmtpSink(on_message=touch_log) as sink,
        FaultyProxy(sink.port, ProxyFaults(mid_data_rate=0.06, after_dot_rate=0.05, seed=args.seed)) as proxy,
    ):
        settings = Settings(
            database_url=url, templates_dir=TEMPLATES, smtp_host="127.0.0.1", smtp_port=proxy.port,
            smtp_connections=4, smtp_timeout=5, mail_domain=MAIL_DOMAIN, batch_size=200, lease_seconds=2,
            retry_base_seconds=1, retry_max_seconds=2,
            bounce_guard_rate=1,  # one in twelve refused: the guard would pause the cadence (not measured here)
        )  # fmt: skip
        scenario = SmtpTrouble(settings, proxy, touch_log, leads=args.smtp_leads, rejected=args.smtp_leads // 12,
                               max_runs=200)  # fmt: skip
        rejected = {email for email in scenario.emails() if email.startswith("x")}
        sink.faults = ServerFaults(rejected=rejected, rcpt_451_rate=0.05, data_451_rate=0.08, data_421_rate=0.04,
                                   seed=args.seed)  # fmt: skip
        result, _reports = scenario.play()
        result.extra.update(cuts_mid_data=len(proxy.cut_touches("mid_data")),
                            cuts_after_dot=len(proxy.cut_touches("after_dot")))  # fmt: skip
        return result


def database_scenario(url: str, args: argparse.Namespace, work: Path) -> Any:
    """A private PostgreSQL server restarted (fast, immediate, and outages) ``--restarts`` times mid-run."""
    from tests.reliability.db_faults import play_postgres_restarts

    return play_postgres_restarts(args.restarts, work, seed=args.seed, progress=log)


def races_scenario(url: str, args: argparse.Namespace, work: Path) -> Any:
    """Stops (decisions, replies, unsubscribes, suppressions) racing runs, until ``--races`` landed mid-run."""
    from cadence.adapters.smtp_sink import SmtpSink
    from tests.reliability.races import play
    from tests.reliability.scenarios import TouchLog

    touch_log = TouchLog()
    with SmtpSink(on_message=touch_log) as sink:
        return play(url, sink.port, touch_log, races=args.races, seed=args.seed)


SCENARIOS: dict[str, Callable[[str, argparse.Namespace, Path], Any]] = {
    "kill": kill_scenario,
    "smtp": smtp_scenario,
    "database": database_scenario,
    "races": races_scenario,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="advance runs killed with SIGKILL mid-work")
    parser.add_argument("--smtp-leads", type=int, default=2000, help="leads of the SMTP-faults scenario")
    parser.add_argument("--restarts", type=int, default=20, help="PostgreSQL restarts in the database scenario")
    parser.add_argument("--races", type=int, default=5000, help="stops that land mid-run in the races scenario")
    parser.add_argument("--only", choices=sorted(SCENARIOS), action="append", help="run only these scenarios")
    parser.add_argument("--database-url", help="PostgreSQL server to create the databases on")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random draws")
    args = parser.parse_args(argv)
    isolate_environment()
    results: dict[str, Any] = {}
    ok = True
    for name in args.only or list(SCENARIOS):
        log(f"scenario {name}")
        with database("postgresql", args.database_url) as url:
            work = Path(tempfile.mkdtemp(prefix=f"cadence-chaos-{name}-"))
            figures = SCENARIOS[name](url, args, work)
        line = {"scenario": name, **json.loads(figures.json())}
        print(json.dumps(line), flush=True)
        results[name] = line
        good = line["duplicates"] == 0 and line["lost"] == 0 and line["sent_after_decision"] == 0
        if name == "kill":
            good = good and line["uncertain"] <= line["kills"] * line["connections"]
        if name == "database":  # every run carried on or stopped cleanly; one email in flight per stop at most
            good = good and line["problems"] == 0 and line["uncertain"] <= line["stopped_cleanly"] * line["connections"]
        ok = ok and good
    print(json.dumps({"ok": ok, **results}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
