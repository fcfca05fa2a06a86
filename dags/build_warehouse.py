"""
### Build the warehouse with dbt

**When:** as soon as a source publishes a batch (scheduled on the `raw.*` Assets).

**What:** `dbt_build` runs `dbt build` on `dbt_project/`: seeds (ICCS, ICD-10 groups,
geography, correspondence tables), staging views, intermediate models and the marts, with
every contract and data test. `dbt_docs` regenerates the docs site (manifest, catalog and the
lineage graph) under `$OBSERVATORIO_HOME/dbt/target/`. On success the `marts` Asset is
emitted, which schedules `deliver_extracts`.

**When it fails:** the log lists each failing model or test with dbt's message. A failing
test means the marts would publish a wrong number: fix the model or the source and clear the
task. Nothing downstream runs on a failed build, so ministries keep the last good extract.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from observatorio.orchestration import DEFAULT_ARGS, MARTS, START_DATE, raw_asset


@dag(
    dag_id="build_warehouse",
    schedule=raw_asset("police__reports"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["warehouse", "dbt"],
    doc_md=__doc__,
)
def build_warehouse() -> None:
    @task
    def dbt_build() -> None:
        from observatorio.transform import build

        build()

    @task(outlets=[MARTS])
    def dbt_docs() -> None:
        from observatorio.transform import run_dbt

        run_dbt(["docs", "generate"])

    dbt_build() >> dbt_docs()


build_warehouse()
