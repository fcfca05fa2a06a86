"""The time for a full scheduled run at the small scale, through a real Airflow deployment.

In a scratch OBSERVATORIO_HOME (own embedded PostgreSQL and ports), it simulates the small
demo country, lands its file exports and stands up the simulated justice database and health
API (as `make run` does), migrates Airflow, and starts the DAG processor, scheduler,
triggerer and API server as separate processes (LocalExecutor, the project's Airflow
environment). Then it unpauses every DAG and measures, from that moment:

- each ingest DAG's first successful run (the scheduler starts one per DAG at unpause: the
  latest interval of its schedule, `catchup=False`);
- once every ingest DAG has succeeded, the first `build_warehouse` run started after the last
  `raw.*` Asset event (Asset-triggered, so it covers every source) and its end;
- the first `deliver_extracts` run (triggered by the `marts` Asset) started after that build.

The total is unpause → that `deliver_extracts` run succeeded. Any failed run stops the bench
with its failed tasks named.

Then the Cosmos overhead as deployed: one more `build_warehouse` run, triggered by hand once
the scheduled run is over, gives the span of its `dbt` task group (producer and every node
task, which end in the triggerer); with Airflow stopped, one plain `dbt build` of the same
warehouse is the baseline. The ratio of the two is `cosmos_overhead.ratio_cosmos_to_dbt_build`.

Airflow's logs stay under the home (`--keep`); the figures go to stdout and to
`bench/results/scheduled_run.json`.

    .venv/bin/python bench/scheduled_run.py [--days 365] [--seed 2024] [--keep] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from observatorio.orchestration.components import Stack

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "scheduled_run.json"
INGEST = (
    "ingest_police_reports",
    "ingest_police_detentions",
    "ingest_justice",
    "ingest_health",
    "ingest_survey",
    "ingest_consultations",
)
DAGS = (*INGEST, "build_warehouse", "deliver_extracts", "monitor_sources")
COMPONENTS = ("dag-processor", "scheduler", "triggerer", "api-server")


def _configure(home: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from observatorio.orchestration.components import free_port

    os.environ["OBSERVATORIO_HOME"] = str(home)
    os.environ.setdefault("OBSERVATORIO_DEMO", "1")
    os.environ["OBSERVATORIO_WAREHOUSE_PORT"] = str(free_port())
    os.environ["OBSERVATORIO_AIRFLOW_PORT"] = str(free_port())
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["GX_ANALYTICS_ENABLED"] = "false"


def _wait(what: str, check: Callable[[], Any], airflow: Stack, timeout: float) -> Any:
    from observatorio.orchestration.components import wait_until

    return wait_until(what, check, airflow, timeout, every=2)


def _start(env: dict[str, str], logs: Path) -> Stack:
    """The components, each its own process group (`observatorio.orchestration.components`)."""
    from observatorio.orchestration.components import Stack

    airflow = Stack(env, logs)
    for name in COMPONENTS:
        port = ["--port", env["AIRFLOW__API__PORT"]] if name == "api-server" else []
        airflow.start(name, [name, *port])
    return airflow


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Runs:
    """Reads DAG runs through the REST API and decides when the scheduled run is complete."""

    def __init__(self, client: Any, unpaused_at: datetime) -> None:
        self.client, self.unpaused_at = client, unpaused_at
        self.ingest: dict[str, dict[str, Any]] = {}
        self.build: dict[str, Any] | None = None
        self.deliver: dict[str, Any] | None = None

    def _runs(self, dag_id: str) -> list[dict[str, Any]]:
        answer = self.client.get(
            f"/api/v2/dags/{dag_id}/dagRuns", params={"order_by": "run_after", "limit": 100}
        )
        answer.raise_for_status()
        return list(answer.json()["dag_runs"])

    def _failed(self, dag_id: str, run: dict[str, Any]) -> None:
        tasks = self.client.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances",
            params={"limit": 1000},
        ).json()["task_instances"]
        failed = sorted(t["task_id"] for t in tasks if t["state"] in {"failed", "upstream_failed"})
        raise SystemExit(f"{dag_id} run {run['dag_run_id']} failed: {', '.join(failed)}")

    def _last_raw_event(self) -> datetime:
        """When the last `raw.*` Asset event was emitted (a build started after it covers all)."""
        answer = self.client.get(
            "/api/v2/assets/events", params={"order_by": "-timestamp", "limit": 50}
        )
        answer.raise_for_status()
        stamps = [
            _at(e["timestamp"])
            for e in answer.json()["asset_events"]
            if str(e.get("name") or "").startswith("raw.")
        ]
        return max((s for s in stamps if s), default=self.unpaused_at)

    def complete(self) -> bool:
        for dag_id in INGEST:
            if dag_id in self.ingest:
                continue
            for run in self._runs(dag_id):
                if run["state"] == "failed":
                    self._failed(dag_id, run)
                if run["state"] == "success":
                    self.ingest[dag_id] = run
                    break
        if len(self.ingest) < len(INGEST):
            return False
        if self.build is None:
            ingested = self._last_raw_event()
            for run in self._runs("build_warehouse"):
                started = _at(run["start_date"])
                if started is None or started < ingested:
                    continue
                if run["state"] == "failed":
                    self._failed("build_warehouse", run)
                if run["state"] == "success":
                    self.build = run
                    break
            if self.build is None:
                return False
        # The build's last task emits the `marts` Asset a moment before the run is marked
        # done, so the delivery it triggers can start a little before the build's end_date.
        built = (_at(self.build["end_date"]) or self.unpaused_at) - timedelta(seconds=5)
        for run in self._runs("deliver_extracts"):
            started = _at(run["start_date"])
            if started is None or started < built:
                continue
            if run["state"] == "failed":
                self._failed("deliver_extracts", run)
            if run["state"] == "success":
                self.deliver = run
                return True
        return False

    def summary(self) -> dict[str, Any]:
        def seconds(value: str | None) -> float | None:
            moment = _at(value)
            return round((moment - self.unpaused_at).total_seconds(), 1) if moment else None

        def describe(run: dict[str, Any]) -> dict[str, Any]:
            return {
                "run_id": run["dag_run_id"],
                "run_type": run["run_type"],
                "started_s": seconds(run["start_date"]),
                "ended_s": seconds(run["end_date"]),
            }

        assert self.build is not None and self.deliver is not None
        return {
            "ingest": {dag_id: describe(run) for dag_id, run in sorted(self.ingest.items())},
            "build_warehouse": describe(self.build),
            "deliver_extracts": describe(self.deliver),
        }


def dbt_group(client: Any, run_id: str) -> dict[str, Any]:
    """The `dbt` task group of a `build_warehouse` run: its span, its producer, its states."""
    every: list[dict[str, Any]] = []
    while True:  # the API pages by 100 at most
        answer = client.get(
            f"/api/v2/dags/build_warehouse/dagRuns/{run_id}/taskInstances",
            params={"limit": 100, "offset": len(every)},
        )
        answer.raise_for_status()
        page = answer.json()["task_instances"]
        every += page
        if len(page) < 100:
            break
    tasks = [t for t in every if t["task_id"].startswith("dbt.")]
    starts = [_at(t["start_date"]) for t in tasks if t["start_date"]]
    ends = [_at(t["end_date"]) for t in tasks if t["end_date"]]
    producer = next(t for t in tasks if t["task_id"] == "dbt.dbt_producer_watcher")
    states: dict[str, int] = {}
    for task in tasks:
        states[str(task["state"])] = states.get(str(task["state"]), 0) + 1
    span = max(e for e in ends if e) - min(s for s in starts if s)
    return {
        "tasks": len(tasks),
        "states": states,
        "span_seconds": round(span.total_seconds(), 1),
        "producer_seconds": round(float(producer["duration"] or 0.0), 1),
    }


def rebuild(client: Any, airflow: Stack, timeout: float) -> dict[str, Any]:
    """One more `build_warehouse` run, triggered by hand on a quiet deployment: its dbt group."""
    answer = client.post("/api/v2/dags/build_warehouse/dagRuns", json={"logical_date": None})
    answer.raise_for_status()
    run_id = answer.json()["dag_run_id"]

    def ended() -> str | None:
        state = client.get(f"/api/v2/dags/build_warehouse/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state = _wait("the triggered build_warehouse run", ended, airflow, timeout)
    if state != "success":
        raise SystemExit(f"build_warehouse run {run_id} ended {state}")
    return {"run_id": run_id, **dbt_group(client, run_id)}


def plain_build() -> float:
    """`dbt build` of the whole project, once, on the same warehouse: the Cosmos baseline."""
    from observatorio.transform.dbt import build

    started = time.perf_counter()
    build()
    return time.perf_counter() - started


def _login(api: str, settings: Any, airflow: Stack) -> Any:
    import httpx

    from observatorio.orchestration.airflow_env import ADMIN_USER, admin_password

    client = httpx.Client(base_url=api, timeout=30)
    _wait("the API server", lambda: client.get("/api/v2/monitor/health").is_success, airflow, 300)
    token = client.post(
        "/auth/token", json={"username": ADMIN_USER, "password": admin_password(settings)}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def measure(demo: Any, timeout: float, logs: Path) -> dict[str, Any]:
    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import ensure_warehouse
    from observatorio.orchestration.airflow_env import airflow_environment
    from observatorio.orchestration.runner import migrate_airflow
    from observatorio.transform.manifest import refresh as ensure_manifest
    from simulator.demo import demo_source_systems, land_exports, simulate

    settings = get_settings()
    ensure_warehouse(settings)
    prepared = time.perf_counter()
    simulation = simulate(settings, demo)
    landed = land_exports(settings, simulation)
    migrate_airflow(settings)
    ensure_manifest(settings)  # what a deployment does once per dbt project change
    with demo_source_systems(settings, simulation):
        # os.environ now names the justice database and the health API for the connectors.
        env = {**os.environ, **airflow_environment(settings)}
        api = env["AIRFLOW__API__BASE_URL"]
        airflow = _start(env, logs)
        try:
            client = _login(api, settings, airflow)
            _wait(
                "every DAG to be parsed",
                lambda: all(client.get(f"/api/v2/dags/{d}").is_success for d in DAGS),
                airflow,
                300,
            )
            setup_seconds = time.perf_counter() - prepared
            started = time.perf_counter()
            unpaused_at = datetime.now().astimezone()
            for dag_id in DAGS:
                client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
            runs = Runs(client, unpaused_at)
            _wait("the scheduled run", runs.complete, airflow, timeout)
            total = time.perf_counter() - started
            assert runs.build is not None
            scheduled_group = dbt_group(client, runs.build["dag_run_id"])
            # Cosmos against one `dbt build`, on the same data: a build run triggered once
            # the scheduled run is over, then (Airflow stopped) a plain build.
            _wait("deliver_extracts to finish", lambda: runs.deliver, airflow, timeout)
            cosmos = rebuild(client, airflow, timeout)
        finally:
            airflow.stop()
    dbt_build_seconds = plain_build()
    return {
        "scale": demo.scale,
        "seed": demo.seed,
        "start": demo.start.isoformat(),
        "days": demo.days,
        "files_landed": landed,
        "executor": env["AIRFLOW__CORE__EXECUTOR"],
        "parallelism": int(env["AIRFLOW__CORE__PARALLELISM"]),
        "setup_seconds": round(setup_seconds, 1),
        "scheduled_run_seconds": round(total, 1),
        **runs.summary(),
        "dbt_group_of_the_scheduled_build": scheduled_group,
        "cosmos_overhead": {
            "cosmos_group": cosmos,
            "dbt_build_seconds": round(dbt_build_seconds, 1),
            "ratio_cosmos_to_dbt_build": round(cosmos["span_seconds"] / dbt_build_seconds, 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument("--out", type=Path, default=RESULT, help="where to write the JSON")
    args = parser.parse_args()
    home = (args.home or Path(tempfile.mkdtemp(prefix="observatorio-scheduled-"))).resolve()
    _configure(home)
    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import stop_embedded
    from simulator.demo import Demo

    demo = Demo(seed=args.seed, scale="small", start=date(2024, 1, 1), days=args.days)
    try:
        result = measure(demo, args.timeout, home / "airflow-logs")
        # Two cores shared with other work: read the seconds with the load next to them.
        result["load_average_1m_at_end"] = os.getloadavg()[0]
    finally:
        if get_settings().is_embedded:
            stop_embedded(get_settings())
        if args.home is None and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    text = json.dumps(result, indent=2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
