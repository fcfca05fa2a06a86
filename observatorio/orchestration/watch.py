"""Per-node dbt tasks that never take a worker: each starts in the triggerer and ends there.

Under a scheduler, `build_warehouse` shows every dbt model, seed, snapshot and model's tests
as its own task while one producer task runs the single `dbt build` (Cosmos's watcher mode).
A watcher task that ran on a worker would cost a process start and a DAG parse for a few
XCom reads; 150 of them on a 2-core deployment cost more than the build itself. So each
watcher is deferred by the scheduler straight to the triggerer (`start_from_trigger`), where
`DbtNodeTrigger`, a coroutine among the others of one triggerer process, waits for the build
to end, reads its node's status from the producer's XComs and ends the task there: success,
skipped (dbt skipped the node) or failed.

Why after the build and not as each node ends: every task the triggerer ends sends a callback
request, and the DAG processor parses `build_warehouse.py` (Cosmos renders 150 tasks) to
serve it. Nodes ending one by one kept it parsing back to back for the whole build, a core
taken from dbt (the build took 50 s instead of 35 on 31 days of the small country). Ending
together, the node tasks cost one or two parses. The producer's log follows the build live.

All watchers of a run share one read of the producer's state per poll (they live in the
same triggerer process), so waiting costs one API call every few seconds, not 150.

On a retry, or a task cleared from the UI, the trigger hands the task to a worker instead,
where Cosmos re-runs that node alone with dbt (its fallback for a watcher retried after the
build).

`dag.test()` (`make run`, the tests) ignores `start_from_trigger` and runs the watchers
themselves: see `observatorio.orchestration.cosmos` for the shape the DAG takes then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent
from cosmos.listeners.dag_run_listener import EventStatus
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import (
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)
from cosmos.operators._watcher.triggerer import WatcherEventReason, WatcherTrigger

TRIGGER_PATH = "observatorio.orchestration.watch.DbtNodeTrigger"
# Seconds between two looks at the producer's state (one read for all node tasks of a run):
# how long after the build the node tasks may still wait.
POLL_SECONDS = 1.0
# The producer's states after which it reports nothing more. `upstream_failed`: it never ran.
PRODUCER_DONE = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
# (dag_id, run_id) -> (when read, producer state), shared by the triggers of this process;
# a run's entry goes once nobody has read it for this long.
FORGET_SECONDS = 3600.0
_PRODUCER_STATES: dict[tuple[str, str], tuple[float, asyncio.Future[str | None]]] = {}


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
                yield TriggerEvent(  # type: ignore[no-untyped-call]
                    {"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED}
                )
                return
        while (producer := await self._producer_state()) not in PRODUCER_DONE:
            await asyncio.sleep(self.poke_interval)
        yield await self._outcome(producer)

    async def _outcome(self, producer: str | None) -> TriggerEvent:
        """What the finished build says of this node, as the event that ends its task."""
        if producer == "skipped":  # a retried producer: the node's task runs the node itself
            return TriggerEvent(  # type: ignore[no-untyped-call]
                {"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED}
            )
        status = (
            await self.get_xcom_val(get_tests_status_xcom_key(self.model_unique_id))
            if self.is_test_sensor
            else await self._get_node_status()
        )
        if is_dbt_node_status_success(status) or (status is None and producer == "success"):
            # (No status after a successful build: an ephemeral model, nothing to run.)
            return TaskSuccessEvent()
        if is_dbt_node_status_skipped(status):
            return TaskSkippedEvent()
        self.log.error(
            "dbt node %s: %s (the build: %s); see the log of %s",
            self.model_unique_id,
            status or "no result",
            producer,
            self.producer_task_id,
        )
        return TaskFailedEvent()
