"""Command start-up: the read commands' wall and CPU times against two floors; ``cadence run`` with a Prefect server.

    python benchmarks/cli_latency.py [--runs 7] [--backend sqlite|postgresql] [--leads 14]
                                     [--with-run] [--database-url URL] [--baseline-src DIR]

On a small database of its own (``--leads`` leads of one rep, imported and enrolled as a user's
import does), it runs each read command, ``leads list``, ``due``, ``tasks list``
and ``leads show EMAIL``, as a user does (the ``cadence`` console script, a fresh process each
time), ``--runs`` times in turn with the floors: ``python -c pass`` (the interpreter) and
``python -c "import cadence"`` (the interpreter and the package's own start), and beside them
the libraries every read command needs (SQLAlchemy's ORM, pydantic-settings, Typer). Each command's
figures are the medians of its wall time and of its CPU time (user + system of the child).

The commands run as an installed cadence does, from bytecode: ``PYTHONDONTWRITEBYTECODE`` is not
passed on, so the first (uncounted) run of each writes the ``.pyc`` files that ``pip install``
writes; with it set and no bytecode, every run compiles cadence's own modules again.

``--baseline-src DIR`` (e.g. ``git archive main src | tar -x -C /tmp/base`` gives ``/tmp/base/src``)
also runs each read command from that copy of ``src`` (``PYTHONPATH``, same libraries, same
database) in the same rounds, so that a change is measured against its base under the same load.

With ``--with-run`` it also starts ``prefect server start`` itself (and the SMTP sink of
``sink.py``), waits until the server answers, and times ``cadence run`` with ``PREFECT_API_URL``
set, on a small queue (``--queue`` due day-1 emails; a fresh copy of the SQLite database for each
run). The first run warms the server up and is not counted.

The bars (docs/performance.md): a read command at most 0.5 s, ``cadence run`` at most 3 s. The last
line on stdout is one JSON object; ``load_avg_1m`` says how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MONDAY, SEND, TEMPLATES, SinkProcess, database, isolate_environment, log, seed_due_leads
from speed_to_lead import free_port

LIBRARIES = "the libraries (import sqlalchemy.orm, pydantic_settings, typer)"
"""What every read command imports before any of cadence's own work: its share of their time."""

READ_COMMANDS = {
    "leads list": ["leads", "list"],
    "due": ["due"],
    "tasks list": ["tasks", "list"],
    "leads show": ["leads", "show", "lead0@acme.example"],
}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``command`` to its end; its wall and CPU (user + system) seconds. A failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command} failed ({done.returncode}): {done.stderr[-600:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def medians(samples: list[tuple[float, float]]) -> dict[str, float]:
    """Median wall and CPU seconds of ``samples``, and the slowest wall time."""
    return {
        "wall_s": round(statistics.median(s[0] for s in samples), 3),
        "cpu_s": round(statistics.median(s[1] for s in samples), 3),
        "max_wall_s": round(max(s[0] for s in samples), 3),
    }


def cadence_command() -> list[str]:
    """The ``cadence`` console script next to this interpreter (as a user runs it), else ``python -m cadence.cli``."""
    script = Path(sys.executable).with_name("cadence")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cadence.cli"]


def seed(ctx: object, leads: int) -> None:
    """``leads`` enrolled leads of rep Rita (their day-1 email due at ``SEND``)."""
    seed_due_leads(ctx, leads, prefix="lead", now=MONDAY)


BASELINE = "baseline "
"""The prefix of the names of the read commands run from ``--baseline-src``."""


def read_commands(
    env: dict[str, str], runs: int, baseline: Path | None = None
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """The read commands and the two floors, ``runs`` rounds, each round every command once; their medians.

    With ``baseline`` (a copy of another version's ``src``), each read command also runs from it, and
    the second dict holds, per read command, the median over the rounds of its CPU time over the
    baseline's in the same round (empty without ``baseline``).
    """
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import cadence'": [sys.executable, "-c", "import cadence"],
        LIBRARIES: [sys.executable, "-c", "import sqlalchemy.orm, pydantic_settings, typer"],
        **{name: [*cadence_command(), *args] for name, args in READ_COMMANDS.items()},
    }
    commands["due"] += ["--now", SEND.isoformat()]  # the day-1 emails are due then
    envs = dict.fromkeys(commands, env)
    if baseline is not None:  # each right after its counterpart: python -m cadence.cli from the baseline's src
        for name in READ_COMMANDS:
            args = commands.pop(name)[len(cadence_command()) :]
            commands[name] = [*cadence_command(), *args]
            commands[BASELINE + name] = [sys.executable, "-m", "cadence.cli", *args]
            envs[BASELINE + name] = {**env, "PYTHONPATH": str(baseline)}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for name, command in commands.items():  # one run each first: the page cache, .pyc files
        timed(command, envs[name])
    for round_ in range(runs):
        for name, command in commands.items():
            samples[name].append(timed(command, envs[name]))
        log(f"round {round_ + 1}/{runs}: " + ", ".join(f"{n} {s[-1][0]:.2f}s" for n, s in samples.items()))
    ratios = {
        name: round(statistics.median(a[1] / b[1] for a, b in zip(samples[name], samples[base], strict=True)), 3)
        for name in READ_COMMANDS
        if (base := BASELINE + name) in samples
    }
    return {name: medians(s) for name, s in samples.items()}, ratios


def wait_for_prefect(url: str, server: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Until ``url``/health answers 200 (or the server exits, or ``timeout`` passes)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("prefect server start did not answer")
        time.sleep(0.5)


def cadence_runs(env: dict[str, str], database_file: Path, runs: int, queue: int) -> dict[str, object]:
    """``cadence run`` with a Prefect server of our own, ``runs`` times (+1 warm-up) on a fresh copy of the queue."""
    port = free_port()
    prefect_home = tempfile.mkdtemp(prefix="cadence-bench-prefect-server-")
    server_env = {**env, "PREFECT_HOME": prefect_home, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server_env.pop("PREFECT_API_URL", None)
    prefect = str(Path(sys.executable).with_name("prefect"))
    started = time.perf_counter()
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_for_prefect(api, server)
        log(f"prefect server start answered after {time.perf_counter() - started:.1f}s")
        run_env = {**env, "PREFECT_API_URL": api}
        working = database_file.with_name("run.db")
        run_env["CADENCE_DATABASE_URL"] = f"sqlite:///{working}"
        samples: list[tuple[float, float]] = []
        for index in range(runs + 1):
            shutil.copyfile(database_file, working)
            sample = timed([*cadence_command(), "run", "--now", SEND.isoformat()], run_env)
            log(
                f"cadence run {index}: {sample[0]:.2f}s wall, {sample[1]:.2f}s CPU"
                + (" (warm-up)" if not index else "")
            )
            if index:
                samples.append(sample)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(prefect_home, ignore_errors=True)
    return {**medians(samples), "queue": queue, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds of each command (medians are reported)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--leads", type=int, default=14, help="leads in the small database")
    parser.add_argument("--with-run", action="store_true", help="also time `cadence run` with a Prefect server")
    parser.add_argument("--queue", type=int, default=12, help="due emails in the queue `cadence run` works off")
    parser.add_argument("--database-url", help="PostgreSQL server to create the benchmark database on")
    parser.add_argument("--baseline-src", type=Path, help="also run the read commands from this copy of src/")
    args = parser.parse_args(argv)
    if args.baseline_src is not None and not (args.baseline_src / "cadence" / "cli" / "__init__.py").is_file():
        raise SystemExit(f"--baseline-src {args.baseline_src}: no cadence/cli/__init__.py there")
    isolate_environment()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the commands run from bytecode, as an installed cadence does

    from cadence.services.context import Context
    from cadence.settings import Settings

    result: dict[str, object] = {"backend": args.backend, "leads": args.leads, "runs": args.runs}
    load = [os.getloadavg()[0]]
    with SinkProcess() as sink, database(args.backend, args.database_url) as url:
        env = {**os.environ, "CADENCE_DATABASE_URL": url, "CADENCE_TEMPLATES_DIR": str(TEMPLATES),
               "CADENCE_SMTP_HOST": "127.0.0.1", "CADENCE_SMTP_PORT": str(sink.port),
               "CADENCE_MAIL_DOMAIN": "mail.bench.example"}  # fmt: skip
        os.environ.update(env)
        ctx = Context(Settings())
        seed(ctx, args.leads)
        ctx.close()
        commands, ratios = read_commands(env, args.runs, args.baseline_src)
        load.append(os.getloadavg()[0])
        floor = commands["python -c 'import cadence'"]
        result["commands"] = commands
        if args.baseline_src is not None:
            result["baseline_src"] = str(args.baseline_src)
            result["cpu_ratio_to_baseline"] = ratios  # round by round: the load changes from one minute to the next
        result["worst_read_wall_s"] = max(commands[name]["wall_s"] for name in READ_COMMANDS)
        result["worst_read_cpu_s"] = max(commands[name]["cpu_s"] for name in READ_COMMANDS)
        result["worst_read_over_floor_s"] = round(result["worst_read_wall_s"] - floor["wall_s"], 3)  # type: ignore[operator]
        result["libraries_cpu_s"] = commands[LIBRARIES]["cpu_s"]
        if args.with_run:
            if args.backend != "sqlite":
                raise SystemExit("--with-run copies the queue's SQLite file for each run: use --backend sqlite")
            with database("sqlite") as queue_url:
                queue_env = {**env, "CADENCE_DATABASE_URL": queue_url}
                os.environ.update(queue_env)
                ctx = Context(Settings())
                seed(ctx, args.queue)
                ctx.close()
                result["cadence_run"] = cadence_runs(queue_env, Path(queue_url.removeprefix("sqlite:///")), args.runs,
                                                     args.queue)  # fmt: skip
            load.append(os.getloadavg()[0])
    result["cpus"] = os.cpu_count()
    result["load_avg_1m"] = [round(x, 2) for x in load]
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
