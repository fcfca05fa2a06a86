"""What rendering dbt as Airflow tasks costs: Cosmos (watcher mode) against one `dbt build`.

Sets up a scratch OBSERVATORIO_HOME with a small simulated month, ingests it through the
project's own ingest DAG(s) (`--ingest`), then times, alternately and after a warm-up:

- `dbt build`: `observatorio.transform.dbt.build()`, the plain, single invocation;
- Cosmos: `dag.test()` of `build_warehouse`; the wall time of its `dbt` task group (first
  start to last end of the producer and its watchers) is the Cosmos figure;
- the whole `build_warehouse` run against `dbt build` + `dbt docs generate`, for reference.

The ratio Cosmos group / dbt build is the overhead of `dag.test()` runs (`make run`): there the
node tasks run in process, one after another, after the build, about 0.2 s each. Under a
scheduler they end in the triggerer instead; `bench/scheduled_run.py` measures that ratio, the
deployment's, on the same kind of data. The issue asks for 1.5 or less. Airflow
and dbt log to a file under the home (`bench.log`); the figures go to stdout as JSON and to
`bench/results/cosmos_overhead.json` (`--out`).

`build_warehouse` builds the project in two Cosmos groups (`dbt`, then `reconciliation`,
the models that read the victim register): the Cosmos figure adds up the two groups' spans
and producers. `link_homicide_victims` and `check_marts` are marked successful instead of
run: they are not dbt, and linkage needs records from two source systems while the bench
ingests only police reports. `dbt_docs` still runs.

    .venv/bin/python bench/cosmos_overhead.py [--repeats 3] [--home DIR] [--keep] [--out FILE]

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
RESULT = ROOT / "bench" / "results" / "cosmos_overhead.json"
# Not dbt: see the module docstring.
NOT_MEASURED = r"link_homicide_victims|check_marts"
# The Cosmos task groups of build_warehouse.
GROUPS = ("dbt", "reconciliation")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _configure(home: Path) -> None:
    os.environ["OBSERVATORIO_HOME"] = str(home)
    os.environ.setdefault("OBSERVATORIO_DEMO", "1")
    # A reused --home keeps its warehouse port: dbt's partial parse (plain and Cosmos's cached
    # copy) is only valid for the profile it was made with, and the port is part of it.
    ports_file = home / "bench-ports.json"
    ports = json.loads(ports_file.read_text()) if ports_file.is_file() else {}
    for name in ("OBSERVATORIO_WAREHOUSE_PORT", "OBSERVATORIO_AIRFLOW_PORT"):
        ports.setdefault(name, os.environ.get(name) or str(_free_port()))
        os.environ.setdefault(name, ports[name])
    home.mkdir(parents=True, exist_ok=True)
    ports_file.write_text(json.dumps(ports))
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    sys.path.insert(0, str(ROOT))


def _prepare(scale: str, days: int, ingest: list[str]) -> dict[str, str]:
    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import ensure_warehouse
    from observatorio.orchestration import airflow_env, compat
    from observatorio.orchestration.runner import migrate_airflow, run_dag
    from observatorio.transform import manifest
    from simulator.demo import Demo, land_exports, simulate

    settings = get_settings()
    ensure_warehouse(settings)
    land_exports(settings, simulate(settings, Demo(seed=11, scale=scale, days=days)))
    migrate_airflow(settings)
    airflow_env.apply(settings)
    # What `make manifest` does once per dbt project change (DAG files only read it), and
    # what the runner does before each `dag.test()`.
    manifest.refresh(settings)
    compat.let_dag_test_finish_runs_with_deadlines()
    states = {}
    for dag_id in ingest:
        states[dag_id] = run_dag(dag_id, settings)
    return states


def _build_warehouse_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from observatorio.core.settings import get_settings

    bag = DagBag(dag_folder=str(get_settings().dags_dir / "build_warehouse.py"))
    return bag.dags["build_warehouse"]


def _plain_build() -> float:
    from observatorio.transform.dbt import build, run_dbt

    started = time.perf_counter()
    build()
    built = time.perf_counter() - started
    run_dbt(["docs", "generate"])
    return built


def _dag_run(dag: Any) -> tuple[float, float, float]:
    """Seconds of the Cosmos groups inside the run, of their producers, and of the whole run."""
    started = time.perf_counter()
    run = dag.test(mark_success_pattern=NOT_MEASURED)
    whole = time.perf_counter() - started
    if str(run.state) != "success":
        raise SystemExit(f"build_warehouse ended {run.state}")
    spans = producers = 0.0
    for group_id in GROUPS:
        group = [ti for ti in run.get_task_instances() if ti.task_id.startswith(f"{group_id}.")]
        first = min(ti.start_date for ti in group if ti.start_date)
        last = max(ti.end_date for ti in group if ti.end_date)
        spans += (last - first).total_seconds()
        producer = next(ti for ti in group if ti.task_id == f"{group_id}.dbt_producer_watcher")
        producers += float(producer.duration or 0.0)
    return spans, producers, whole


def measure(repeats: int, warmups: int = 1) -> dict[str, Any]:
    dag = _build_warehouse_dag()
    tasks = sum(1 for t in dag.tasks if t.task_id.startswith(tuple(f"{g}." for g in GROUPS)))
    # Warm-up: dbt's imports, partial parse, the tables' first creation, Airflow's DB pool.
    _plain_build()
    for _ in range(warmups):  # 0 on a home a previous run left warm (`--home`)
        _dag_run(dag)
    timings: dict[str, list[float]] = {
        "dbt_build": [],
        "dbt_build_and_docs": [],
        "cosmos_group": [],
        "cosmos_producer": [],
        "build_warehouse": [],
    }
    for _ in range(repeats):
        started = time.perf_counter()
        timings["dbt_build"].append(_plain_build())
        timings["dbt_build_and_docs"].append(time.perf_counter() - started)
        group, producer, whole = _dag_run(dag)
        timings["cosmos_group"].append(group)
        timings["cosmos_producer"].append(producer)
        timings["build_warehouse"].append(whole)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    return {
        "cosmos_tasks": tasks,
        "repeats": repeats,
        "warmups": warmups,
        "seconds": timings,
        "median_seconds": medians,
        "ratio_cosmos_to_dbt_build": medians["cosmos_group"] / medians["dbt_build"],
        "ratio_dag_to_build_and_docs": medians["build_warehouse"] / medians["dbt_build_and_docs"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmups", type=int, default=1, help="build_warehouse runs first")
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
    parser.add_argument("--out", type=Path, default=RESULT, help="where to write the JSON")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="observatorio-bench-"))
    _configure(home.resolve())
    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import stop_embedded
    from observatorio.orchestration.runner import output_to

    try:
        with output_to(home / "bench.log"):
            ingested = _prepare(args.scale, args.days, args.ingest)
            result = {"ingest": ingested, **measure(args.repeats, args.warmups)}
            # Two cores shared with other work: the ratio is what compares, not the seconds.
            result["load_average_1m_at_end"] = os.getloadavg()[0]
    finally:
        if "airflow.settings" in sys.modules:
            sys.modules["airflow.settings"].dispose_orm()
        if get_settings().is_embedded:
            stop_embedded(get_settings())
        if args.home is None and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    text = json.dumps(result, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)
    ratio = result["ratio_cosmos_to_dbt_build"]
    print(f"Cosmos / dbt build = {ratio:.2f} (limit 1.5)", file=sys.stderr)
    raise SystemExit(0 if ratio <= 1.5 else 1)


if __name__ == "__main__":
    main()
