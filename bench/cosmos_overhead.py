"""What rendering dbt as Airflow tasks costs: Cosmos (watcher mode) against one `dbt build`.

Sets up a scratch OBSERVATORIO_HOME with a small simulated month, ingests it through the
project's own ingest DAG(s) (`--ingest`), then times, alternately and after a warm-up:

- `dbt build`: `observatorio.transform.build()`, the plain, single invocation;
- Cosmos: `dag.test()` of `build_warehouse`; the wall time of its `dbt` task group (first
  start to last end of the producer and its watchers) is the Cosmos figure;
- the whole `build_warehouse` run against `dbt build` + `dbt docs generate`, for reference.

The ratio Cosmos group / dbt build is the overhead; the issue asks for 1.5 or less. Airflow
and dbt log to a file under the home (`bench.log`); the figures go to stdout as JSON.

    .venv/bin/python bench/cosmos_overhead.py [--repeats 3] [--home DIR] [--keep]

With no --home it works in a fresh temporary folder (own embedded PostgreSQL on a free
port) and stops and deletes it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _configure(home: Path) -> None:
    os.environ["OBSERVATORIO_HOME"] = str(home)
    os.environ.setdefault("OBSERVATORIO_DEMO", "1")
    os.environ.setdefault("OBSERVATORIO_WAREHOUSE_PORT", str(_free_port()))
    os.environ.setdefault("OBSERVATORIO_AIRFLOW_PORT", str(_free_port()))
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    sys.path.insert(0, str(ROOT))


def _prepare(scale: str, days: int, ingest: list[str]) -> dict[str, str]:
    from observatorio import airflow_env
    from observatorio.run import Demo, land_exports, migrate_airflow, run_dag, simulate
    from observatorio.settings import get_settings
    from observatorio.warehouse import ensure_warehouse

    settings = get_settings()
    ensure_warehouse(settings)
    land_exports(settings, simulate(settings, Demo(seed=11, scale=scale, days=days)))
    migrate_airflow(settings)
    airflow_env.apply(settings)
    states = {}
    for dag_id in ingest:
        states[dag_id] = run_dag(dag_id, settings)
    return states


def _build_warehouse_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from observatorio.settings import get_settings

    bag = DagBag(dag_folder=str(get_settings().dags_dir / "build_warehouse.py"))
    return bag.dags["build_warehouse"]


def _plain_build() -> float:
    from observatorio.transform import build, run_dbt

    started = time.perf_counter()
    build()
    built = time.perf_counter() - started
    run_dbt(["docs", "generate"])
    return built


def _dag_run(dag: Any) -> tuple[float, float]:
    """(seconds of the `dbt` task group inside the run, seconds of the whole run)."""
    started = time.perf_counter()
    run = dag.test()
    whole = time.perf_counter() - started
    if str(run.state) != "success":
        raise SystemExit(f"build_warehouse ended {run.state}")
    group = [ti for ti in run.get_task_instances() if ti.task_id.startswith("dbt.")]
    first = min(ti.start_date for ti in group if ti.start_date)
    last = max(ti.end_date for ti in group if ti.end_date)
    return (last - first).total_seconds(), whole


def measure(repeats: int) -> dict[str, Any]:
    dag = _build_warehouse_dag()
    tasks = sum(1 for t in dag.tasks if t.task_id.startswith("dbt."))
    # Warm-up: dbt's imports, partial parse, the tables' first creation, Airflow's DB pool.
    _plain_build()
    _dag_run(dag)
    timings: dict[str, list[float]] = {
        "dbt_build": [],
        "dbt_build_and_docs": [],
        "cosmos_group": [],
        "build_warehouse": [],
    }
    for _ in range(repeats):
        started = time.perf_counter()
        timings["dbt_build"].append(_plain_build())
        timings["dbt_build_and_docs"].append(time.perf_counter() - started)
        group, whole = _dag_run(dag)
        timings["cosmos_group"].append(group)
        timings["build_warehouse"].append(whole)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    return {
        "cosmos_tasks": tasks,
        "repeats": repeats,
        "seconds": timings,
        "median_seconds": medians,
        "ratio_cosmos_to_dbt_build": medians["cosmos_group"] / medians["dbt_build"],
        "ratio_dag_to_build_and_docs": medians["build_warehouse"] / medians["dbt_build_and_docs"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument(
        "--ingest",
        nargs="+",
        default=["ingest_police_reports"],
        help="ingest DAGs to run first (those feeding the dbt sources)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="observatorio-bench-"))
    _configure(home.resolve())
    from observatorio.run import output_to
    from observatorio.settings import get_settings
    from observatorio.warehouse import stop_embedded

    try:
        with output_to(home / "bench.log"):
            ingested = _prepare(args.scale, args.days, args.ingest)
            result = {"ingest": ingested, **measure(args.repeats)}
    finally:
        if "airflow.settings" in sys.modules:
            sys.modules["airflow.settings"].dispose_orm()
        if get_settings().is_embedded:
            stop_embedded(get_settings())
        if args.home is None and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result, indent=2))
    ratio = result["ratio_cosmos_to_dbt_build"]
    print(f"Cosmos / dbt build = {ratio:.2f} (limit 1.5)", file=sys.stderr)
    raise SystemExit(0 if ratio <= 1.5 else 1)


if __name__ == "__main__":
    main()
