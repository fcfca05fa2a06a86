"""
### Build the warehouse with dbt

**When:** as soon as any source publishes a batch. The schedule is the union of the
`raw.<source>` Assets of every contract under `ingestion/contracts/`, so a new source DAG
triggers this one without an edit here.

**What:**
1. `ensure_raw_tables` creates, empty, the `raw` table of any contract whose first batch has
   not arrived yet, so the dbt sources exist and the marts build (empty) from day one.
2. `dbt` — the dbt project rendered by astronomer-cosmos from the manifest: one task per
   seed and model, and one per model's tests, in dependency order. One `dbt build`
   (`dbt.dbt_producer_watcher`) does the work; every other task in the group watches its
   own node and turns green, red or skipped with it. Its log shows dbt's output for that node.
3. `after_build` — the task group for steps that need the freshly built marts (record linkage
   and reconciliation go here). Add tasks inside `after_build()` below; they run after
   the dbt group and before the docs, and nothing else needs to change.
4. `dbt_docs` — `dbt docs generate` (manifest, catalog, lineage graph) under
   `$OBSERVATORIO_HOME/dbt/target/`. On success the `marts` Asset is emitted, which
   schedules `deliver_extracts`.

New models appear as tasks at the next parse: the manifest snapshot is re-made with
`dbt parse` whenever a file of `dbt_project/` changes (`observatorio.orchestration.cosmos`).

**Deadline:** if a run is not finished an hour after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:** the red task names the model, seed or test. Open its log for dbt's
message (the producer's log has the whole `dbt build`). A failing test means the marts would
publish a wrong number: fix the model or the source, then clear the producer task with its
downstream tasks (the watchers re-read the new build). Nothing downstream runs on a failed
build, so ministries keep the last good extract. If the DAG shows an import error instead,
`dbt parse` failed: the error quotes dbt; fix the project file it names.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import AssetAny, dag, task, task_group

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.cosmos import dbt_task_group
from observatorio.orchestration.defaults import DEFAULT_ARGS, MARTS, START_DATE, raw_asset


def raw_assets() -> AssetAny:
    """Any `raw.<source>` Asset, one per contract file (a glob of file names, no YAML read)."""
    from ingestion.contract import available_contracts

    return AssetAny(*(raw_asset(source) for source in available_contracts()))


@dag(
    dag_id="build_warehouse",
    schedule=raw_assets(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["warehouse", "dbt"],
    doc_md=__doc__,
    deadline=deadline(timedelta(hours=1), "build_warehouse"),
)
def build_warehouse() -> None:
    @task
    def ensure_raw_tables() -> list[str]:
        from ingestion.loader import ensure_raw_tables as create_missing

        return create_missing()

    dbt = dbt_task_group("dbt")

    @task_group(group_id="after_build")
    def after_build() -> None:
        """Steps that read the fresh marts: record linkage, then the checkpoint on the marts."""

        @task
        def link_homicide_victims() -> dict[str, Any]:
            from observatorio.linkage.register import update_register

            return update_register()

        @task
        def build_reconciliation() -> None:
            from observatorio.lineage.openlineage import emit_dbt_events
            from observatorio.transform.dbt import run_dbt

            # The register changed: rebuild the reconciliation marts and what reads them.
            run_dbt(["build", "--select", "tag:victim_register+"])
            emit_dbt_events()

        @task
        def check_marts() -> None:
            from airflow.sdk.exceptions import AirflowFailException

            from expectations.marts import MartCheckFailed
            from expectations.marts import check_marts as run_checks

            try:
                run_checks()
            except MartCheckFailed as exc:
                raise AirflowFailException(str(exc)) from exc

        link_homicide_victims() >> build_reconciliation() >> check_marts()

    @task(outlets=[MARTS])
    def dbt_docs() -> None:
        from observatorio.transform.dbt import generate_docs

        generate_docs()

    hook: Any = after_build()
    docs = dbt_docs()
    ensure_raw_tables() >> dbt
    if hook.children:
        dbt >> hook >> docs
    else:
        dbt >> docs


build_warehouse()
