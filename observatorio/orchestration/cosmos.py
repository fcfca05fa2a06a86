"""How `build_warehouse` renders the dbt project as Airflow tasks with astronomer-cosmos.

The DAG file calls `dbt_task_group()`: Cosmos reads the dbt manifest (LoadMode.DBT_MANIFEST,
no `dbt ls`, no database) and renders one task per seed, snapshot and model, and one per
model's tests. The run uses the WATCHER execution mode: a single `dbt build` (the producer,
in a dbt subprocess) does the work and every per-node task only reads its node's result from
XCom, so the UI shows each model and test set while the run costs about one `dbt build`
(`bench/cosmos_overhead.py` measures it).

`ensure_manifest()` keeps a snapshot of the manifest under the dbt target dir
(`$OBSERVATORIO_HOME/dbt/target/cosmos/manifest.json`). It is re-made with `dbt parse` only
when a file of `dbt_project/` is newer than the snapshot, so a new model is picked up at the
next DAG parse without editing any code, and an unchanged project costs a directory walk.
A snapshot, not `target/manifest.json` itself, because every `dbt build` and `dbt docs
generate` rewrites that file and a DAG processor must never read it half-written.

Run `python -m observatorio.orchestration.cosmos` to refresh the snapshot by hand (CI, images).
"""

from __future__ import annotations

import fcntl
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from observatorio.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from cosmos import DbtTaskGroup, ProfileConfig

PROFILE_NAME = "observatorio"
TARGET_NAME = "warehouse"
# What a project change can touch; target/ and logs/ inside the project are dbt output.
PROJECT_PARTS = ("models", "seeds", "macros", "snapshots", "tests", "analyses")
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml")
# A node task only watches the producer's `dbt build`; re-checking XCom every second keeps
# the tail of a run short without load worth mentioning.
WATCH_INTERVAL_SECONDS = 1
# How the dbt node tasks run: "1" in process after the build (what `dag.test()` needs: it
# has no triggerer and runs one task at a time), "0" in the triggerer (a deployment). Unset:
# the triggerer when this process is one of a deployment's Airflow components (the DAG
# processor parses what the scheduler acts on; workers run the producer), in process
# otherwise (`make run`, the tests, `airflow dags test`), so a DAG run in this process never
# waits for a triggerer it does not have.
INLINE_RUN_ENV = "OBSERVATORIO_INLINE_RUN"
AIRFLOW_COMPONENTS = frozenset({"dag-processor", "scheduler", "celery", "triggerer"})


def runs_inline() -> bool:
    """Whether the dbt node tasks of DAGs parsed (or producers run) now run in process."""
    chosen = os.environ.get(INLINE_RUN_ENV)
    if chosen in ("0", "1"):
        return chosen == "1"
    return not AIRFLOW_COMPONENTS & set(sys.argv[1:3])


@contextmanager
def inline_run() -> Iterator[None]:
    """Parse and run DAGs for `dag.test()` inside this block (see `INLINE_RUN_ENV`)."""
    before = os.environ.get(INLINE_RUN_ENV)
    os.environ[INLINE_RUN_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(INLINE_RUN_ENV, None)
        else:
            os.environ[INLINE_RUN_ENV] = before


class ManifestError(RuntimeError):
    """`dbt parse` failed, so the dbt project cannot be rendered; the message is dbt's."""


def manifest_path(settings: Settings | None = None) -> Path:
    """The manifest snapshot Cosmos renders `build_warehouse` from."""
    settings = settings or get_settings()
    return settings.dbt_target_dir / "cosmos" / "manifest.json"


def _project_paths(settings: Settings) -> Iterator[Path]:
    root = settings.dbt_project_dir
    for name in PROJECT_FILES:
        path = root / name
        if path.exists():
            yield path
    for part in PROJECT_PARTS:
        folder = root / part
        if not folder.is_dir():
            continue
        # Directories too: deleting or renaming a model only changes its folder's mtime.
        yield folder
        for dirpath, dirnames, filenames in os.walk(folder):
            base = Path(dirpath)
            for name in dirnames:
                yield base / name
            for name in filenames:
                yield base / name


def project_mtime(settings: Settings | None = None) -> float:
    """The newest modification time of any file or folder of the dbt project."""
    settings = settings or get_settings()
    return max((p.stat().st_mtime for p in _project_paths(settings)), default=0.0)


def manifest_is_stale(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    path = manifest_path(settings)
    if not path.is_file():
        return True
    return path.stat().st_mtime < project_mtime(settings)


@contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    # The DAG processor, workers and tests may all find the snapshot stale at once.
    lock_path = settings.dbt_target_dir / ".cosmos-manifest.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def refresh_manifest(settings: Settings | None = None) -> Path:
    """`dbt parse` into the target dir, then snapshot the manifest.

    dbt is invoked directly, not through `transform.run_dbt`, which first creates the raw
    tables: parsing needs no database, and the DAG processor must not touch one. Meant to run
    in its own process (`ensure_manifest` starts one): it sets dbt's variables in os.environ.
    """
    from dbt.cli.main import dbtRunner

    from observatorio.transform.dbt import dbt_environment

    settings = settings or get_settings()
    os.environ.update(dbt_environment(settings))
    project = str(settings.dbt_project_dir)
    result = dbtRunner().invoke(["parse", "--project-dir", project, "--profiles-dir", project])
    if not result.success:
        raise ManifestError(f"dbt parse of {project} failed: {result.exception}")
    snapshot = manifest_path(settings)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    partial = snapshot.with_suffix(".json.tmp")
    shutil.copyfile(settings.dbt_target_dir / "manifest.json", partial)
    os.replace(partial, snapshot)  # atomic: readers see the old or the new file, never half
    return snapshot


def ensure_manifest(settings: Settings | None = None, force: bool = False) -> Path:
    """Return the manifest snapshot, re-making it first if the dbt project changed.

    The parse runs in a child process so the DAG processor never imports dbt; it takes a
    few seconds, once per project change.
    """
    settings = settings or get_settings()
    if not force and not manifest_is_stale(settings):
        return manifest_path(settings)
    with _lock(settings):
        if force or manifest_is_stale(settings):
            env = {**os.environ, "OBSERVATORIO_HOME": str(settings.home)}
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "observatorio.orchestration.cosmos",
                    str(settings.project_dir),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode != 0:
                detail = (completed.stderr or completed.stdout).strip().splitlines()[-20:]
                raise ManifestError(
                    f"dbt parse of {settings.dbt_project_dir} failed; build_warehouse cannot "
                    "render until the project parses:\n" + "\n".join(detail)
                )
    return manifest_path(settings)


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
            password = dbt_environment(get_settings())["OBSERVATORIO_DBT_PASSWORD"]
            return {self.get_env_var_name("password"): password}

    return WarehouseProfileMapping(conn_id="observatorio_warehouse")


def profile_config() -> ProfileConfig:
    from cosmos import ProfileConfig

    return ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=TARGET_NAME,
        profile_mapping=_warehouse_profile_mapping(),
    )


def dbt_task_group(group_id: str = "dbt", settings: Settings | None = None) -> DbtTaskGroup:
    """The whole dbt project as a Cosmos task group (call inside a DAG context)."""
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ExecutionMode,
        LoadMode,
        ProjectConfig,
        RenderConfig,
    )
    from cosmos.constants import InvocationMode

    settings = settings or get_settings()
    manifest = ensure_manifest(settings)
    _quiet_and_lean_cosmos()
    _only_what_the_node_tasks_read()
    _pushes_off_the_build_path()
    project = ProjectConfig(
        dbt_project_path=settings.dbt_project_dir,
        manifest_path=manifest,
        project_name=PROFILE_NAME,
        install_dbt_deps=False,
    )
    # ProjectConfig wraps the path in an ObjectStoragePath, whose reads go through Airflow's
    # hook-lineage collector: importing that costs ~0.7 s per parse of a local file.
    project.manifest_path = manifest
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=profile_config(),
        # dbt in its own process: it never waits for the XCom pushes that report its progress.
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, emit_datasets=False),
        operator_args={
            "install_deps": False,
            "poke_interval": WATCH_INTERVAL_SECONDS,
            # dbt's target inside Cosmos's copy of the project (not the shared target dir of
            # DBT_TARGET_PATH), where Cosmos caches partial_parse.msgpack between runs.
            "env": {"DBT_TARGET_PATH": "target"},
        },
    )
    _emit_dbt_lineage(group)
    if runs_inline():
        _watch_after_the_build(group)
    else:
        _watch_from_the_triggerer(group)
    _lean_watchers(group, settings)
    return group


def _quiet_and_lean_cosmos() -> None:
    """Two Cosmos defaults this project turns off, unless the deployment set them itself.

    - Telemetry: Cosmos reports every task run to an outside endpoint. Observatorio sends
      nothing out of its network, and offline each attempt costs a failed request per task.
    - "Reliable retry": the producer rewrites one Airflow Variable holding every XCom pushed
      so far after each push, quadratic in the number of dbt nodes (about 240 here); it made
      the build several times slower than a plain `dbt build`. With it off the backup is
      written once, by the producer's failure callback, which is when a retry needs it.

    Cosmos reads both when a task runs, and the worker parses this module before running
    one, so setting them here takes effect. `[cosmos] enable_telemetry` and
    `[cosmos] enable_watcher_reliable_retry` (AIRFLOW__COSMOS__...) still win when set.
    """
    from cosmos import settings as cosmos_settings

    if "AIRFLOW__COSMOS__ENABLE_TELEMETRY" not in os.environ:
        cosmos_settings.enable_telemetry = False
    if "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY" not in os.environ:
        cosmos_settings.enable_watcher_reliable_retry = False


_INTERMEDIATE_NODE_EVENTS = frozenset({"NodeStart", "NodeCompiling", "NodeExecuting"})


def _only_what_the_node_tasks_read() -> None:
    """Have the producer push to XCom only what the node tasks of this run will read.

    Besides each node's status, Cosmos pushes each node's start, compile, execute and finish
    event and each model's compiled SQL. Node tasks run by `dag.test()` read the finish event
    (to log it) and the SQL (for the rendered-template view), so the three intermediate events
    are skipped. Node tasks ended by the triggerer never run on a worker and read neither:
    there only the statuses are pushed. Each push is a round trip to the API server while dbt
    runs; on a 400-node project they are most of the producer's traffic.
    """
    from cosmos.operators._watcher import base

    original = base._process_dbt_log_event
    if getattr(original, "observatorio_lean", False):
        return
    original_sql = base.store_compiled_sql_for_model

    def node_event(task_instance: Any, dbt_log: dict[str, Any]) -> None:
        if not runs_inline():
            return
        if (dbt_log.get("info") or {}).get("name") in _INTERMEDIATE_NODE_EVENTS:
            return
        original(task_instance, dbt_log)

    def compiled_sql(*args: Any, **kwargs: Any) -> None:
        if runs_inline():
            original_sql(*args, **kwargs)

    node_event.observatorio_lean = True  # type: ignore[attr-defined]
    base._process_dbt_log_event = node_event
    base.store_compiled_sql_for_model = compiled_sql


def _pushes_off_the_build_path() -> None:
    """Have the producer push node statuses to XCom from a thread, so dbt never waits for it.

    The producer reads dbt's JSON log from a pipe and, per line, pushes what the node tasks
    read (statuses, test results, compiled SQL) to XCom: under a scheduler each push is a
    round trip to the API server. Done on the reading thread, a slow push leaves the pipe
    full and dbt blocked on its next log line; on 31 days of the small country the build took
    63 s under the scheduler against 39.5 s alone. Lines now go through a queue to one pushing
    thread (the Task SDK's channel to the supervisor takes a lock per message), which the
    producer drains, in order, before it returns; an error there fails the producer as it did.
    """
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    operator: Any = DbtProducerWatcherOperator
    if getattr(operator.run_subprocess, "observatorio_queued", False):
        return
    make_parse = operator._make_parse_callable
    run_subprocess = operator.run_subprocess

    def queued_parse(self: Any) -> Any:
        parse = make_parse(self)
        lines: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        errors: list[BaseException] = []

        def push() -> None:
            while (item := lines.get()) is not None:
                if not errors:
                    try:
                        parse(*item)
                    except BaseException as exc:  # re-raised by the producer's thread
                        errors.append(exc)

        pusher = threading.Thread(target=push, name="dbt-xcom-pusher", daemon=True)
        pusher.start()
        self._observatorio_pusher = (lines, pusher, errors)
        return lambda line, extra: lines.put((line, extra))

    def drained_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return run_subprocess(self, *args, **kwargs)
        finally:
            lines, pusher, errors = self.__dict__.pop("_observatorio_pusher", (None, None, []))
            if lines is not None:
                lines.put(None)
                pusher.join()
            if errors:
                raise errors[0]

    drained_run.observatorio_queued = True  # type: ignore[attr-defined]
    operator._make_parse_callable = queued_parse
    operator.run_subprocess = drained_run


# The key `airflow.providers.openlineage.api.emission_policy.extend_global_openlineage_emission_
# policy()` stores its flags under; importing that API costs ~1.4 s per DAG parse (it loads
# the OpenLineage listener), so the flag is set directly, as that function would.
_OPENLINEAGE_POLICY_PARAM = "_openlineage_emission_policy"


def _lean_watchers(group: DbtTaskGroup, settings: Settings) -> None:
    """Two per-run costs of the group that `bench/cosmos_overhead.py` found, removed.

    - OpenLineage: every watcher task emitted a START and a COMPLETE event, about half of a
      watcher's run time, with no dataset in them (the producer's own events and dbt's
      manifest carry the lineage). Watchers emit no task events; the producer still does.
    - Partial parsing: Cosmos keeps dbt's `partial_parse.msgpack` between runs in a cache
      folder, `/tmp/cosmos/<dag>__<group>` by default, shared by every Observatorio home on
      the machine. A cache written against another warehouse (another port) makes dbt
      re-parse the whole project ("profile has changed"), several seconds per build. The
      producer caches under this home instead (`$OBSERVATORIO_HOME/cosmos/`).
    """
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    prefix = f"{group.group_id}."
    for task in group.dag.tasks:
        if not task.task_id.startswith(prefix):
            continue
        if isinstance(task, DbtProducerWatcherOperator):
            if getattr(task, "cache_dir", None) is not None:
                task.cache_dir = settings.home / "cosmos" / Path(task.cache_dir).name
        else:
            task.params[_OPENLINEAGE_POLICY_PARAM] = {"emit_task_events": False}


def _group_tasks(group: DbtTaskGroup) -> tuple[list[Any], Any]:
    """The group's tasks and, among them, the producer that runs the `dbt build`."""
    from cosmos.operators.watcher import DbtProducerWatcherOperator

    prefix = f"{group.group_id}."
    tasks = [t for t in group.dag.tasks if t.task_id.startswith(prefix)]
    return tasks, next(t for t in tasks if isinstance(t, DbtProducerWatcherOperator))


def _emit_dbt_lineage(group: DbtTaskGroup) -> None:
    """Cosmos builds in a temporary copy of the project, deleted afterwards: the producer
    turns that build's artifacts into OpenLineage events before it goes."""
    _, producer = _group_tasks(group)
    producer.callback = "observatorio.lineage.openlineage.emit_dbt_events_from_project"


def _watch_from_the_triggerer(group: DbtTaskGroup) -> None:
    """Under a scheduler: every watcher starts in the triggerer, at once, and ends there.

    Each keeps Cosmos's edges (the graph view is dbt's lineage) but runs whatever its
    upstream tasks did (`always`): its own node's status, read from the producer once the
    build is over, decides it, and dbt itself skips a node whose upstream failed. So no
    watcher waits for a scheduler loop per layer of the lineage, nor for a worker. See
    `observatorio.orchestration.watch`.
    """
    from airflow.triggers.base import StartTriggerArgs

    from observatorio.orchestration.watch import POLL_SECONDS, TRIGGER_PATH

    tasks, producer = _group_tasks(group)
    for task in tasks:
        if task is producer or not hasattr(task, "model_unique_id"):
            continue
        task.trigger_rule = "always"
        task.start_from_trigger = True
        task.start_trigger_args = StartTriggerArgs(
            trigger_cls=TRIGGER_PATH,
            next_method="execute_complete",
            trigger_kwargs={
                "model_unique_id": task.model_unique_id,
                "producer_task_id": producer.task_id,
                "dag_id": group.dag.dag_id,
                "poke_interval": POLL_SECONDS,
                "is_test_sensor": bool(getattr(task, "is_test_sensor", False)),
            },
        )


def _watch_after_the_build(group: DbtTaskGroup) -> None:
    """In a run by `dag.test()`: the producer upstream of the root watchers, which run after.

    Cosmos starts a task group's root watchers at once, to follow the build live. But
    `dag.test()` (`make run`, the tests) runs one task at a time, in no set order: a watcher
    picked before the producer would wait for it forever. Waiting for the producer (success
    or failure: `all_done`) costs the live view, not the per-node results, and frees the
    worker slots the watchers would hold during the build. Each watcher then finds its node's
    status at once; a node the build failed turns its task red.
    """
    tasks, producer = _group_tasks(group)
    gates = {producer.task_id, *producer.downstream_task_ids}
    ids = {t.task_id for t in tasks}
    for task in tasks:
        if task.task_id in gates or set(task.upstream_task_ids) & ids:
            continue
        producer >> task
        task.trigger_rule = "all_done"


if __name__ == "__main__":
    from dataclasses import replace

    # The checkout to parse (default: this one), so tests can parse a copy of the project.
    project = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    refresh_manifest(replace(get_settings(), project_dir=project) if project else None)
