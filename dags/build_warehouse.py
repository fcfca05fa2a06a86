"""
### Build the warehouse with dbt

**When:** as soon as any source publishes a batch. The schedule is the union of the
`raw.<source>` Assets of every contract under `ingestion/contracts/`, so a new source DAG
triggers this one without an edit here.

**What:** every published table is built once per run, each by a task you can see.
0. `plan_build` compares `ops.batch_ledger` and the dbt project with what the last successful
   build saw (`ops.build_ledger`): no batch published since and no project change, and the
   run ends here, every other task skipped (no dbt, no `marts` Asset, no delivery). A changed
   project (a model, macro or seed such as a code map) builds with `--full-refresh`;
   otherwise the incremental models merge only the new batches' rows, and the seeds
   (unchanged, or the project would have changed) are not reloaded.
1. `ensure_raw_tables` creates, empty, the `raw` table of any contract whose first batch has
   not arrived yet, so the dbt sources exist and the marts build (empty) from day one.
2. `dbt` — the dbt project except what reads the homicide victim register or the survey's
   estimates (`--exclude tag:victim_register+ tag:survey_estimates+`), rendered by
   astronomer-cosmos from the dbt manifest: one task per seed, snapshot and model, one per
   model's tests, in dbt's lineage. One `dbt build` (`dbt.dbt_producer_watcher`) does the
   work; the node tasks start with it (`dbt.build_starts`), wait for it without a worker, and
   turn green, red or skipped with their node when it ends. The producer's log has dbt's
   output for the whole build.
3. Side by side: `link_homicide_victims` links the victim records the build just refreshed
   (`int_homicide_victim_records`: police, prosecution, forensic, hospital) into the register
   `ops.victim_register` with Splink; `estimate_survey` computes the survey's design-based
   estimates with their standard errors from `fct_survey_victimisation` into
   `ops.survey_estimates` (svy, Taylor linearisation).
4. `reconciliation` — the models that read the register or the estimates and everything
   downstream of them (`--select tag:victim_register+ tag:survey_estimates+`: the
   reconciliation marts, the reconciled indicators, `mart_indicators_monthly` and its
   contributions, `mart_survey_estimates`), as a second Cosmos group of the same shape, so
   they publish this run's register and estimates.
5. `check_marts` checks the published marts against each other; `dbt_docs` runs
   `dbt docs generate` (manifest, catalog, lineage graph) under
   `$OBSERVATORIO_HOME/dbt/target/` and, on success, emits the `marts` Asset, which
   schedules `deliver_extracts`. `record_build` then records the batches and project the
   build started from, the watermark the next run's `plan_build` compares with.

The tasks come from the dbt manifest, a build artefact: after changing `dbt_project/`, run
`make manifest` (docker compose: `docker compose run --rm airflow-init`) and the new models
appear as tasks at the next parse.

**Deadline:** if a run is not finished an hour after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:** the red task names the model, seed or test. Open the producer's log of
its group for dbt's message. A failing test means the marts would publish a wrong number:
fix the model or the source, then trigger a new run, which builds everything once. (A
cleared or retried producer skips its build and each node task then re-runs its node alone
with dbt: fine for one node, slow for a whole group.) Nothing downstream runs on a failed
build, so ministries keep the last good extract. If the DAG shows an import error instead,
read it: "run `make manifest`" means the dbt project changed since its manifest was made; a
dbt error from `make manifest` names the project file to fix.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.cosmos import dbt_task_group
from observatorio.orchestration.defaults import (
    DEFAULT_ARGS,
    MARTS,
    START_DATE,
    AnyAssetHashedOnce,
    raw_asset,
)

# The models that read the victim register, and everything built from them.
REGISTER_READERS = "tag:victim_register+"
# The survey's published estimates, computed between the two builds like the register.
ESTIMATE_READERS = "tag:survey_estimates+"
# Each group's `dbt build` gets `--full-refresh` when plan_build says the project changed.
FULL_REFRESH = "{{ ti.xcom_pull(task_ids='plan_build')['is_full_refresh'] }}"
# Seeds change only with the project, which makes a full refresh: other builds keep them.
SEEDS_UNLESS_FULL_REFRESH = (
    "{{ '' if ti.xcom_pull(task_ids='plan_build')['is_full_refresh'] else 'resource_type:seed' }}"
)


def raw_assets() -> AnyAssetHashedOnce:
    """Any `raw.<source>` Asset, one per contract dbt reads (the active ones, and the
    catalog's that map into a canonical interface)."""
    from ingestion.contract import modelled_contracts

    return AnyAssetHashedOnce(*(raw_asset(source) for source in modelled_contracts()))


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
    @task.short_circuit
    def plan_build() -> dict[str, Any] | None:
        import logging

        from observatorio.transform.builds import plan_build as plan

        decided = plan()
        logging.getLogger(__name__).info("build_warehouse: %s", decided.reason)
        return decided.as_json() if decided.is_needed else None

    @task
    def record_build(plan: dict[str, Any], run_id: str | None = None) -> None:
        from observatorio.transform.builds import record_build as record

        record(plan, run_id)

    @task
    def ensure_raw_tables() -> list[str]:
        from ingestion.loader import ensure_raw_tables as create_missing

        return create_missing()

    @task
    def link_homicide_victims() -> dict[str, Any]:
        from observatorio.linkage.register import update_register

        return update_register()

    @task
    def check_marts() -> None:
        from airflow.sdk.exceptions import AirflowFailException

        from expectations.marts import MartCheckFailed
        from expectations.marts import check_marts as run_checks

        try:
            run_checks()
        except MartCheckFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=[MARTS])
    def dbt_docs() -> None:
        from observatorio.transform.dbt import generate_docs

        generate_docs()

    @task
    def estimate_survey() -> dict[str, Any]:
        from observatorio.transform.survey_estimates import update_survey_estimates

        return update_survey_estimates()

    planned = plan_build()
    warehouse = dbt_task_group(
        "dbt",
        exclude=[REGISTER_READERS, ESTIMATE_READERS],
        full_refresh=FULL_REFRESH,
        build_exclude=[SEEDS_UNLESS_FULL_REFRESH],
    )
    reconciliation = dbt_task_group(
        "reconciliation", select=[REGISTER_READERS, ESTIMATE_READERS], full_refresh=FULL_REFRESH
    )
    (
        planned
        >> ensure_raw_tables()
        >> warehouse
        >> [link_homicide_victims(), estimate_survey()]
        >> reconciliation
        >> check_marts()
        >> dbt_docs()
        # TaskFlow passes the XComArg where the function declares the resolved dict.
        >> record_build(planned)  # type: ignore[arg-type]
    )


build_warehouse()
