"""Scale-out: a DAG run goes through the scheduler to a real Celery worker and succeeds.

Starts, as separate process groups with the project's Airflow environment for the
CeleryExecutor: a Celery worker (Redis broker: the machine's on 127.0.0.1:6379, or one the
session starts, see `tests/local_servers.py`; a dedicated db number and a queue of its own;
result backend on the test session's PostgreSQL), the scheduler, the
DAG processor and the API server. A tiny DAG in a temporary dags folder is triggered
through the REST API; its task reports which process ran it, so the test proves the worker
ran it. Everything is stopped (by process group) at the end, even on failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _celery_environment(
    settings: Any, dags: Path, port: int, queue: str, redis_url: str
) -> dict[str, str]:
    from observatorio.core.warehouse import sqlalchemy_url, warehouse_url
    from observatorio.orchestration.airflow_env import airflow_environment

    env = {**os.environ, **airflow_environment(settings, executor="CeleryExecutor")}
    api = f"http://127.0.0.1:{port}"
    result_db = sqlalchemy_url(
        warehouse_url(settings, role="airflow"), driver="psycopg2", database=settings.airflow_db
    )
    env.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__CELERY__BROKER_URL": f"{redis_url}/{REDIS_DB}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{result_db}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            # A queue of our own: another session's worker on the same Redis never takes ours.
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CELERY__DEFAULT_QUEUE": queue,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        }
    )
    return env


class Stack:
    """Airflow components as process groups, stopped together."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            # The group: children (uvicorn workers, task runners) too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def local_airflow(
    settings: Any,
    tmp_path: Path,
    components: tuple[str, ...] = ("dag-processor", "scheduler", "api-server"),
    dags: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[Stack, str, dict[str, str]]]:
    """Airflow's components (LocalExecutor, the project's environment) on a free port.

    With `dags`, they serve that folder instead of the project's, schedule briskly and leave
    new DAGs unpaused: the test's own DAGs run as soon as they are parsed.
    """
    from observatorio.orchestration.airflow_env import airflow_environment

    port = _free_port()
    api = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **airflow_environment(settings),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
    }
    if dags is not None:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        env["AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC"] = "1"
        env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
    env.update(extra_env or {})
    running = Stack(env, tmp_path)
    try:
        for name in components:
            running.start(name, [name, "--port", str(port)] if name == "api-server" else [name])
        yield running, api, env
    finally:
        running.stop()


@pytest.fixture
def stack(airflow_db, tmp_path, redis_url) -> Iterator[tuple[Stack, str]]:
    settings = airflow_db
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(textwrap.dedent(SMOKE_DAG))
    port = _free_port()
    queue = f"observatorio-test-{os.getpid()}"
    env = _celery_environment(settings, dags, port, queue, redis_url)
    running = Stack(env, tmp_path)
    try:
        running.start(
            "worker",
            [
                "celery",
                "worker",
                "--concurrency",
                "2",
                "--queues",
                env["AIRFLOW__CELERY__DEFAULT_QUEUE"],
            ],
            extra_env={WORKER_MARK: "celery-worker"},
        )
        running.start("dag-processor", ["dag-processor"])
        running.start("scheduler", ["scheduler"])
        running.start("api-server", ["api-server", "--port", str(port)])
        yield running, f"http://127.0.0.1:{port}"
    finally:
        running.stop()


def _wait(what: str, check: Any, stack: Stack, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            value = check()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_a_dag_run_succeeds_on_a_celery_worker(stack, airflow_db):
    import httpx

    from observatorio.orchestration.airflow_env import ADMIN_USER, admin_password

    running, api = stack
    client = httpx.Client(base_url=api, timeout=10)
    _wait(
        "the API server",
        lambda: client.get("/api/v2/monitor/health").status_code == 200,
        running,
        120,
    )
    token = client.post(
        "/auth/token", json={"username": ADMIN_USER, "password": admin_password(airflow_db)}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    _wait(
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

    state = _wait("the DAG run", finished, running, 180)
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
