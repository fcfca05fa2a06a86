"""Scale-out: a DAG run goes through the scheduler to a real Celery worker and succeeds.

Starts, as separate process groups with the project's Airflow environment for the
CeleryExecutor (`observatorio.orchestration.components`): a Celery worker (Redis broker: the
machine's on 127.0.0.1:6379, or one the session starts, see `tests/local_servers.py`; a
dedicated db number and a queue of its own; result backend on the test session's
PostgreSQL), the scheduler, the DAG processor and the API server. A tiny DAG in a temporary
dags folder is triggered through the REST API; its task reports which process ran it, so the
test proves the worker ran it. Everything is stopped (by process group) at the end, even on
failure.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator

import pytest

from observatorio.orchestration.components import (
    Stack,
    celery_environment,
    celery_worker_args,
    local_airflow,
    wait_until,
)

pytestmark = pytest.mark.slow

REDIS_DB = 11
DAG_ID = "celery_smoke"
WORKER_MARK = "OBSERVATORIO_TEST_CELERY_WORKER"

SMOKE_DAG = '''
"""Test-only DAG for tests/e2e/test_celery.py (airflow)."""
from airflow.sdk import dag, task

from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(dag_id="celery_smoke", schedule=None, start_date=START_DATE, catchup=False,
     default_args={**DEFAULT_ARGS, "retries": 0}, tags=["test"])
def celery_smoke():
    @task
    def warehouse_answers() -> int:
        from observatorio.core.warehouse import connect

        with connect() as conn:
            return int(conn.execute("select 41 + 1").fetchone()[0])

    @task
    def ran_on(answer: int) -> str:
        import os

        return f"{os.environ.get('OBSERVATORIO_TEST_CELERY_WORKER', 'not-the-worker')}:{answer}"

    ran_on(warehouse_answers())


celery_smoke()
'''


@pytest.fixture
def stack(airflow_db, tmp_path, redis_url) -> Iterator[tuple[Stack, str]]:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(textwrap.dedent(SMOKE_DAG))
    queue = f"observatorio-test-{os.getpid()}"
    celery = celery_environment(airflow_db, f"{redis_url}/{REDIS_DB}", queue, concurrency=2)
    celery["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] = "5"
    with local_airflow(airflow_db, tmp_path, dags=dags, extra_env=celery) as (running, api, env):
        running.start("worker", celery_worker_args(env, "worker"), {WORKER_MARK: "celery-worker"})
        yield running, api


def test_a_dag_run_succeeds_on_a_celery_worker(stack, airflow_db):
    import httpx

    from observatorio.orchestration.airflow_env import ADMIN_USER, admin_password

    running, api = stack
    client = httpx.Client(base_url=api, timeout=10)
    wait_until(
        "the API server",
        lambda: client.get("/api/v2/monitor/health").status_code == 200,
        running,
        120,
    )
    token = client.post(
        "/auth/token", json={"username": ADMIN_USER, "password": admin_password(airflow_db)}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    wait_until(
        "the DAG to be parsed",
        lambda: client.get(f"/api/v2/dags/{DAG_ID}").status_code == 200,
        running,
        90,
    )
    client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()

    started = time.monotonic()
    created = client.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
    created.raise_for_status()
    run_id = created.json()["dag_run_id"]

    def finished() -> str | None:
        state = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        return state if state in {"success", "failed"} else None

    state = wait_until("the DAG run", finished, running, 180)
    seconds = time.monotonic() - started
    tasks = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()
    summary = {
        t["task_id"]: (t["state"], t["executor"], t["queue"]) for t in tasks["task_instances"]
    }
    assert state == "success", f"{summary}; logs in {running.logs}"
    xcom = client.get(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/ran_on/xcomEntries/return_value"
    ).json()
    assert xcom["value"] in ("celery-worker:42", '"celery-worker:42"')
    assert {t["queue"] for t in tasks["task_instances"]} == {f"observatorio-test-{os.getpid()}"}
    print(f"Celery DAG run: {seconds:.1f} s from trigger to success")
