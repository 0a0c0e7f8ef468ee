"""The memory of ``cadence leads import`` against the size of the file: it must not grow with the file.

    python benchmarks/import_memory.py [--mb 200] [--small-mb 2] [--real | --read-only]

On a SQLite database of our own, with two reps:

1. a CSV file of about ``--small-mb`` MB and one of about ``--mb`` MB are written (rows of about
   250 bytes: a lead that fits the persona, with a custom ``notes`` column);
2. ``cadence leads import FILE --dry-run`` (``--real``: a real import) runs on each, in a process of
   its own; its peak resident set size is read from the kernel when it ends (``ru_maxrss`` of the
   waited-for child) and its time measured; ``--read-only`` runs only the streaming reader (the whole-file
   check, then every row read and validated, nothing written): the part whose memory grew with the
   file, at the speed of the reader, so that a 200 MB file is measured in minutes, not hours;
3. the floor is the same process importing the small file, measured in the same run: a bounded import
   is about as big on the large file. The last line on stdout is one JSON object with both peaks,
   the bound (300 MB, for a 200 MB file) and whether the large import stayed under it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MONDAY, TEMPLATES, isolate_environment, log

BOUND_MB = 300


def write_csv(path: Path, megabytes: float) -> int:
    """A leads CSV of about ``megabytes`` MB; how many data rows it has."""
    target = int(megabytes * 1_000_000)
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("Email,First Name,Last Name,Job Title,Company Name,Industry,Number of Employees,Phone Number,")
        out.write("Time Zone,Lead Source,Interactions,Notes\n")
        while out.tell() < target:
            out.write(
                f"lead{rows}@bench{rows % 50}.example,Ann{rows},Lee,VP Sales,Company {rows % 997},software,"
                f"{50 + rows % 400},+1 555 {rows % 10000:04d},Eastern Time,webinar,{rows % 4},"
                f"met at the spring fair; asked about pricing for {rows % 30} seats and a pilot in Q{rows % 4 + 1}; "
                f"follow up with the team lead after the quarterly review of the budget\n"
            )
            rows += 1
    return rows


def read_only(path: str) -> int:
    """Read and validate every row of ``path`` as an import does, writing nothing; print the counts as JSON."""
    from cadence.adapters.csv_leads import RowError, check_leads_csv, read_leads_csv

    layout = check_leads_csv(Path(path))
    counts = {"imported": 0, "rejected": 0, "warned": 0}
    for item in read_leads_csv(Path(path), layout):
        if isinstance(item, RowError):
            counts["rejected"] += 1
        else:
            counts["imported"] += 1
            counts["warned"] += 1 if item.lead.warnings else 0
    print(json.dumps(counts))
    return 0


def measure(env: dict[str, str], path: Path, mode: str) -> dict[str, Any]:
    """Run one import in a process of its own; its peak RSS (MiB), seconds and report."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    args = [sys.executable, "-m", "cadence.cli", "leads", "import", str(path), "--now", MONDAY.isoformat(), "--json"]
    if mode == "dry_run":
        args.append("--dry-run")
    elif mode == "read_only":
        args = [sys.executable, __file__, "--read-file", str(path)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode not in (0, 3):
        raise SystemExit(f"the import failed ({process.returncode}): {err}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:  # ru_maxrss of children is the largest so far: a smaller child does not show
        peak = before
    report = json.loads(out)
    return {"peak_rss_mb": round(peak / 1024, 1), "seconds": round(seconds, 1), "report": report}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="size of the large file (default 200 MB)")
    parser.add_argument("--small-mb", type=float, default=2.0, help="size of the floor's file (default 2 MB)")
    parser.add_argument("--real", action="store_true", help="a real import, not a dry run")
    parser.add_argument("--read-only", action="store_true", help="only the streaming reader: nothing written")
    parser.add_argument("--read-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_file:
        return read_only(args.read_file)
    mode = "real" if args.real else "read_only" if args.read_only else "dry_run"
    isolate_environment()
    folder = Path(tempfile.mkdtemp(prefix="cadence-import-memory-"))
    env = {
        **os.environ,
        "CADENCE_DATABASE_URL": f"sqlite:///{folder / 'cadence.db'}",
        "CADENCE_TEMPLATES_DIR": str(TEMPLATES),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src"),
    }
    for command in (
        ["init"],
        ["reps", "add", "rita@yourco.example", "--name", "Rita"],
        ["reps", "add", "sam@yourco.example", "--name", "Sam"],
    ):
        subprocess.run([sys.executable, "-m", "cadence.cli", *command], env=env, check=True, capture_output=True)
    small, large = folder / "small.csv", folder / "large.csv"
    small_rows = write_csv(small, args.small_mb)
    large_rows = write_csv(large, args.mb)
    log(f"floor: {small_rows:,} rows ({small.stat().st_size / 1e6:.1f} MB)")
    floor = measure(env, small, mode)  # first: ru_maxrss of children only grows
    log(f"large: {large_rows:,} rows ({large.stat().st_size / 1e6:.1f} MB)")
    big = measure(env, large, mode)
    result = {
        "benchmark": "import_memory",
        "mode": mode,
        "file_mb": round(large.stat().st_size / 1e6, 1),
        "rows": large_rows,
        "peak_rss_mb": big["peak_rss_mb"],
        "seconds": big["seconds"],
        "rows_per_s": round(large_rows / big["seconds"], 1),
        "floor_file_mb": round(small.stat().st_size / 1e6, 1),
        "floor_peak_rss_mb": floor["peak_rss_mb"],
        "growth_mb": round(big["peak_rss_mb"] - floor["peak_rss_mb"], 1),
        "bound_mb": BOUND_MB,
        "within_bound": big["peak_rss_mb"] < BOUND_MB,
        "imported": big["report"]["imported"],
        "rejected": big["report"]["rejected"],
        "warned": big["report"]["warned"],
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
