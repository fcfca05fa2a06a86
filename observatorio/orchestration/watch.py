"""The per-node dbt tasks of `build_warehouse`, and how each ends without taking a worker.

Cosmos's watcher mode shows every dbt model, seed, snapshot and model's tests as its own
task while one producer task runs the single `dbt build` and pushes each node's status to
XCom. Here every node task starts with the build (its group's `build_starts`), waits for it
to end, then ends from its node's status. How it waits is decided where it runs:

- Under a scheduler it never reaches a worker. The scheduler defers it straight to the
  triggerer (`start_from_trigger`), where `DbtNodeTrigger`, one coroutine among the others
  of one triggerer process, reads its node's status and ends it: success, skipped (dbt
  skipped the node) or failed. A watcher on a worker would cost a process start and a DAG
  parse for a few XCom reads; 150 of them on a 2-core deployment cost more than the build.
- `dag.test()` (`make run`, the tests, `airflow dags test`) ignores `start_from_trigger`
  and calls the task's `execute()` on its one loop, which reaches the node tasks one loop
  after it ran the producer (`build_starts` ends in the producer's loop): `DbtNodeTask.execute`
  reads the same status and ends the same way (`node_outcome`). Should it ever run before
  the build has ended, it reschedules itself rather than wait: a wait (or Cosmos's deferral,
  whose trigger `dag.test()` runs inline) would block that loop, and the build with it.

The node tasks wait in the triggerer while dbt runs, so their start (the triggerer loads the
serialized DAG for each) overlaps the build. They end together once it is over, not one by
one as nodes finish: every task the triggerer ends sends a callback request, and the DAG
processor parses `build_warehouse` to serve it; nodes ending during the build kept it parsing
back to back, a core taken from dbt (50 s instead of 35 on 31 days of the small country).
The producer's log follows the build live. All node tasks of a run share one read of the
producer's state per poll (they live in one triggerer process): one API call a second, not
150.

On a retry, or a task cleared from the UI, the node task goes to a worker, where Cosmos
re-runs that node alone with dbt (its fallback for a watcher retried after the build).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airflow.sdk.exceptions import (
    AirflowException,
    AirflowRescheduleException,
    AirflowSkipException,
)
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent
from cosmos.listeners.dag_run_listener import EventStatus
from cosmos.operators.watcher import (
    DbtRunWatcherOperator,
    DbtSeedWatcherOperator,
    DbtSnapshotWatcherOperator,
    DbtTestWatcherOperator,
)

from observatorio.orchestration.compat import (
    WatcherEventReason,
    WatcherTrigger,
    get_status_xcom_key,
    get_tests_status_xcom_key,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)

log = logging.getLogger(__name__)

TRIGGER_PATH = "observatorio.orchestration.watch.DbtNodeTrigger"
# Seconds between two looks at the producer's state (one read for all node tasks of a run).
POLL_SECONDS = 1.0
# A node task run before its build ended tries again this much later (see `DbtNodeTask`):
# only `dag.test()` runs one then, while the producer waits for a retry (30 s at first).
RESCHEDULE_SECONDS = 30
# The producer's states after which it reports nothing more. `upstream_failed`: it never ran.
PRODUCER_DONE = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
# (dag_id, run_id) -> (when read, producer state), shared by the triggers of this process;
# a run's entry goes once nobody has read it for this long.
FORGET_SECONDS = 3600.0
_PRODUCER_STATES: dict[tuple[str, str], tuple[float, asyncio.Future[str | None]]] = {}

Outcome = Literal["success", "skipped", "failed", "not_built", "rerun"]


def node_status(xcom_value: Any) -> str | None:
    """A node's dbt status from its XCom: `{"status": ...}` for a node, a string for tests."""
    if isinstance(xcom_value, dict):
        status = xcom_value.get("status")
        return None if status is None else str(status)
    return None if xcom_value is None else str(xcom_value)


def node_outcome(producer: str | None, status: str | None) -> Outcome:
    """How a node task ends, from its finished build's state and its node's dbt status.

    As Cosmos's own sensor decides, the node's status comes first (a retried producer
    restores the statuses of its first try). Without one: a successful build had nothing to
    run (an ephemeral model); a build that never ran built nothing; a retried producer
    skips itself, and the node task re-runs its node alone; otherwise the build failed
    before it reached the node.
    """
    if is_dbt_node_status_success(status):
        return "success"
    if is_dbt_node_status_skipped(status):
        return "skipped"
    if status is not None:
        return "failed"
    if producer == "success":
        return "success"
    if producer in ("upstream_failed", "removed"):
        return "not_built"
    if producer == "skipped":
        return "rerun"
    return "failed"


class DbtNodeTask:
    """What a node task does when it runs as a task, not from the triggerer.

    Mixed into Cosmos's watcher sensors (`compat.use_project_classes` gives the rendered
    tasks these classes). A first try ends from the build's result, as the trigger does; a
    retry is Cosmos's own: it re-runs the node with dbt.
    """

    model_unique_id: str
    producer_task_id: str
    is_test_sensor: bool

    def execute(self, context: Any) -> Any:
        ti = context["ti"]
        if (ti.try_number or 1) > 1:
            return super().execute(context)  # type: ignore[misc]
        states = ti.get_task_states(
            dag_id=ti.dag_id, task_ids=[self.producer_task_id], run_ids=[context["run_id"]]
        )
        producer = states.get(context["run_id"], {}).get(self.producer_task_id)
        producer = None if producer is None else str(producer)
        if producer not in PRODUCER_DONE:
            raise AirflowRescheduleException(  # type: ignore[no-untyped-call]
                datetime.now(UTC) + timedelta(seconds=RESCHEDULE_SECONDS)
            )
        key = (
            get_tests_status_xcom_key(self.model_unique_id)
            if self.is_test_sensor
            else get_status_xcom_key(self.model_unique_id)
        )
        status = node_status(ti.xcom_pull(task_ids=self.producer_task_id, key=key))
        outcome = node_outcome(producer, status)
        if outcome == "rerun":
            return super().execute(context)  # type: ignore[misc]
        message = (
            f"dbt node {self.model_unique_id}: {status or 'no result'} (the build: {producer})"
        )
        if outcome == "success":
            log.info("%s", message)
            return None
        if outcome in ("skipped", "not_built"):
            raise AirflowSkipException(message)
        raise AirflowException(f"{message}; see the log of {self.producer_task_id}")


class DbtModelWatcher(DbtNodeTask, DbtRunWatcherOperator):  # type: ignore[misc]
    """A dbt model's task (Cosmos's `DbtRunWatcherOperator`)."""


class DbtSeedWatcher(DbtNodeTask, DbtSeedWatcherOperator):  # type: ignore[misc]
    """A dbt seed's task (Cosmos's `DbtSeedWatcherOperator`)."""


class DbtSnapshotWatcher(DbtNodeTask, DbtSnapshotWatcherOperator):  # type: ignore[misc]
    """A dbt snapshot's task (Cosmos's `DbtSnapshotWatcherOperator`)."""


class DbtTestWatcher(DbtNodeTask, DbtTestWatcherOperator):  # type: ignore[misc]
    """The task of a model's dbt tests (Cosmos's `DbtTestWatcherOperator`)."""


# Cosmos's class -> the project's, for `compat.use_project_classes`.
NODE_TASK_CLASSES: dict[type, type] = {
    DbtRunWatcherOperator: DbtModelWatcher,
    DbtSeedWatcherOperator: DbtSeedWatcher,
    DbtSnapshotWatcherOperator: DbtSnapshotWatcher,
    DbtTestWatcherOperator: DbtTestWatcher,
}


class DbtNodeTrigger(WatcherTrigger):  # type: ignore[misc]
    """Cosmos's watcher trigger, started by the scheduler and ending its task itself.

    The scheduler creates it from the task's static `start_trigger_args`, so it learns its
    run from the task instance the triggerer gives it.
    """

    model_unique_id: str
    run_id: str
    map_index: int | None

    def __init__(
        self,
        model_unique_id: str,
        producer_task_id: str,
        dag_id: str,
        run_id: str | None = None,
        map_index: int | None = None,
        poke_interval: float = POLL_SECONDS,
        is_test_sensor: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model_unique_id=model_unique_id,
            producer_task_id=producer_task_id,
            dag_id=dag_id,
            run_id=run_id or "",
            map_index=map_index,
            poke_interval=poke_interval,
            is_test_sensor=is_test_sensor,
            **kwargs,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        _, kwargs = super().serialize()
        return TRIGGER_PATH, kwargs

    async def _producer_state(self) -> str | None:
        """The producer's state, read at most once per poll for all watchers of the run.

        The watchers wake together: the first starts the read, the others await that same
        read instead of each starting its own (150 reads a second kept the triggerer busy).
        """
        key = (self.dag_id, self.run_id)
        now = time.monotonic()
        read_at, pending = _PRODUCER_STATES.get(key, (0.0, None))
        if pending is None or now - read_at >= self.poke_interval:
            pending = asyncio.ensure_future(self._get_producer_task_status())
            for old in [k for k, (at, _) in _PRODUCER_STATES.items() if now - at > FORGET_SECONDS]:
                del _PRODUCER_STATES[old]
            _PRODUCER_STATES[key] = (now, pending)
        return await asyncio.shield(pending)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ti = getattr(self, "task_instance", None)
        if ti is not None:
            self.run_id = self.run_id or str(ti.run_id)
            if self.map_index is None:
                self.map_index = ti.map_index
            if (ti.try_number or 1) > 1:
                # A retry or a clear: the task resumes on a worker and re-runs its node.
                self.log.info("try %s: handing %s to a worker", ti.try_number, self.model_unique_id)
                yield self._to_a_worker()
                return
        while (producer := await self._producer_state()) not in PRODUCER_DONE:
            await asyncio.sleep(self.poke_interval)
        yield await self._outcome(producer)

    def _to_a_worker(self) -> TriggerEvent:
        """Resume the task on a worker, where Cosmos's `execute_complete` re-runs the node."""
        return TriggerEvent(  # type: ignore[no-untyped-call]
            {"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED}
        )

    async def _outcome(self, producer: str | None) -> TriggerEvent:
        """What the finished build says of this node, as the event that ends its task."""
        key = (
            get_tests_status_xcom_key(self.model_unique_id)
            if self.is_test_sensor
            else get_status_xcom_key(self.model_unique_id)
        )
        status = node_status(await self.get_xcom_val(key))
        outcome = node_outcome(producer, status)
        if outcome == "success":
            return TaskSuccessEvent()
        if outcome in ("skipped", "not_built"):
            return TaskSkippedEvent()
        if outcome == "rerun":
            return self._to_a_worker()
        self.log.error(
            "dbt node %s: %s (the build: %s); see the log of %s",
            self.model_unique_id,
            status or "no result",
            producer,
            self.producer_task_id,
        )
        return TaskFailedEvent()
