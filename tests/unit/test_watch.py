"""How a dbt node task ends, from the triggerer or from a task run: the same rules both ways."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from observatorio.orchestration import watch

MODEL = "model.observatorio.stg_probe__rows"
STATUS_KEY = f"{MODEL.replace('.', '__')}_status"
TESTS_KEY = f"{MODEL.replace('.', '__')}_tests_status"


@pytest.mark.parametrize(
    ("producer", "status", "outcome"),
    [
        ("success", "success", "success"),
        ("success", "pass", "success"),
        ("failed", "success", "success"),  # the build failed elsewhere
        ("failed", "error", "failed"),
        ("failed", "fail", "failed"),
        ("failed", "skipped", "skipped"),  # dbt skipped it
        ("success", None, "success"),  # nothing to run (an ephemeral model)
        ("failed", None, "failed"),  # the build failed before it reached the node
        ("upstream_failed", None, "not_built"),  # the build never ran
        ("removed", None, "not_built"),
        ("skipped", None, "rerun"),  # a retried producer skips: the node runs itself
        ("skipped", "success", "success"),  # ...unless its first try reported the node
    ],
)
def test_node_outcome(producer, status, outcome):
    assert watch.node_outcome(producer, status) == outcome


def test_node_status_reads_both_xcom_shapes():
    assert watch.node_status({"status": "success", "outlet_uris": []}) == "success"
    assert watch.node_status("fail") == "fail"
    assert watch.node_status(None) is None


class _RuntimeTaskInstance:
    """The parts of the Task SDK's task instance a node task uses."""

    dag_id = "build_warehouse"
    map_index = -1

    def __init__(self, producer: str | None, xcoms: dict[str, Any], try_number: int = 1) -> None:
        self.producer = producer
        self.xcoms = xcoms
        self.try_number = try_number

    def get_task_states(self, dag_id: str, task_ids: list[str], run_ids: list[str]) -> Any:
        return {run_ids[0]: {task_ids[0]: self.producer}}

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        assert task_ids == "dbt.dbt_producer_watcher"
        return self.xcoms.get(key)


def _node_task(cls: type) -> Any:
    from observatorio.orchestration.cosmos import profile_config

    task = cls(
        task_id="stg_probe__rows_run",
        project_dir="/nonexistent",
        profile_config=profile_config(),
        extra_context={"dbt_node_config": {"unique_id": MODEL}},
    )
    task.producer_task_id = "dbt.dbt_producer_watcher"
    return task


def _run(task: Any, ti: _RuntimeTaskInstance) -> Any:
    return task.execute({"ti": ti, "run_id": "manual__1"})


def test_a_node_task_run_before_its_build_ended_reschedules_instead_of_waiting():
    """`dag.test()` calls execute() on its one loop: waiting there would block the build."""
    from airflow.sdk.exceptions import AirflowRescheduleException

    task = _node_task(watch.DbtModelWatcher)
    for producer in (None, "scheduled", "queued", "up_for_retry"):
        with pytest.raises(AirflowRescheduleException):
            _run(task, _RuntimeTaskInstance(producer, {}))


def test_a_node_task_ends_from_its_nodes_status():
    from airflow.sdk.exceptions import AirflowException, AirflowSkipException

    task = _node_task(watch.DbtModelWatcher)
    assert _run(task, _RuntimeTaskInstance("success", {STATUS_KEY: {"status": "success"}})) is None
    with pytest.raises(AirflowException, match=f"{MODEL}: error"):
        _run(task, _RuntimeTaskInstance("failed", {STATUS_KEY: {"status": "error"}}))
    with pytest.raises(AirflowSkipException):
        _run(task, _RuntimeTaskInstance("failed", {STATUS_KEY: {"status": "skipped"}}))
    with pytest.raises(AirflowSkipException, match="upstream_failed"):
        _run(task, _RuntimeTaskInstance("upstream_failed", {}))
    tests = _node_task(watch.DbtTestWatcher)
    assert _run(tests, _RuntimeTaskInstance("success", {TESTS_KEY: "pass"})) is None
    with pytest.raises(AirflowException, match="fail"):
        _run(tests, _RuntimeTaskInstance("failed", {TESTS_KEY: "fail"}))


def test_a_retry_is_cosmos_own(monkeypatch):
    """On a retry (or a retried producer's skip) Cosmos re-runs the node with dbt."""
    from cosmos.operators.watcher import DbtRunWatcherOperator

    calls = []
    monkeypatch.setattr(DbtRunWatcherOperator, "execute", lambda self, ctx: calls.append(ctx))
    task = _node_task(watch.DbtModelWatcher)
    _run(task, _RuntimeTaskInstance("success", {}, try_number=2))
    _run(task, _RuntimeTaskInstance("skipped", {}))
    assert len(calls) == 2


def test_the_trigger_ends_the_task_as_a_task_run_would(monkeypatch):
    from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

    def outcome(producer: str, xcoms: dict[str, Any], is_test_sensor: bool = False) -> Any:
        trigger = watch.DbtNodeTrigger(
            model_unique_id=MODEL,
            producer_task_id="dbt.dbt_producer_watcher",
            dag_id="build_warehouse",
            run_id="manual__1",
            is_test_sensor=is_test_sensor,
        )

        async def xcom(key: str) -> Any:
            return xcoms.get(key)

        monkeypatch.setattr(trigger, "get_xcom_val", xcom)
        return asyncio.run(trigger._outcome(producer))

    assert isinstance(outcome("success", {STATUS_KEY: {"status": "success"}}), TaskSuccessEvent)
    assert isinstance(outcome("failed", {STATUS_KEY: {"status": "error"}}), TaskFailedEvent)
    assert isinstance(outcome("upstream_failed", {}), TaskSkippedEvent)
    assert isinstance(outcome("failed", {TESTS_KEY: "fail"}, True), TaskFailedEvent)
    rerun = outcome("skipped", {})
    assert rerun.payload["reason"] == "producer_skipped"
    assert watch.DbtNodeTrigger(MODEL, "p", "d").serialize()[0] == watch.TRIGGER_PATH
