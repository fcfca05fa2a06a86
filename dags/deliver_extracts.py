"""
### Deliver extracts to ministries, and the monthly bulletin

**When:** whenever the marts are rebuilt (scheduled on the `marts` Asset), or by hand with a
logical date. A run delivers **one month, read from Airflow's clock, never the wall clock**:
the last month closed by the end of the run's data interval (by its `run_after` when an Asset
triggered it). A run on 2025-11-15, or one triggered with logical date 2025-11-01, delivers
2025-10. Each spec carries a schedule (`@monthly`, `@weekly`, ...): a spec that another run
already delivered for this month in the same window is skipped as "not due", so rebuilding
the marts twice in a month sends nothing twice.

**What:** one mapped task per spec in `extracts/*.yaml`: disclosure control on every count,
then the folder `$OBSERVATORIO_HOME/outbox/<recipient>/<spec>_<month>/` (the data as CSV with
a BOM, XLSX or Parquet, a data dictionary from the dbt docs, a manifest with row counts and
SHA-256 checksums, the lineage of the batches behind the numbers), sent on the spec's channel
(outbox, SFTP or email through Airflow connections). One task builds the month's bulletin
(HTML and PDF) under `outbox/boletin/`. Every attempt is a row of `ops.deliveries` with the
run id, the try number and the month.

**When it fails:** the log names the spec and the error; `ops.deliveries` has a row with
`success = false`. Fix the spec, the connection or the mart and clear the task. **Clearing a
run delivers its month again**, idempotently: the month's folder is replaced whole (the same
data files when the marts have not changed), the SFTP archive is replaced, an email is sent
again, and the audit gains one row for the new try, flagged `is_redelivery`. To deliver a past
month, trigger the DAG with the logical date of the first day of the month after it, or run
`observatorio extract NAME --period YYYY-MM`.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from observatorio.orchestration.defaults import DEFAULT_ARGS, MARTS, START_DATE


@dag(
    dag_id="deliver_extracts",
    schedule=MARTS,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["delivery", "extracts", "ministries", "bulletin"],
    doc_md=__doc__,
)
def deliver_extracts() -> None:
    @task
    def list_specs() -> list[str]:
        from observatorio.core.warehouse import ensure_warehouse
        from observatorio.delivery.specs import available_specs, load_spec

        ensure_warehouse()  # the warehouse's migrations, ops.deliveries' columns among them
        names = available_specs()
        for name in names:
            load_spec(name)  # an invalid spec fails here, naming the file and the key
        return names

    @task(map_index_template="{{ name }}")
    def deliver(name: str) -> str:
        from airflow.sdk import get_current_context

        from observatorio.delivery.extracts import deliver_for_run
        from observatorio.delivery.schedule import ScheduledRun

        return deliver_for_run(name, ScheduledRun.from_context(get_current_context()))

    @task
    def bulletin() -> str:
        from airflow.sdk import get_current_context

        from observatorio.delivery.bulletin import publish_if_due
        from observatorio.delivery.schedule import ScheduledRun

        return publish_if_due(ScheduledRun.from_context(get_current_context()))

    specs = list_specs()
    deliver.expand(name=specs)
    specs >> bulletin()


deliver_extracts()
