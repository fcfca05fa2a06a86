"""What Airflow's `dag.test()` does that the project works around, in the installed version.

`dag.test()` runs `make run`, `airflow dags test` and most of this suite's DAG runs. Each
test here runs a probe DAG with it, in a child process (its own dags folder, the session's
metadata database), and asserts the upstream behaviour; when one fails, upstream changed:
see the workaround or design it names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEADLINE_PROBE = '''
"""Test-only DAG for tests/dags/test_compat_dag_test.py (airflow): a deadline, one task."""
from datetime import timedelta

from airflow.sdk import dag, task

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import START_DATE


@dag(dag_id="compat_deadline_probe", schedule=None, start_date=START_DATE, catchup=False,
     deadline=deadline(timedelta(hours=1), "compat_deadline_probe"))
def compat_deadline_probe():
    @task
    def nothing() -> None:
        return None

    nothing()


compat_deadline_probe()
'''

TRIGGER_PROBE = '''
"""Test-only DAG for tests/dags/test_compat_dag_test.py (airflow): a task that starts in the
triggerer, whose trigger would end it at once."""
import os
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import BaseOperator, dag
from airflow.triggers.base import StartTriggerArgs

from observatorio.orchestration.defaults import START_DATE


class StartsInTheTriggerer(BaseOperator):
    start_from_trigger = True
    start_trigger_args = StartTriggerArgs(
        trigger_cls="airflow.providers.standard.triggers.temporal.DateTimeTrigger",
        trigger_kwargs={"moment": datetime(2000, 1, 1, tzinfo=UTC), "end_from_trigger": True},
        next_method="execute_complete",
    )

    def execute(self, context):
        Path(os.environ["PROBE_MARKER"]).write_text("execute")

    def execute_complete(self, context, event=None):
        Path(os.environ["PROBE_MARKER"]).write_text("execute_complete")


@dag(dag_id="compat_trigger_probe", schedule=None, start_date=START_DATE, catchup=False)
def compat_trigger_probe():
    StartsInTheTriggerer(task_id="starts_in_the_triggerer")


compat_trigger_probe()
'''

RUN = """
import sys
from airflow.dag_processing.dagbag import DagBag
from observatorio.orchestration import compat

folder, dag_id, fixed = sys.argv[1:4]
if fixed == "fixed":
    compat.let_dag_test_finish_runs_with_deadlines()
dag = DagBag(dag_folder=folder).dags[dag_id]
try:
    print("state", dag.test().state)
except Exception as exc:
    print("error", type(exc).__name__, str(exc).splitlines()[0][:300])
"""


def _dag_test(settings, folder: Path, dag_id: str, fixed: bool, **env: str) -> str:
    from observatorio.orchestration.airflow_env import airflow_environment

    completed = subprocess.run(
        [sys.executable, "-c", RUN, str(folder), dag_id, "fixed" if fixed else "as-is"],
        env={**airflow_environment(settings), "AIRFLOW__CORE__DAGS_FOLDER": str(folder), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout.strip().splitlines()[-1]


def _folder(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / f"{name}.py").write_text(source)
    return folder


def test_dag_test_still_crashes_on_a_deadline(airflow_db, tmp_path):
    """`compat.DAG_TEST_DEADLINES`: without it, a successful run of a DAG with a deadline
    ends in `ProgrammingError: can't adapt type 'dict'` after its last task."""
    folder = _folder(tmp_path, "compat_deadline_probe", DEADLINE_PROBE)
    assert "can't adapt type 'dict'" in _dag_test(
        airflow_db, folder, "compat_deadline_probe", fixed=False
    )
    assert _dag_test(airflow_db, folder, "compat_deadline_probe", fixed=True) == "state success"


def test_dag_test_calls_execute_of_a_task_that_starts_in_the_triggerer(airflow_db, tmp_path):
    """`observatorio.orchestration.watch`: `dag.test()` ignores `start_from_trigger` and runs
    the task's `execute()` on its own loop, which is why a dbt node task must end from there
    too, and never wait for its build in it."""
    folder = _folder(tmp_path, "compat_trigger_probe", TRIGGER_PROBE)
    marker = tmp_path / "marker"
    state = _dag_test(
        airflow_db, folder, "compat_trigger_probe", fixed=False, PROBE_MARKER=str(marker)
    )
    assert state == "state success"
    assert marker.read_text() == "execute"
