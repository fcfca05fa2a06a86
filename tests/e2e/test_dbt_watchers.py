"""Under a real scheduler and triggerer, every dbt node task ends in the triggerer.

Starts the DAG processor, scheduler, triggerer and API server (LocalExecutor, the project's
Airflow environment) on a temporary dags folder holding one probe DAG made of the project's
own dbt task group (`observatorio.orchestration.cosmos.dbt_task_group`, as `build_warehouse`
uses it), and triggers it through the REST API. The producer runs the single `dbt build` on a
worker; each model, seed, snapshot and model's tests task must succeed without ever running
on a worker (no process id in the metadata database): as the build started, the scheduler
deferred it straight to the triggerer, where `observatorio.orchestration.watch.DbtNodeTrigger`
waited for the build, read its node's status and ended it. The DAG file is parsed exactly
as `dag.test()` parses it: nothing in the environment tells it which process it is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from observatorio.orchestration.components import Stack, local_airflow, wait_until
from tests.e2e.test_deadline import _client

pytestmark = pytest.mark.slow

DAG_ID = "dbt_watch_probe"
PROBE_DAG = '''
"""Test-only DAG for tests/e2e/test_dbt_watchers.py (airflow): the project's dbt group."""
from airflow.sdk import dag

from observatorio.orchestration.cosmos import dbt_task_group
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(dag_id="dbt_watch_probe", schedule=None, start_date=START_DATE, catchup=False,
     default_args={**DEFAULT_ARGS, "retries": 0}, tags=["test"])
def dbt_watch_probe():
    dbt_task_group()


dbt_watch_probe()
'''


@pytest.fixture
def stack(airflow_db, clean_warehouse, tmp_path) -> Iterator[tuple[Stack, str]]:
    from ingestion.loader import ensure_raw_tables

    ensure_raw_tables(airflow_db)  # the dbt sources, empty; the session made the manifest
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(PROBE_DAG)
    with local_airflow(
        airflow_db, tmp_path, ("dag-processor", "scheduler", "triggerer", "api-server"), dags
    ) as (running, api, _):
        yield running, api


def _task_instances(settings: Any, run_id: str) -> dict[str, tuple[str, int | None, Any]]:
    """task_id -> (state, pid, end_date) from the metadata database."""
    import psycopg

    from observatorio.core.warehouse import warehouse_url

    url = warehouse_url(settings, role="airflow").rsplit("/", 1)[0] + "/" + settings.airflow_db
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select task_id, state, pid, end_date from task_instance"
            " where dag_id = %s and run_id = %s",
            (DAG_ID, run_id),
        ).fetchall()
    return {task_id: (state, pid, end) for task_id, state, pid, end in rows}


@pytest.mark.timeout(900)
def test_dbt_node_tasks_end_in_the_triggerer_without_a_worker(stack, airflow_db):
    running, api = stack
    client = _client(api, running, airflow_db)
    wait_until(
        "the probe DAG to be parsed",
        lambda: client.get(f"/api/v2/dags/{DAG_ID}").status_code == 200,
        running,
        180,
    )
    client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    created = client.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
    created.raise_for_status()
    run_id = created.json()["dag_run_id"]

    def ended() -> str | None:
        state = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state = wait_until("the probe run", ended, running, 600)
    tasks = _task_instances(airflow_db, run_id)
    failed = sorted(t for t, (s, _, _) in tasks.items() if s != "success")
    assert state == "success", f"run {state}; not successful: {failed}"
    producer = tasks.pop("dbt.dbt_producer_watcher")
    assert producer[1] is not None, "the producer ran the build on a worker"
    tasks.pop("dbt.dbt_producer_watcher_done")  # empty operators: the scheduler ends them
    tasks.pop("dbt.build_starts")
    assert len(tasks) > 100, sorted(tasks)  # every model, seed, snapshot and model's tests
    assert not failed
    on_a_worker = sorted(t for t, (_, pid, _) in tasks.items() if pid is not None)
    assert not on_a_worker, f"node tasks that took a worker: {on_a_worker}"
    tail = max(end for _, _, end in tasks.values()) - producer[2]
    print(f"{len(tasks)} node tasks, the last ended {tail.total_seconds():.1f} s after the build")
