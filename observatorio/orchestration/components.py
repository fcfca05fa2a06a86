"""Airflow's components (scheduler, DAG processor, triggerer, API server, Celery workers) as
separate processes on this machine, each in its own process group, stopped together.

What a deployment runs as services, started by hand with the project's Airflow environment
(`observatorio.orchestration.airflow_env`): the end-to-end tests (`tests/e2e/`) and the
Celery bench (`bench/celery_run.py`) use it. `make run` does not: it runs DAGs in-process
with `dag.test()`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from observatorio.core.settings import Settings
from observatorio.core.warehouse import sqlalchemy_url, warehouse_url
from observatorio.orchestration.airflow_env import airflow_environment

T = TypeVar("T")
# Names a Celery worker when several share one machine (see `worker_hostname`).
WORKER_NAME = "OBSERVATORIO_CELERY_WORKER_NAME"


class ComponentExited(RuntimeError):
    """A component stopped while it should be running; the message holds its log's tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sessions() -> dict[int, list[tuple[int, int]]]:
    """Every process of this machine by session id (from /proc): (pid, RSS in bytes) each.

    A component is started in a session of its own, whose id is its pid; its children stay
    in it even when they make process groups of their own (Airflow's task runners do).
    """
    page = os.sysconf("SC_PAGE_SIZE")
    found: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        # After "pid (command) ": state, ppid, pgrp, session, ... rss (pages) is 22nd of these.
        fields = stat[stat.rindex(")") + 2 :].split()
        found.setdefault(int(fields[3]), []).append((int(entry.name), int(fields[21]) * page))
    return found


class Stack:
    """Airflow components as process groups (`airflow <args>`), each logging to
    `<logs>/<name>.log`, stopped together."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("wb") as log:
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
                raise ComponentExited(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            # The group: children (uvicorn workers, Celery's pool) too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        # Task runners left in groups of their own, in the components' sessions.
        members = sessions()
        for proc in self.procs.values():
            for pid, _ in members.get(proc.pid, []):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def wait_until(
    what: str, check: Callable[[], T | None], stack: Stack, timeout: float, every: float = 1.0
) -> T:
    """The first truthy answer of `check` (an exception counts as no answer yet), while every
    component stays up; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            value = check()
        except Exception:  # the API server is still starting, a row not there yet
            value = None
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def celery_environment(
    settings: Settings, broker_url: str, queue: str, concurrency: int
) -> dict[str, str]:
    """The CeleryExecutor on `broker_url` (Redis, with its db number), results in Airflow's
    metadata database, every task on `queue`: a queue of one's own, so that another
    deployment's worker on the same broker never takes these tasks."""
    result_db = sqlalchemy_url(
        warehouse_url(settings, role="airflow"), driver="psycopg2", database=settings.airflow_db
    )
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{result_db}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CELERY__DEFAULT_QUEUE": queue,
    }


def celery_worker_args(env: dict[str, str], name: str) -> list[str]:
    """`airflow celery worker` on the environment's queue and concurrency, named `name` (a
    second worker on the same machine needs its own name to join the same broker)."""
    return [
        "celery",
        "worker",
        "--celery-hostname",
        f"{name}@%h",
        "--concurrency",
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"],
        "--queues",
        env["AIRFLOW__CELERY__DEFAULT_QUEUE"],
    ]


def worker_hostname() -> str:
    """This machine's name, followed by the Celery worker's (WORKER_NAME) in that worker's
    processes: Airflow's `core.hostname_callable` when several workers share one machine, so
    each task instance's `hostname` says which worker ran it."""
    worker = os.environ.get(WORKER_NAME)
    return f"{socket.getfqdn()}-{worker}" if worker else socket.getfqdn()


def celery_worker_env(name: str, log_server_port: int) -> dict[str, str]:
    """What a second worker on the same machine needs besides its Celery name: a port of its
    own for the log server, and its name in the task instances it runs (`worker_hostname`)."""
    return {
        WORKER_NAME: name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_port),
    }


@contextlib.contextmanager
def local_airflow(
    settings: Settings,
    logs: Path,
    components: tuple[str, ...] = ("dag-processor", "scheduler", "api-server"),
    dags: Path | None = None,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[Stack, str, dict[str, str]]]:
    """Airflow's components with the project's environment, the API server on `port` (a free
    one by default); yields the stack, the API's base URL and the environment.

    `extra_env` is applied over the project's (e.g. `celery_environment`); more components
    (Celery workers) can be started on the stack with it. With `dags`, they serve that folder
    instead of the project's, schedule briskly and leave new DAGs unpaused: a test's own DAGs
    run as soon as they are parsed.
    """
    port = port or free_port()
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
    running = Stack(env, logs)
    try:
        for name in components:
            running.start(name, [name, "--port", str(port)] if name == "api-server" else [name])
        yield running, api, env
    finally:
        running.stop()
