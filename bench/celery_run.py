"""The pipeline's DAGs through the scheduler, on two Celery workers, against an external
PostgreSQL: the first step of issue 19's "beyond one machine".

    python -m bench.celery_run --rows 100000 [--rows 1000000] [--concurrency 2]
        [--port 55460] [--server postgresql://postgres@127.0.0.1:5432] [--keep]

Each case (a row count) gets a scratch OBSERVATORIO_HOME under `.observatorio/bench/celery/`
and two dedicated databases on the PostgreSQL server `--server` (an administrator's URL,
reached only through OBSERVATORIO_WAREHOUSE_URL and OBSERVATORIO_ADMIN_URL as the README's
"Against an external PostgreSQL" does): `observatorio_bench_celery` (the warehouse, created
empty; the project bootstraps its roles through the admin URL and then connects as each of
them) and `observatorio_bench_celery_airflow` (Airflow's metadata and Celery's results).
Both are dropped when the case ends, unless `--keep`. The roles belong to the whole server
(one Observatorio per server, see the README) and stay: drop them by hand on a shared server.

Airflow runs as a deployment does, each component its own process group with the project's
Airflow environment (`observatorio.orchestration.components`): the DAG processor, the
scheduler, the triggerer (the dbt node tasks defer to it), the API server and TWO Celery
workers on Redis (the machine's on 127.0.0.1:6379, or one the bench starts: see
`tests/local_servers.py`; db 12 and a queue of the bench's own), each with `--concurrency`
slots. Each worker names itself in the task instances it runs (`worker_hostname`).

The case lands a police export of N victim rows (`bench.ingest.write_police_file`, the demo
geography) in the police inbox and unpauses `ingest_police_reports` and `build_warehouse`:
the scheduler starts the hourly ingest DAG, whose `raw.police__reports` Asset triggers the
build. Then `deliver_extracts` is unpaused and triggered with the logical date `make run` gives
it (the month after the latest month of data, `runner.latest_data_moment`), since the data
are of 2024 and an Asset-triggered run would deliver last month of the wall clock.

Recorded, from Airflow's REST API: each DAG run's wall time and each task's (state, duration,
try, the worker that ran it), the tasks per worker; sampled every second from /proc: the peak
RSS of every component (the sum over its processes, which counts pages a
forked pool shares more than once, and its largest single process; the processes of a
component are those of its session, task runners included); the database sizes and
the load average (at start, at end and its mean over the run). Results go to
`bench/results/celery.json`, one entry per case, merged with those already there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "celery.json"
WAREHOUSE_DB = "observatorio_bench_celery"
AIRFLOW_DB = "observatorio_bench_celery_airflow"
REDIS_DB = 12
QUEUE = "observatorio-bench-celery"
SOURCE = "police__reports"
INGEST_DAG, BUILD_DAG, DELIVERY_DAG = "ingest_police_reports", "build_warehouse", "deliver_extracts"
DAGS = (INGEST_DAG, BUILD_DAG, DELIVERY_DAG)
COMPONENTS = ("dag-processor", "scheduler", "triggerer", "api-server")
WORKERS = ("worker1", "worker2")


def configure(home: Path, server: str, port: int) -> None:
    """The environment of an Observatorio deployment on an external PostgreSQL (before any
    settings are read)."""
    os.environ.update(
        {
            "OBSERVATORIO_HOME": str(home),
            "OBSERVATORIO_DEMO": "1",
            # An administrator, as the README's examples: the project makes its roles with it
            # and then connects as each of them.
            "OBSERVATORIO_WAREHOUSE_URL": f"{server}/{WAREHOUSE_DB}",
            "OBSERVATORIO_ADMIN_URL": f"{server}/postgres",
            "OBSERVATORIO_AIRFLOW_DB": AIRFLOW_DB,
            "OBSERVATORIO_AIRFLOW_PORT": str(port),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    sys.path.insert(0, str(ROOT))


def drop_databases(admin: str, create_warehouse: bool = False) -> None:
    """Drop the bench's databases; then create the warehouse's, empty (the project makes
    Airflow's at its bootstrap, but starts by connecting to its own database)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (WAREHOUSE_DB, AIRFLOW_DB):
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
        if create_warehouse:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(WAREHOUSE_DB)))


class Sampler(threading.Thread):
    """Every second: the load average, and the RSS of each component's processes (its
    session: `components.sessions`)."""

    def __init__(self, components: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.components = components  # name -> session id (the component's pid)
        self.peak_sum = dict.fromkeys(components, 0)
        self.peak_one = dict.fromkeys(components, 0)
        self.loads: list[float] = []
        self.halt = threading.Event()

    def sample(self) -> None:
        from observatorio.orchestration.components import sessions

        found = sessions()
        for name, sid in self.components.items():
            sizes = [rss for _, rss in found.get(sid, [])]
            self.peak_sum[name] = max(self.peak_sum[name], sum(sizes))
            self.peak_one[name] = max(self.peak_one[name], max(sizes, default=0))
        self.loads.append(os.getloadavg()[0])

    def run(self) -> None:
        while not self.halt.wait(1.0):
            self.sample()

    def figures(self) -> dict[str, dict[str, float]]:
        mb = 1024 * 1024
        return {
            name: {
                "peak_rss_mb_sum": round(self.peak_sum[name] / mb, 1),
                "peak_rss_mb_largest_process": round(self.peak_one[name] / mb, 1),
            }
            for name in self.components
        }


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _seconds(start: str | None, end: str | None) -> float | None:
    begun, ended = _at(start), _at(end)
    return round((ended - begun).total_seconds(), 1) if begun and ended else None


class Api:
    """The REST API calls the bench makes."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        answer = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
        answer.raise_for_status()
        return list(answer.json()["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        every: list[dict[str, Any]] = []
        while True:  # the API pages by 100 at most
            answer = self.client.get(
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(every)},
            )
            answer.raise_for_status()
            page = answer.json()["task_instances"]
            every += page
            if len(page) < 100:
                return every

    def finished(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's first finished run; SystemExit naming the failed tasks if it failed."""
        for run in self.runs(dag_id):
            if run["state"] == "failed":
                tasks = self.task_instances(dag_id, run["dag_run_id"])
                failed = sorted(
                    t["task_id"] for t in tasks if t["state"] in {"failed", "upstream_failed"}
                )
                raise SystemExit(f"{dag_id} run {run['dag_run_id']} failed: {', '.join(failed)}")
            if run["state"] == "success":
                return run
        return None


def describe(api: Api, dag_id: str, run: dict[str, Any]) -> dict[str, Any]:
    """A finished DAG run: its wall time, and every task's figures and worker."""
    tasks = []
    for ti in api.task_instances(dag_id, run["dag_run_id"]):
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
        tasks.append(
            {
                "task": name,
                "state": ti["state"],
                "seconds": round(float(ti["duration"]), 1) if ti["duration"] else None,
                "queued_to_end_s": _seconds(ti.get("queued_when"), ti["end_date"]),
                "try": ti["try_number"],
                "worker": worker_of(ti["hostname"]),
                "operator": ti.get("operator_name") or ti.get("operator"),
            }
        )
    per_worker: dict[str, int] = {}
    for task in tasks:
        if task["state"] == "success":
            per_worker[task["worker"]] = per_worker.get(task["worker"], 0) + 1
    return {
        "run_id": run["dag_run_id"],
        "run_type": run["run_type"],
        "state": run["state"],
        "seconds": _seconds(run["start_date"], run["end_date"]),
        "queued_at": run.get("queued_at"),
        "start_date": run["start_date"],
        "end_date": run["end_date"],
        "tasks_succeeded_per_worker": per_worker,
        "tasks": sorted(tasks, key=lambda t: -(t["seconds"] or 0.0)),
    }


def worker_of(hostname: str | None) -> str:
    """The worker a task instance's hostname names (`components.worker_hostname`)."""
    for worker in WORKERS:
        if hostname and hostname.endswith(f"-{worker}"):
            return worker
    return hostname or "no worker (deferred to the triggerer, or skipped)"


@contextmanager
def deployment(settings: Any, logs: Path, port: int, concurrency: int) -> Iterator[Any]:
    """Airflow with two Celery workers on Redis; yields (stack, api client, sampler)."""
    import httpx

    from observatorio.orchestration.airflow_env import ADMIN_USER, admin_password
    from observatorio.orchestration.components import (
        celery_environment,
        celery_worker_args,
        celery_worker_env,
        local_airflow,
        wait_until,
    )
    from tests.local_servers import redis_server

    with redis_server(logs / "redis") as redis_url:
        extra = celery_environment(settings, f"{redis_url}/{REDIS_DB}", QUEUE, concurrency)
        extra["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(port + 3)
        with local_airflow(settings, logs, COMPONENTS, extra_env=extra, port=port) as (
            stack,
            api,
            env,
        ):
            for number, worker in enumerate(WORKERS, start=1):
                stack.start(
                    worker,
                    celery_worker_args(env, worker),
                    celery_worker_env(worker, port + number),
                )
            sampler = Sampler({name: proc.pid for name, proc in stack.procs.items()})
            sampler.start()
            try:
                client = httpx.Client(base_url=api, timeout=60)
                wait_until(
                    "the API server",
                    lambda: client.get("/api/v2/monitor/health").is_success,
                    stack,
                    300,
                    every=2,
                )
                token = client.post(
                    "/auth/token",
                    json={"username": ADMIN_USER, "password": admin_password(settings)},
                ).json()["access_token"]
                client.headers["Authorization"] = f"Bearer {token}"
                wait_until(
                    "the pipeline's DAGs to be parsed",
                    lambda: all(client.get(f"/api/v2/dags/{d}").is_success for d in DAGS),
                    stack,
                    600,
                    every=2,
                )
                yield stack, client, sampler
            finally:
                sampler.halt.set()
                sampler.join()


def database_sizes(settings: Any) -> dict[str, Any]:
    import psycopg

    from observatorio.core.warehouse import admin_url, connect

    admin = admin_url(settings)
    assert admin is not None
    with psycopg.connect(admin) as conn:
        sizes = {
            name: conn.execute("select pg_database_size(%s)", (name,)).fetchone()[0]  # type: ignore[index]
            for name in (WAREHOUSE_DB, AIRFLOW_DB)
        }
    with connect(settings) as conn:
        raw = conn.execute("select count(*) from raw.police__reports").fetchone()
        mart = conn.execute("select count(*) from marts.mart_indicators_monthly").fetchone()
    return {
        "warehouse_bytes": sizes[WAREHOUSE_DB],
        "airflow_metadata_bytes": sizes[AIRFLOW_DB],
        "raw_police_reports_rows": raw[0] if raw else None,
        "mart_indicators_monthly_rows": mart[0] if mart else None,
    }


def run_case(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    from bench.ingest import write_police_file
    from ingestion.landing import inbox
    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import ensure_warehouse
    from observatorio.orchestration.components import wait_until
    from observatorio.orchestration.runner import latest_data_moment, migrate_airflow
    from observatorio.transform.manifest import refresh as ensure_manifest

    settings = get_settings()
    print(f"case {rows} rows: warehouse {settings.warehouse_display}", flush=True)
    prepared = time.perf_counter()
    ensure_warehouse(settings)  # bootstraps the roles and both databases through the admin URL
    migrate_airflow(settings)
    ensure_manifest(settings)  # a build artefact, made once per dbt project change
    landing = inbox(SOURCE, settings)
    landing.mkdir(parents=True, exist_ok=True)
    written = time.perf_counter()
    source = landing / f"denuncias_celery_1_{rows}.csv"
    partial = source.with_suffix(".part")
    write_police_file(partial, rows, seed=1, first=1)
    partial.rename(source)  # the file appears whole in the inbox, as an SFTP drop would
    simulate_s = time.perf_counter() - written
    load_start = [round(x, 2) for x in os.getloadavg()]
    with deployment(settings, args.home / "logs", args.port, args.concurrency) as (
        stack,
        client,
        sampler,
    ):
        api = Api(client)
        setup_s = time.perf_counter() - prepared - simulate_s
        started = time.perf_counter()
        for dag_id in (INGEST_DAG, BUILD_DAG):
            client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        timeout = args.timeout
        ingest = wait_until("the ingest run", lambda: api.finished(INGEST_DAG), stack, timeout, 3)
        build = wait_until("the build run", lambda: api.finished(BUILD_DAG), stack, timeout, 3)
        moment = latest_data_moment(settings)
        assert moment is not None, "the build published no indicator mart"
        client.patch(f"/api/v2/dags/{DELIVERY_DAG}", json={"is_paused": False}).raise_for_status()
        client.post(
            f"/api/v2/dags/{DELIVERY_DAG}/dagRuns",
            json={"logical_date": moment.isoformat(), "run_after": moment.isoformat()},
        ).raise_for_status()
        deliver = wait_until(
            "the delivery run", lambda: api.finished(DELIVERY_DAG), stack, timeout, 3
        )
        total_s = time.perf_counter() - started
        load_end = [round(x, 2) for x in os.getloadavg()]
        runs = {
            dag_id: describe(api, dag_id, run)
            for dag_id, run in ((INGEST_DAG, ingest), (BUILD_DAG, build), (DELIVERY_DAG, deliver))
        }
        env = stack.env
        memory = sampler.figures()
        loads = sampler.loads
    per_worker: dict[str, int] = {}
    for run in runs.values():
        for worker, count in run["tasks_succeeded_per_worker"].items():
            per_worker[worker] = per_worker.get(worker, 0) + count
    return {
        "rows": rows,
        "municipalities": 60,
        "warehouse": "external",
        "server": args.server.split("@")[-1],
        "executor": env["AIRFLOW__CORE__EXECUTOR"],
        "workers": len(WORKERS),
        "worker_concurrency": args.concurrency,
        "parallelism": int(env["AIRFLOW__CORE__PARALLELISM"]),
        "simulate_s_excluded": round(simulate_s, 1),
        "setup_s_excluded": round(setup_s, 1),
        "unpause_to_delivered_s": round(total_s, 1),
        "dag_run_seconds": {dag_id: run["seconds"] for dag_id, run in runs.items()},
        "tasks_succeeded_per_worker": per_worker,
        "both_workers_ran_tasks": all(per_worker.get(w, 0) > 0 for w in WORKERS),
        "memory": memory,
        **database_sizes(settings),
        "load_average_at_start": load_start,
        "load_average_at_end": load_end,
        "load_average_1m_mean": round(sum(loads) / len(loads), 2) if loads else None,
        "cpus": os.cpu_count(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, action="append", help="source rows (repeatable)")
    parser.add_argument("--concurrency", type=int, default=2, help="slots per Celery worker")
    parser.add_argument("--port", type=int, default=55460, help="API server; +1..+3 log servers")
    parser.add_argument(
        "--server", default="postgresql://postgres@127.0.0.1:5432", help="admin URL, no database"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per DAG run")
    parser.add_argument("--out", type=Path, default=ROOT / ".observatorio" / "bench" / "celery")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the databases and the home")
    args = parser.parse_args(argv)
    # A stopped bench still stops its components and drops its databases (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for rows in args.rows or [100_000]:
        args.home = (args.out / f"{rows}r").resolve()
        shutil.rmtree(args.home, ignore_errors=True)
        configure(args.home / "h", args.server, args.port)
        drop_databases(f"{args.server}/postgres", create_warehouse=True)  # starts empty
        try:
            case = run_case(rows, args)
        finally:
            if not args.keep:
                drop_databases(f"{args.server}/postgres")
        key = f"{rows}_rows_60_municipalities_external_celery_2_workers"
        # Read just before writing: another case may have finished meanwhile.
        results: dict[str, Any] = (
            json.loads(args.results.read_text()) if args.results.exists() else {"cases": {}}
        )
        results["cases"][key] = case
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({k: v for k, v in case.items() if k != "runs"}, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
