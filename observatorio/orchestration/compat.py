"""Every workaround for a version of Airflow or Cosmos, in one place.

Each is declared as a `Workaround`: the distribution and the versions it was written for,
why it exists, and the test that fails once the upstream behaviour it works around is gone
(`tests/unit/test_compat.py`, `tests/dags/test_compat_dag_test.py`). Within its versions a
workaround applies; outside them an optional one (speed only) is left out with a warning, and
a required one raises `CompatError`. `test_every_workaround_was_written_for_these_versions`
fails first on any upgrade: re-run the upstream tests, then widen or delete.

Nothing here acts on import, and nothing is patched while a DAG file is parsed. The Cosmos
task groups call `use_project_classes` and `local_manifest_path` on the tasks they build;
the one patch, `let_dag_test_finish_runs_with_deadlines`, is installed by the runner behind
`make run` before `dag.test()`, and at task execution by `defaults.prepare_a_dag_test` (the
`pre_execute` of every task) in a process that runs `dag.test()` (`airflow dags test`, the
tests).

The private Cosmos names the watchers need are imported here and only here.
"""

from __future__ import annotations

import importlib.metadata
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import (
    get_status_xcom_key,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)
from cosmos.operators._watcher.triggerer import WatcherEventReason, WatcherTrigger
from cosmos.operators.watcher import DbtProducerWatcherOperator
from packaging.specifiers import SpecifierSet
from packaging.version import Version

log = logging.getLogger(__name__)

__all__ = [
    "DbtBuildProducer",
    "WatcherEventReason",
    "WatcherTrigger",
    "get_status_xcom_key",
    "get_tests_status_xcom_key",
    "is_dbt_node_status_skipped",
    "is_dbt_node_status_success",
    "let_dag_test_finish_runs_with_deadlines",
    "local_manifest_path",
    "use_project_classes",
]


class CompatError(RuntimeError):
    """A required workaround meets a library version it was not written for."""


@dataclass(frozen=True)
class Workaround:
    name: str
    distribution: str
    written_for: str  # a version specifier, e.g. "~=1.15.1"
    required: bool
    test: str  # the test that fails once upstream no longer needs this

    def installed(self) -> str:
        return importlib.metadata.version(self.distribution)

    def applies(self) -> bool:
        """Whether to apply it: always within its versions, else raise or leave it out."""
        installed = self.installed()
        if Version(installed) in SpecifierSet(self.written_for):
            return True
        message = (
            f"{self.name}: written for {self.distribution} {self.written_for}, installed "
            f"{installed}; run {self.test} and widen or remove it in {__name__}"
        )
        if self.required:
            raise CompatError(message)
        if self.name not in _WARNED:
            _WARNED.add(self.name)
            log.warning("left out: %s", message)
        return False


_WARNED: set[str] = set()
_UNIT = "tests/unit/test_compat.py"

WATCHER_INTERNALS = Workaround(
    "the watcher trigger and XCom keys are private Cosmos names (cosmos.operators._watcher)",
    "astronomer-cosmos",
    "~=1.15.1",
    required=True,
    test=f"{_UNIT}::test_cosmos_watcher_internals_are_still_private",
)
PROJECT_CLASSES = Workaround(
    "Cosmos builds its tasks from class paths it computes, with no option for a subclass",
    "astronomer-cosmos",
    "~=1.15.1",
    required=True,
    test=f"{_UNIT}::test_cosmos_still_picks_operator_classes_by_path",
)
STATUSES_ONLY = Workaround(
    "the producer pushes every node's dbt events and compiled SQL, which no node task reads",
    "astronomer-cosmos",
    "~=1.15.1",
    required=False,
    test=f"{_UNIT}::test_cosmos_producer_still_pushes_events_and_sql_of_every_node",
)
PUSHES_OFF_THE_READ_LOOP = Workaround(
    "the producer pushes XComs on the thread that reads dbt's output",
    "astronomer-cosmos",
    "~=1.15.1",
    required=False,
    test=f"{_UNIT}::test_cosmos_producer_still_parses_dbt_output_on_the_reading_thread",
)
LOCAL_MANIFEST = Workaround(
    "ProjectConfig turns a local manifest path into an ObjectStoragePath (0.7 s per parse)",
    "astronomer-cosmos",
    "~=1.15.1",
    required=False,
    test=f"{_UNIT}::test_cosmos_still_wraps_a_local_manifest_path",
)
DAG_TEST_DEADLINES = Workaround(
    "dag.test() crashes at the end of a successful run of a DAG with a DeadlineAlert",
    "apache-airflow",
    "~=3.3.2",
    required=False,
    test="tests/dags/test_compat_dag_test.py::test_dag_test_still_crashes_on_a_deadline",
)
WORKAROUNDS = (
    WATCHER_INTERNALS,
    PROJECT_CLASSES,
    STATUSES_ONLY,
    PUSHES_OFF_THE_READ_LOOP,
    LOCAL_MANIFEST,
    DAG_TEST_DEADLINES,
)


# ------------------------------------------------------------------------- Cosmos: classes


def use_project_classes(tasks: Iterable[Any], classes: dict[type, type]) -> int:
    """Give each rendered task whose class is a key of `classes` the subclass it maps to.

    Cosmos instantiates `cosmos.operators.watcher.<name>` from a path it computes
    (`cosmos.airflow.graph.calculate_operator_class`); neither the task group nor its
    configs take a class. The subclasses change methods only, never what `__init__` set,
    so the task Cosmos built is a valid instance of the subclass. Returns how many changed.
    """
    PROJECT_CLASSES.applies()
    WATCHER_INTERNALS.applies()  # the project classes use them
    for base, subclass in classes.items():
        # Airflow's operator metaclass gives every subclass an `__init__` wrapping the one it
        # inherits; anything else is an `__init__` of the subclass's own.
        own = vars(subclass).get("__init__")
        inherited = next(vars(k)["__init__"] for k in base.__mro__ if "__init__" in vars(k))
        if base not in subclass.__mro__ or (
            own is not None and getattr(own, "__wrapped__", None) is not inherited
        ):
            raise CompatError(
                f"{subclass.__qualname__} must subclass {base.__qualname__} "
                "without an __init__ of its own"
            )
    changed = 0
    for task in tasks:
        if (project_class := classes.get(type(task))) is not None:
            task.__class__ = project_class
            changed += 1
    return changed


def local_manifest_path(project: Any, path: Path) -> None:
    """Keep a local manifest a plain `Path` in a Cosmos `ProjectConfig`.

    ProjectConfig wraps any manifest path in an ObjectStoragePath, whose reads go through
    Airflow's hook-lineage collector: importing it costs about 0.7 s per DAG parse.
    """
    if LOCAL_MANIFEST.applies():
        project.manifest_path = path


# ------------------------------------------------------------------------ Cosmos: producer

# XCom keys a node task never reads (their values: every event of a node, its SQL).
_UNREAD_KEY_SUFFIXES = ("_dbt_event", "_compiled_sql")


class _StatusesOnly:
    """The producer's task instance, as Cosmos's log parser sees it: pushes of the keys
    no node task reads are dropped; everything else reaches the real task instance."""

    def __init__(self, task_instance: Any) -> None:
        self._task_instance = task_instance

    def xcom_push(self, key: str, value: Any, **kwargs: Any) -> None:
        if not key.endswith(_UNREAD_KEY_SUFFIXES):
            self._task_instance.xcom_push(key=key, value=value, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task_instance, name)


class DbtBuildProducer(DbtProducerWatcherOperator):  # type: ignore[misc]
    """Cosmos's producer (the one `dbt build`), pushing less and off dbt's way.

    - Statuses only: Cosmos pushes each node's start, compile, execute and finish events and
      each model's compiled SQL besides its status. Node tasks read the statuses (and the
      tests' aggregate) only; each push is a round trip to the API server while dbt runs,
      most of the producer's traffic on a 400-node project.
    - Off the read loop: the producer reads dbt's JSON log from a pipe and pushes per line.
      Done on the reading thread, a slow push leaves the pipe full and dbt blocked on its
      next log line (31 days of the small country: 63 s under the scheduler, 39.5 s alone).
      Lines go through a queue to one pushing thread (the Task SDK's channel takes a lock
      per message anyway), drained in order before the producer returns; an error there
      fails the producer as it did.
    """

    def _make_parse_callable(self) -> Callable[[str, Any], None]:
        parse: Callable[[str, Any], None] = super()._make_parse_callable()
        if STATUSES_ONLY.applies():
            parse = _statuses_only(parse)
        if PUSHES_OFF_THE_READ_LOOP.applies():
            parse = self._queued(parse)
        return parse

    def _queued(self, parse: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
        lines: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        errors: list[BaseException] = []

        def push() -> None:
            while (item := lines.get()) is not None:
                if not errors:
                    try:
                        parse(*item)
                    except BaseException as exc:  # re-raised on the producer's thread
                        errors.append(exc)

        pusher = threading.Thread(target=push, name="dbt-xcom-pusher", daemon=True)
        pusher.start()
        self._observatorio_pusher = (lines, pusher, errors)
        return lambda line, extra: lines.put((line, extra))

    def run_subprocess(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().run_subprocess(*args, **kwargs)
        finally:
            lines, pusher, errors = self.__dict__.pop("_observatorio_pusher", (None, None, []))
            if lines is not None:
                lines.put(None)
                pusher.join()
            if errors:
                raise errors[0]


def _statuses_only(parse: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    def statuses_only(line: str, extra: Any) -> None:
        lean = dict(extra or {})
        lean["project_dir"] = None  # no compiled SQL read from disk
        context = lean.get("context")
        if context is not None and context.get("ti") is not None:
            lean["context"] = {**context, "ti": _StatusesOnly(context["ti"])}
        parse(line, lean)

    return statuses_only


# ------------------------------------------------------------------------ Airflow: dag.test


def let_dag_test_finish_runs_with_deadlines() -> None:
    """Airflow 3.3.2: `dag.test()` crashes after the last task of a DAG with a deadline.

    `dag.test()` builds its scheduler-side DAG by serialising the DAG in memory, so that DAG's
    `deadline` holds the encoded alert definitions, not the ids of their `deadline_alert` rows
    (which only `SerializedDagModel.write_dag` assigns). When the run succeeds,
    `DagRun.update_state` looks every entry up by id to prune the run's deadlines, and the
    driver cannot bind a dict: `ProgrammingError: can't adapt type 'dict'`. The scheduler reads
    the stored DAG and is fine. Here a definition passed instead of an id becomes the
    (unsaved) model it describes, which is all the caller reads; real ids go to Airflow's
    lookup unchanged. `dag.test()` runs are never queued, so they have no deadline to miss.

    Called by the runner before `dag.test()` and by `defaults.prepare_a_dag_test` when a task
    runs in the `dag.test()` process; idempotent.
    """
    if not DAG_TEST_DEADLINES.applies():
        return
    from airflow.models.deadline_alert import DeadlineAlert

    if getattr(DeadlineAlert.get_by_id, "observatorio_accepts_definitions", False):
        return
    by_id = DeadlineAlert.get_by_id

    def get_by_id(cls: Any, deadline_alert_id: Any, /, **kwargs: Any) -> Any:
        if isinstance(deadline_alert_id, dict):
            data = deadline_alert_id.get("__var", deadline_alert_id)
            return cls(
                name=data.get("name"),
                reference=data.get("reference"),
                interval=data.get("interval"),
                callback_def=data.get("callback"),
            )
        return by_id(deadline_alert_id, **kwargs)

    get_by_id.observatorio_accepts_definitions = True  # type: ignore[attr-defined]
    DeadlineAlert.get_by_id = classmethod(get_by_id)  # type: ignore[method-assign, assignment]
