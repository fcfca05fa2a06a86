"""Defaults, Assets and the ingest task group shared by the DAG files.

Only `airflow.sdk` is imported here, and the heavy packages only inside task bodies, so the
DAG files that use it stay cheap to parse. Each ingest DAG calls `ingest_landed_files` once
per source entity it owns; connector tasks (SQL, REST) that land extracts go before it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, AssetAny, task, task_group

from observatorio.orchestration.alerts import on_task_failure

# Every DAG's start: early enough for a ministry's history (a delivery run takes the month
# of the data as its logical date, and a run before a DAG's start would run no task). No
# DAG catches up, so nothing is scheduled for the years in between.
START_DATE = datetime(2000, 1, 1, tzinfo=UTC)


# What `dag.test()` records as the user who triggered its runs.
DAG_TEST_USER = "dag_test"


def prepare_a_dag_test(context: Any) -> None:
    """`pre_execute` of every task: ready a `dag.test()` process to end its DAG run.

    `dag.test()` (`make run`, `airflow dags test`, the tests) runs every task in the process
    that then ends the DAG run, which Airflow 3.3.2 cannot do for a DAG with a deadline
    (`compat.let_dag_test_finish_runs_with_deadlines`, installed here, at task execution).
    For any other run, and in a worker, it does nothing (one attribute read).
    """
    dag_run = context.get("dag_run")
    if (
        getattr(dag_run, "triggering_user_name", None) == DAG_TEST_USER
        and "airflow.models.dagrun" in sys.modules  # this process ends the run
    ):
        from observatorio.orchestration.compat import let_dag_test_finish_runs_with_deadlines

        let_dag_test_finish_runs_with_deadlines()


DEFAULT_ARGS = {
    "owner": "observatorio-data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    # No task hangs forever: a stuck source, a lock or a runaway query fails the try (and
    # alerts) instead of holding a worker. A task that needs longer says so itself.
    "execution_timeout": timedelta(hours=2),
    # E-mail and webhook, through the Airflow connections named in
    # observatorio.orchestration.alerts.
    "on_failure_callback": on_task_failure,
    "pre_execute": prepare_a_dag_test,
}


def raw_asset(source: str) -> Asset:
    """The Asset a source's ingest DAG emits when it publishes a batch to `raw`."""
    return Asset(name=f"raw.{source}", uri=f"observatorio://warehouse/raw/{source}")


class AnyAssetHashedOnce(AssetAny):
    """`AssetAny`, its hash computed when made: the schedule of a DAG fed by many sources.

    Airflow hashes a DAG, its schedule included, at every dependency set between two of its
    tasks, and an `Asset` hashes by serialising itself to JSON: with the 18 raw assets of
    `build_warehouse` and its ~1,000 dependencies (the dbt task groups), that was 1.2 s of
    every parse of the DAG folder. The conditions it holds are never changed after it is made.
    """

    def __init__(self, *objects: Asset) -> None:
        super().__init__(*objects)
        self._hash = super().__hash__()  # Airflow's own, once

    def __hash__(self) -> int:
        return self._hash


MARTS = Asset(name="marts", uri="observatorio://warehouse/marts")


def ingest_landed_files(source: str) -> Any:
    """claim → stage → gate → publish → report for one contract, as a task group.

    `claim_files` takes the landing folder's files and, when the Airflow connection
    `observatorio_sftp_<source>` exists, the source's SFTP drops too (the remote copies are
    moved to `archive/` or `rejected/` on the server as their batches end).
    `publish` emits the source's raw Asset; `report` fails the run, naming each file and
    expectation, if any batch of the run was rejected (the others are still published).
    """

    @task_group(group_id=source)
    def ingest() -> Any:
        @task
        def claim_files() -> list[str]:
            from airflow.sdk import get_current_context

            from observatorio.orchestration.ingest import claim

            context = get_current_context()
            # Claims are scoped to this DAG run: a retry takes its own again, and a
            # concurrent run of the same source never sees them.
            return claim(source, f"{context['dag'].dag_id}.{context['run_id']}")

        @task
        def stage(paths: list[str]) -> dict[str, Any]:
            from observatorio.orchestration.ingest import stage as stage_files

            return stage_files(source, paths)

        @task
        def gate(step: dict[str, Any]) -> dict[str, Any]:
            from observatorio.orchestration.ingest import gate as gate_batches

            return gate_batches(step)

        @task(outlets=[raw_asset(source)])
        def publish(step: dict[str, Any]) -> dict[str, Any]:
            from observatorio.orchestration.ingest import publish as publish_batches

            return publish_batches(step)

        @task
        def report(step: dict[str, Any]) -> dict[str, int]:
            from airflow.sdk.exceptions import AirflowFailException

            from ingestion.loader import BatchRejected
            from observatorio.orchestration.ingest import report as report_run

            try:
                return report_run(step)
            except BatchRejected as exc:
                raise AirflowFailException(f"rejected: {exc}") from exc

        # TaskFlow passes XComArgs where the functions declare their resolved types.
        return report(publish(gate(stage(claim_files()))))  # type: ignore[arg-type]

    return ingest()
