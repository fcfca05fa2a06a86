"""The workarounds of `observatorio.orchestration.compat`, each against what makes it necessary.

Every `test_cosmos_*` / `test_airflow_*` test asserts the upstream behaviour a workaround
exists for, in the installed version: when it fails, upstream changed, and the workaround
it names may go (or must change). The version test fails first on any upgrade. The other
tests check that the workarounds do what they say.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from observatorio.orchestration import compat

MODEL = "model.observatorio.stg_probe__rows"


def test_every_workaround_was_written_for_these_versions():
    for workaround in compat.WORKAROUNDS:
        installed = Version(workaround.installed())
        assert installed in SpecifierSet(workaround.written_for), (
            f"{workaround.name}: written for {workaround.distribution} "
            f"{workaround.written_for}, installed {installed}: run {workaround.test}"
        )
        assert workaround.applies()


def test_every_workaround_names_a_test_that_exists():
    root = Path(__file__).resolve().parents[2]
    for workaround in compat.WORKAROUNDS:
        path, name = workaround.test.split("::")
        assert f"def {name}(" in (root / path).read_text(), workaround.test


def test_a_workaround_outside_its_versions_is_left_out_or_refused():
    optional = dataclasses.replace(compat.STATUSES_ONLY, written_for="<0.1")
    assert not optional.applies()
    required = dataclasses.replace(compat.PROJECT_CLASSES, written_for="<0.1")
    with pytest.raises(compat.CompatError, match="widen or remove"):
        required.applies()


# ------------------------------------------------------------------ upstream, still needed


def test_cosmos_watcher_internals_are_still_private():
    """watch.py takes the watcher trigger and XCom keys from `cosmos.operators._watcher`."""
    import importlib.util

    import cosmos
    import cosmos.operators.watcher

    assert "WatcherTrigger" not in cosmos.__all__
    assert not hasattr(cosmos.operators.watcher, "WatcherTrigger")
    assert importlib.util.find_spec("cosmos.triggers") is None


def test_cosmos_still_picks_operator_classes_by_path():
    """No config takes an operator class, so rendered tasks get the project's subclasses."""
    from cosmos.airflow.graph import calculate_operator_class
    from cosmos.config import ExecutionConfig, RenderConfig
    from cosmos.constants import ExecutionMode

    assert calculate_operator_class(ExecutionMode.WATCHER, "DbtProducer") == (
        "cosmos.operators.watcher.DbtProducerWatcherOperator"
    )
    options = {f.name for c in (ExecutionConfig, RenderConfig) for f in dataclasses.fields(c)}
    # What takes classes or operators today: neither picks the watcher's classes.
    known = {"setup_operator_args", "ephemeral_models_as_empty_operator"}
    assert not {name for name in options if "class" in name or "operator" in name} - known


def _log_line(event: str, status: str, resource_type: str = "model") -> str:
    return json.dumps(
        {
            "info": {"name": event, "msg": f"{event} {MODEL}", "level": "info"},
            "data": {
                "node_info": {
                    "unique_id": MODEL,
                    "node_status": status,
                    "resource_type": resource_type,
                    "node_path": "staging/stg_probe__rows.sql",
                }
            },
        }
    )


class _TaskInstance:
    """What Cosmos's log parser uses of a task instance: XCom push and pull."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, Any, str]] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed.append((key, value, threading.current_thread().name))

    def xcom_pull(self, *args: Any, **kwargs: Any) -> Any:
        return None


def _project_with_compiled_sql(tmp_path: Path) -> Path:
    compiled = tmp_path / "target/compiled/observatorio/models/staging/stg_probe__rows.sql"
    compiled.parent.mkdir(parents=True)
    compiled.write_text("select 1 as row_id\n")
    return tmp_path


def test_cosmos_producer_still_pushes_events_and_sql_of_every_node(tmp_path):
    """The keys `DbtBuildProducer` drops: Cosmos pushes them for every node."""
    from cosmos.operators._watcher.base import store_dbt_resource_status_from_log

    ti = _TaskInstance()
    extra = {"context": {"ti": ti}, "project_dir": str(_project_with_compiled_sql(tmp_path))}
    for line in (_log_line("NodeStart", "started"), _log_line("NodeFinished", "success")):
        store_dbt_resource_status_from_log(line, extra)
    keys = [key for key, _, _ in ti.pushed]
    assert any(key.endswith("_dbt_event") for key in keys)
    assert any(key.endswith("_compiled_sql") for key in keys)


def test_cosmos_producer_still_parses_dbt_output_on_the_reading_thread(tmp_path):
    """The parse (and its XCom pushes) runs where the pipe is read: dbt waits for it."""
    from cosmos.hooks.subprocess import FullOutputSubprocessHook

    threads = []
    FullOutputSubprocessHook().run_command(
        command=["printf", "one\\ntwo\\n"],
        cwd=str(tmp_path),
        process_log_line=lambda line, extra: threads.append(threading.current_thread()),
    )
    assert threads == [threading.current_thread()] * 2


def test_cosmos_still_wraps_a_local_manifest_path(tmp_path):
    from cosmos import ProjectConfig

    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    project = ProjectConfig(manifest_path=manifest, project_name="observatorio")
    assert not isinstance(project.manifest_path, Path)
    compat.local_manifest_path(project, manifest)
    assert project.manifest_path == manifest


# ------------------------------------------------------------------ the workarounds work


def _producer() -> compat.DbtBuildProducer:
    from observatorio.orchestration.cosmos import profile_config

    return compat.DbtBuildProducer(
        task_id="dbt_producer_watcher", project_dir="/nonexistent", profile_config=profile_config()
    )


def test_the_producer_pushes_statuses_only_from_one_thread_in_order(tmp_path, monkeypatch):
    """What `DbtBuildProducer` pushes: each node's status, not its events nor its SQL; from
    its pushing thread, in dbt's order, all of it before the producer returns."""
    from cosmos.operators.local import DbtLocalBaseOperator

    ti = _TaskInstance()
    lines = [_log_line("NodeStart", "started"), _log_line("NodeFinished", "success")]
    extra = {"context": {"ti": ti}, "project_dir": str(_project_with_compiled_sql(tmp_path))}

    def dbt(self: Any, *args: Any, **kwargs: Any) -> str:  # Cosmos's subprocess, reading dbt
        for line in lines:
            self._process_log_line_callable(line, extra)
        return "done"

    monkeypatch.setattr(DbtLocalBaseOperator, "run_subprocess", dbt)
    assert _producer().run_subprocess(["dbt", "build"], {}, str(tmp_path)) == "done"
    assert [key for key, _, _ in ti.pushed] == [f"{MODEL.replace('.', '__')}_status"]
    assert ti.pushed[0][1]["status"] == "success"
    assert ti.pushed[0][2] == "dbt-xcom-pusher"


def test_a_failed_push_fails_the_producer(monkeypatch, tmp_path):
    from cosmos.operators.local import DbtLocalBaseOperator

    class Unreachable(_TaskInstance):
        def xcom_push(self, key: str, value: Any) -> None:
            raise ConnectionError("API server unreachable")

    extra = {"context": {"ti": Unreachable()}, "project_dir": None}

    def dbt(self: Any, *args: Any, **kwargs: Any) -> str:
        self._process_log_line_callable(_log_line("NodeFinished", "success"), extra)
        return "done"

    monkeypatch.setattr(DbtLocalBaseOperator, "run_subprocess", dbt)
    with pytest.raises(ConnectionError, match="unreachable"):
        _producer().run_subprocess(["dbt", "build"], {}, str(tmp_path))


def test_project_classes_keep_what_cosmos_built():
    from cosmos.operators.watcher import DbtRunWatcherOperator

    from observatorio.orchestration.cosmos import profile_config
    from observatorio.orchestration.watch import NODE_TASK_CLASSES, DbtModelWatcher

    task = DbtRunWatcherOperator(
        task_id="m",
        project_dir="/nonexistent",
        profile_config=profile_config(),
        extra_context={"dbt_node_config": {"unique_id": MODEL}},
    )
    assert compat.use_project_classes([task], NODE_TASK_CLASSES) == 1
    assert type(task) is DbtModelWatcher
    assert task.model_unique_id == MODEL and task.task_id == "m"

    class WithItsOwnInit(DbtRunWatcherOperator):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)

    with pytest.raises(compat.CompatError, match="without an __init__"):
        compat.use_project_classes([], {DbtRunWatcherOperator: WithItsOwnInit})
