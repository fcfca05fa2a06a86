"""The main job with nothing new: `make run` again on an unchanged landing folder.

    python -m bench.noop_run [--runs 2] [--label after] [--results FILE]

Runs `make run` (`make manifest`, then `observatorio run`) `--runs` times, one after the
other, in the current OBSERVATORIO_HOME (set OBSERVATORIO_WAREHOUSE_PORT and
OBSERVATORIO_AIRFLOW_PORT for a home of your own). On a fresh home the first run is the full
one (simulate, ingest, build, deliver: half an hour on a loaded 2-core machine) and the
following runs are no-ops; on a home `make run` already filled, every run is a no-op. For
each run: the wall time, the CPU time of the process and its children (user, system), the
load average before it, each DAG's line of the run's output (its outcome, or why it was not
started, and its seconds) and the seconds of every step from the run's log. Results go to
`bench/results/noop_run.json` under `--label`, merged with the labels already there (the
before/after of issue 19, item 2).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "noop_run.json"
COMMAND = ["make", "--no-print-directory", "-C", str(ROOT), "run"]
STEP = re.compile(r"^observatorio run: (?P<step>.+) took (?P<seconds>[0-9.]+) s$")
DAG = re.compile(r"^DAG (?P<dag>\S+): (?P<state>.*)$")
LOG = re.compile(r"full log: (?P<path>\S+?\.log)")


def one_run() -> dict[str, Any]:
    """Run the main job once; what it took and what it said."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    # Wide enough that rich wraps no line of the summary.
    env = {**os.environ, "COLUMNS": "1000"}
    done = subprocess.run(COMMAND, capture_output=True, text=True, check=False, env=env)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line.strip() for line in done.stdout.splitlines()]
    if done.returncode != 0:
        raise SystemExit(f"make run failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    steps: dict[str, float] = {}
    if found := LOG.search(done.stdout):
        for line in Path(found["path"]).read_text(encoding="utf-8").splitlines():
            if match := STEP.match(line.strip()):
                steps[match["step"]] = float(match["seconds"])
    return {
        "wall_seconds": round(wall, 1),
        "cpu_user_seconds": round(after.ru_utime - before.ru_utime, 1),
        "cpu_system_seconds": round(after.ru_stime - before.ru_stime, 1),
        "load_average_1min_before": round(load, 1),
        "dags": {m["dag"]: m["state"] for line in lines if (m := DAG.match(line))},
        "steps_seconds": steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--label", default="after")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = []
    for number in range(1, args.runs + 1):
        result = one_run()
        print(f"run {number}: {json.dumps(result, indent=2)}", flush=True)
        runs.append(result)
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    results[args.label] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "runs": runs,
    }
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results: {args.results}")


if __name__ == "__main__":
    main()
