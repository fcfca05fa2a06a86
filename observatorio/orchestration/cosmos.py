"""How `build_warehouse` renders the dbt project as Airflow tasks with astronomer-cosmos.

The DAG file calls `dbt_task_group()` once per part of the project it builds (a dbt
selection): Cosmos reads the dbt manifest (LoadMode.DBT_MANIFEST: no `dbt ls`, no database)
and renders one task per seed, snapshot and model, and one per model's tests. It runs in
the WATCHER execution mode: a single `dbt build` of the selection (the producer, a dbt
subprocess) does the work and every node task only reads its node's result, so the UI shows
each model and test set while the run costs about one `dbt build` per group
(`bench/cosmos_overhead.py` measures it).

The graph is the same in every process, whichever command parses the DAG file:

    upstream >> <group>.dbt_producer_watcher >> <group>.dbt_producer_watcher_done
    upstream >> <group>.build_starts >> every node task (trigger rule `one_done`),
    and dbt's lineage between the node tasks, as Cosmos draws it

`build_starts` is an empty task beside the producer, so every node task of the group
becomes ready at once, one scheduler loop after the build started, never layer by layer
(the lineage edges are drawn, not waited for). A node task then waits for the build and
ends from its node's status without a worker: in the triggerer under a scheduler, on
`dag.test()`'s loop otherwise, which reaches it only after running the producer
(`observatorio.orchestration.watch`).

The manifest is a build artefact (`observatorio.transform.manifest`, made by `make
manifest`): parsing the DAG reads it and, if the dbt project changed since, fails with an
import error that says to run `make manifest`. Parsing never starts dbt.

What Cosmos lacks a hook for is done in `observatorio.orchestration.compat`. Three Cosmos
defaults are configured, not patched: the Airflow environment (`airflow_env`, and
docker-compose.yml alike) sets `[cosmos] enable_telemetry = False` (every task run reported
outside the network), `[cosmos] enable_watcher_reliable_retry = False` (a Variable rewritten
after each XCom push, quadratic in the nodes: the backup is then written once, by the
producer's failure callback) and `[cosmos] cache_dir` under OBSERVATORIO_HOME (dbt's partial
parse cache, otherwise shared in /tmp by every home on the machine, so a cache written for
another warehouse made dbt re-parse the whole project).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from observatorio.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from cosmos import DbtTaskGroup, ProfileConfig

PROFILE_NAME = "observatorio"
TARGET_NAME = "warehouse"
# Each group's gate for its node tasks: it starts beside the producer, and them with it.
BUILD_STARTS_TASK_ID = "build_starts"
# Cosmos builds in a temporary copy of the project, deleted afterwards: the producer turns
# that build's artifacts into OpenLineage events before it goes.
LINEAGE_CALLBACK = "observatorio.lineage.openlineage.emit_dbt_events_from_project"


def _warehouse_profile_mapping() -> Any:
    """A Cosmos profile mapping built from the warehouse URL, not an Airflow connection.

    Values are read when a task runs (from `dbt_environment`, the one place that turns the
    URL into dbt settings); the password reaches dbt only as an environment variable, never
    a rendered template field.
    """
    from cosmos.profiles.postgres.user_pass import PostgresUserPasswordProfileMapping

    from observatorio.transform.dbt import dbt_environment

    class WarehouseProfileMapping(PostgresUserPasswordProfileMapping):  # type: ignore[misc]
        @property
        def profile(self) -> dict[str, Any]:
            env = dbt_environment(get_settings())
            return {
                "type": "postgres",
                "host": env["OBSERVATORIO_DBT_HOST"],
                "port": int(env["OBSERVATORIO_DBT_PORT"]),
                "user": env["OBSERVATORIO_DBT_USER"],
                "password": self.get_env_var_format("password"),
                "dbname": env["OBSERVATORIO_DBT_DBNAME"],
                "schema": "public",
                "threads": 2,
            }

        @property
        def env_vars(self) -> dict[str, str]:
            env = dbt_environment(get_settings())
            # PGOPTIONS: the session settings of dbt's connections (work_mem).
            return {
                self.get_env_var_name("password"): env["OBSERVATORIO_DBT_PASSWORD"],
                "PGOPTIONS": env["PGOPTIONS"],
            }

    return WarehouseProfileMapping(conn_id="observatorio_warehouse")


def profile_config() -> ProfileConfig:
    from cosmos import ProfileConfig

    return ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=TARGET_NAME,
        profile_mapping=_warehouse_profile_mapping(),
    )


def dbt_task_group(
    group_id: str = "dbt",
    *,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    full_refresh: bool | str = False,
    build_exclude: list[str] | None = None,
    settings: Settings | None = None,
) -> DbtTaskGroup:
    """The dbt project, or the part `select`/`exclude` name (dbt syntax), as a task group.

    `full_refresh` (a bool, or a template rendered when the producer runs) adds
    `--full-refresh` to the group's `dbt build`: incremental models are rebuilt from scratch.
    `build_exclude` (templates too) are excluded from the `dbt build` only, not from the
    graph: their node tasks end successful with nothing built (a seed unchanged since the
    last build, whose reload would only cost time).

    Call it inside a DAG context. Raises `ManifestOutOfDate` (naming `make manifest`) when
    the manifest is missing or was made before the last change to the dbt project.
    """
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ExecutionMode,
        LoadMode,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import InvocationMode
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    from observatorio.orchestration import compat, watch
    from observatorio.transform import manifest

    settings = settings or get_settings()
    manifest_file = manifest.current_path(settings)
    project = ProjectConfig(
        dbt_project_path=settings.dbt_project_dir,
        manifest_path=manifest_file,
        project_name=PROFILE_NAME,
        install_dbt_deps=False,
    )
    compat.local_manifest_path(project, manifest_file)
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=profile_config(),
        # dbt in its own process: it never waits for the XCom pushes that report its progress.
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
            setup_operator_args={"callback": LINEAGE_CALLBACK},
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=list(select or []),
            exclude=list(exclude or []),
            emit_datasets=False,
        ),
        operator_args={
            "install_deps": False,
            "poke_interval": int(watch.POLL_SECONDS),
            # dbt's target inside Cosmos's copy of the project (not the shared target dir of
            # DBT_TARGET_PATH), where Cosmos caches partial_parse.msgpack between runs.
            "env": {"DBT_TARGET_PATH": "target"},
        },
    )
    tasks = group_tasks(group)
    # A templated field of Cosmos's build operator: rendered when the producer runs.
    producer = producer_of(group)
    producer.full_refresh = full_refresh
    if build_exclude:
        # Cosmos joins the rendered list with spaces: an element rendered empty adds nothing.
        # Cosmos keeps the render exclusion as one string (its selectors joined by spaces).
        rendered = producer.exclude or []
        producer.exclude = [
            *([rendered] if isinstance(rendered, str) else rendered),
            *build_exclude,
        ]
    compat.use_project_classes(
        tasks, {DbtProducerWatcherOperator: compat.DbtBuildProducer, **watch.NODE_TASK_CLASSES}
    )
    _node_tasks_wait_for_the_build(group, tasks)
    return group


def group_tasks(group: Any) -> list[Any]:
    """Every task of a task group, nested groups included."""
    found: list[Any] = []
    for child in group.children.values():
        found.extend(group_tasks(child) if hasattr(child, "children") else [child])
    return found


def producer_of(group: Any) -> Any:
    """The task of a dbt task group that runs its `dbt build`."""
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    return next(t for t in group_tasks(group) if isinstance(t, DbtProducerWatcherOperator))


def _node_tasks_wait_for_the_build(group: Any, tasks: list[Any]) -> None:
    """`build_starts >> every node task`, each started from the triggerer.

    `build_starts` is a root of the group beside the producer: both become ready together,
    when the group's upstream tasks are done. Each node task (`one_done`) starts as soon as
    `build_starts` has ended; its other upstream tasks, dbt's lineage, are drawn, not waited
    for. A scheduler defers them straight to the triggerer (`start_from_trigger`), where
    `DbtNodeTrigger` waits for the build and ends them: their start (the triggerer loads the
    DAG for each) costs nothing on the build's path. `dag.test()` reaches them one loop after
    it ran the producer, so each ends at once from its node's result.
    """
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.triggers.base import StartTriggerArgs

    from observatorio.orchestration.watch import POLL_SECONDS, TRIGGER_PATH, DbtNodeTask

    producer = producer_of(group)
    build_starts = EmptyOperator(
        task_id=BUILD_STARTS_TASK_ID,
        dag=group.dag,
        task_group=group,
        doc_md="Starts with the group's `dbt build` (the producer, its sibling) and starts "
        "every model, seed, snapshot and tests task of the group, which waits for the build "
        "and ends with its node's result.",
    )
    nodes: list[Any] = [task for task in tasks if isinstance(task, DbtNodeTask)]
    # One call for all the edges: each call hashes the DAG per task, schedule and all.
    build_starts >> nodes
    for task in nodes:
        task.trigger_rule = "one_done"
        task.start_from_trigger = True
        task.start_trigger_args = StartTriggerArgs(
            trigger_cls=TRIGGER_PATH,
            next_method="execute_complete",
            trigger_kwargs={
                "model_unique_id": task.model_unique_id,
                "producer_task_id": producer.task_id,
                "dag_id": group.dag.dag_id,
                "poke_interval": POLL_SECONDS,
                "is_test_sensor": bool(task.is_test_sensor),
            },
        )
