"""Every DAG file imports cleanly, quickly, and carries what an on-call engineer needs.

The checks run over every DAG in `dags/`, so a new source DAG is held to them without
editing this file. `build_warehouse` is also checked against the dbt manifest and the
contracts, so a new model or source shows up in it without editing the DAG.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
EXPECTED = {"ingest_police_reports", "build_warehouse", "deliver_extracts", "monitor_sources"}
PARSE_BUDGET_SECONDS = 2.0
DAG_FILES = sorted(p.stem for p in DAGS_DIR.glob("*.py"))


@pytest.fixture(scope="module")
def manifest(settings):
    """The manifest snapshot, made before timing: a deploy makes it once per project change."""
    from observatorio.orchestration.cosmos import ensure_manifest

    return json.loads(ensure_manifest(settings).read_text())


@pytest.fixture(scope="module")
def bag(manifest):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors_and_every_dag_present(bag):
    assert bag.import_errors == {}
    assert set(bag.dags) >= EXPECTED


def test_one_dag_per_file_named_like_the_file(bag):
    for dag_id, dag in bag.dags.items():
        assert Path(dag.fileloc).stem == dag_id
    assert set(bag.dags) == set(DAG_FILES)


@pytest.mark.parametrize("dag_id", DAG_FILES)
def test_dag_has_docs_tags_owner_retries_and_backoff(bag, dag_id):
    dag = bag.dags[dag_id]
    assert dag.doc_md and "When it fails" in dag.doc_md, f"{dag_id}: doc_md needs 'When it fails'"
    assert "**What" in dag.doc_md and "**When" in dag.doc_md
    assert dag.tags, f"{dag_id}: no tags"
    assert dag.max_active_runs == 1, f"{dag_id}: max_active_runs {dag.max_active_runs}"
    assert dag.start_date is not None and dag.start_date.tzinfo is not None
    assert dag.catchup is False or dag_id.startswith("ingest_")
    for task in dag.tasks:
        where = f"{dag_id}.{task.task_id}"
        assert task.owner and task.owner != "airflow", f"{where}: no owner"
        assert task.retries >= 2, f"{where}: retries {task.retries}"
        assert task.retry_exponential_backoff, f"{where}: no exponential backoff"
        assert task.max_retry_delay is not None, f"{where}: backoff without a ceiling"
        assert task.on_failure_callback, f"{where}: no failure alert"


def test_every_task_alerts_through_the_project_callback(bag):
    from observatorio.orchestration.alerts import on_task_failure

    for dag in bag.dags.values():
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert on_task_failure in callbacks, f"{dag.dag_id}.{task.task_id}"


def test_parsing_the_whole_dagbag_is_fast_and_needs_no_database(manifest, settings, tmp_path):
    """Timed in a fresh interpreter (Airflow imported first, as in the DAG processor).

    The metadata database and the warehouse are pointed at a closed port: a DAG file that
    touches either at import time fails here instead of slowing every parse.
    """
    from observatorio.orchestration.airflow_env import airflow_environment

    script = (
        "import time, json\n"
        "import airflow.sdk\n"
        # Others edit dbt_project/ meanwhile: refresh first, so only the parse is timed.
        "from observatorio.orchestration.cosmos import ensure_manifest\n"
        "ensure_manifest()\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "started = time.perf_counter()\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR)!r})\n"
        "seconds = time.perf_counter() - started\n"
        "print(json.dumps({'seconds': seconds, 'dags': sorted(bag.dags),"
        " 'errors': {k: v[-300:] for k, v in bag.import_errors.items()}}))\n"
    )
    env = {
        **airflow_environment(settings),
        "PATH": "/usr/bin:/bin",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://nobody@127.0.0.1:9/none",
        "OBSERVATORIO_WAREHOUSE_URL": "postgresql://nobody@127.0.0.1:9/none",
    }
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert set(result["dags"]) >= EXPECTED
    assert result["seconds"] <= PARSE_BUDGET_SECONDS, f"DagBag parse took {result['seconds']:.2f} s"
    print(f"DagBag parse: {result['seconds']:.2f} s for {len(result['dags'])} DAGs")


def test_build_warehouse_is_scheduled_on_every_raw_asset(bag):
    from ingestion.contract import available_contracts

    dag = bag.dags["build_warehouse"]
    uris = {asset.uri for asset in dag.timetable.asset_condition.objects}
    expected = {f"observatorio://warehouse/raw/{name}" for name in available_contracts()}
    assert uris == expected


def test_build_warehouse_renders_every_dbt_node_as_a_task(bag, manifest):
    dag = bag.dags["build_warehouse"]
    task_ids = set(dag.task_ids)
    ours = {
        node["name"]: node["resource_type"]
        for node in manifest["nodes"].values()
        if node["package_name"] == "observatorio"
    }
    models = [name for name, kind in ours.items() if kind == "model"]
    seeds = [name for name, kind in ours.items() if kind == "seed"]
    assert models and seeds
    for name in models:
        assert {f"dbt.{name}_run", f"dbt.{name}.run"} & task_ids, f"no task for model {name}"
    for name in seeds:
        assert f"dbt.{name}.seed" in task_ids, f"no task for seed {name}"
    tested = {
        parent.split(".")[-1]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        for parent in node["depends_on"]["nodes"]
        if parent.startswith(("model.observatorio.", "seed.observatorio."))
    }
    for name in tested:
        assert f"dbt.{name}.test" in task_ids, f"the tests of {name} have no task"


def test_build_warehouse_runs_one_build_then_the_hook_then_docs(bag):
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    dag = bag.dags["build_warehouse"]
    producers = [t for t in dag.tasks if isinstance(t, DbtProducerWatcherOperator)]
    assert [t.task_id for t in producers] == ["dbt.dbt_producer_watcher"]
    assert "after_build" in dag.task_group.children
    docs = dag.get_task("dbt_docs")
    assert [o.uri for o in docs.outlets] == ["observatorio://warehouse/marts"]
    upstream = docs.get_flat_relative_ids(upstream=True)
    assert "dbt.dbt_producer_watcher" in upstream
    dbt_tasks = {t for t in dag.task_ids if t.startswith("dbt.")}
    assert dbt_tasks <= upstream, "dbt_docs must wait for every dbt task"


def test_monitor_sources_is_daily_with_a_deadline(bag):
    dag = bag.dags["monitor_sources"]
    assert dag.schedule == "0 6 * * *"
    assert {"check_freshness", "check_silences"} <= set(dag.task_ids)
    assert dag.deadline and dag.deadline[0].callback.path.endswith("alerts.deadline_missed")


def test_dbt_watchers_emit_no_openlineage_and_the_producer_caches_in_the_home(bag, settings):
    """The two fixes that brought the Cosmos overhead down (bench/cosmos_overhead.py)."""
    from airflow.providers.openlineage.utils.emission_policy import (
        resolve_task_emission_policy,
    )

    dag = bag.dags["build_warehouse"]
    producer = dag.get_task("dbt.dbt_producer_watcher")
    assert Path(producer.cache_dir).is_relative_to(settings.home)
    watchers = [t for t in dag.tasks if t.task_id.startswith("dbt.") and t is not producer]
    assert watchers

    def emits(task):  # type: ignore[no-untyped-def]
        return resolve_task_emission_policy(
            operator=task, dag_id=dag.dag_id, task_id=task.task_id
        ).emit

    assert emits(producer)
    assert not any(emits(t) for t in watchers if t.task_id != "dbt.dbt_producer_watcher_done")


def _node_tasks(dag):  # type: ignore[no-untyped-def]
    producer = dag.get_task("dbt.dbt_producer_watcher")
    return producer, [t for t in dag.tasks if hasattr(t, "model_unique_id") and t is not producer]


def _parse_build_warehouse(monkeypatch, inline: str | None, argv: list[str] | None = None):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    from observatorio.orchestration.cosmos import INLINE_RUN_ENV

    if inline is None:
        monkeypatch.delenv(INLINE_RUN_ENV, raising=False)
    else:
        monkeypatch.setenv(INLINE_RUN_ENV, inline)
    if argv is not None:
        monkeypatch.setattr(sys, "argv", argv)
    return DagBag(dag_folder=str(DAGS_DIR / "build_warehouse.py")).dags["build_warehouse"]


def test_under_a_scheduler_dbt_node_tasks_start_and_end_in_the_triggerer(manifest, monkeypatch):
    """The scheduler shape: no node task waits for a worker or for its upstream tasks."""
    from observatorio.orchestration.watch import TRIGGER_PATH

    # What the DAG processor of a deployment parses.
    dag = _parse_build_warehouse(monkeypatch, None, ["airflow", "dag-processor"])
    producer, nodes = _node_tasks(dag)
    assert len(nodes) > 100
    for task in nodes:
        assert task.start_from_trigger, task.task_id
        args = task.start_trigger_args
        assert args.trigger_cls == TRIGGER_PATH and args.next_method == "execute_complete"
        assert args.trigger_kwargs["model_unique_id"] == task.model_unique_id
        assert args.trigger_kwargs["producer_task_id"] == producer.task_id
        assert str(task.trigger_rule) == "always", task.task_id
    # dbt's lineage stays the graph: a model's tests hang under the model's task.
    assert any(t.upstream_task_ids & {n.task_id for n in nodes} for t in nodes)
    assert not producer.downstream_task_ids & {n.task_id for n in nodes}


@pytest.mark.parametrize(
    ("inline", "argv"),
    [("1", None), (None, None), (None, ["airflow", "dags", "test", "build_warehouse"])],
    ids=["inline_run", "this-process", "airflow-dags-test"],
)
def test_under_dag_test_dbt_node_tasks_run_after_the_build(manifest, monkeypatch, inline, argv):
    """`dag.test()` has no triggerer and runs one task at a time: the build goes first.

    It is the shape of any parse outside a deployment's Airflow components, so a run in
    process (pytest, `make run`, `airflow dags test`) never waits for a triggerer.
    """
    dag = _parse_build_warehouse(monkeypatch, inline, argv)
    producer, nodes = _node_tasks(dag)
    roots = [t for t in nodes if not t.upstream_task_ids - {producer.task_id}]
    assert roots and all(producer.task_id in t.upstream_task_ids for t in roots)
    assert all(str(t.trigger_rule) == "all_done" for t in roots)
    downstream = set(producer.get_flat_relative_ids(upstream=False))
    assert {t.task_id for t in nodes} <= downstream


@pytest.mark.parametrize(
    "dag_id", [d for d in DAG_FILES if d.startswith("ingest_")] + ["build_warehouse"]
)
def test_ingest_and_build_runs_have_a_deadline_that_alerts(bag, dag_id):
    from datetime import timedelta

    dag = bag.dags[dag_id]
    assert dag.deadline, f"{dag_id}: no DeadlineAlert"
    (alert,) = dag.deadline
    assert alert.callback.path == "observatorio.orchestration.alerts.deadline_missed"
    assert alert.callback.kwargs == {"dag_id": dag_id}
    assert timedelta(minutes=10) <= alert.interval <= timedelta(hours=6)
    assert "**Deadline:**" in dag.doc_md


def test_a_new_model_becomes_a_task_without_editing_code(settings, tmp_path):
    """On a copy of the dbt project (others edit the real one meanwhile)."""
    import shutil
    from dataclasses import replace

    from airflow.sdk import DAG

    from observatorio.orchestration.cosmos import dbt_task_group, ensure_manifest, manifest_path
    from observatorio.orchestration.defaults import START_DATE

    shutil.copytree(
        settings.dbt_project_dir,
        tmp_path / "dbt_project",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    copy = replace(settings, project_dir=tmp_path, home=tmp_path / "home")
    ensure_manifest(copy)
    before = manifest_path(copy).stat().st_mtime_ns
    started = time.perf_counter()
    ensure_manifest(copy)  # unchanged project: a directory walk, no dbt
    assert time.perf_counter() - started < 0.2
    assert manifest_path(copy).stat().st_mtime_ns == before

    (tmp_path / "dbt_project" / "models" / "staging" / "stg_probe__rows.sql").write_text(
        "select 1 as row_id\n"
    )
    with DAG("probe", schedule=None, start_date=START_DATE):
        group = dbt_task_group("dbt", settings=copy)
    assert (
        "model.observatorio.stg_probe__rows" in json.loads(manifest_path(copy).read_text())["nodes"]
    )
    assert {"dbt.stg_probe__rows_run", "dbt.stg_probe__rows.run"} & set(group.dag.task_ids)
