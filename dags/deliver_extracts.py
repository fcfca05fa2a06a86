"""
### Deliver extracts to ministries, and the monthly bulletin

**When:** whenever the marts are rebuilt (scheduled on the `marts` Asset). Each spec carries
its own schedule (`@monthly`, `@weekly`, ...): a spec already delivered in its current window
is skipped as "not due", so rebuilding the marts twice in a month sends nothing twice.

**What:** one mapped task per spec in `extracts/*.yaml`: disclosure control on every count,
then a delivery folder under `$OBSERVATORIO_HOME/outbox/<recipient>/` (the data as CSV with a
BOM, XLSX or Parquet, a data dictionary from the dbt docs, a manifest with row counts and
SHA-256 checksums, the lineage of the batches behind the numbers), sent on the spec's channel
(outbox, SFTP or email through Airflow connections). One task builds the monthly bulletin
(HTML and PDF) under `outbox/boletin/`. Every delivery is recorded in `ops.deliveries`.

**When it fails:** the log names the spec and the error; `ops.deliveries` has a row with
`success = false`. Fix the spec, the connection or the mart and clear the task: a re-run
writes a new, complete folder and never edits a delivered one. A past month is re-delivered
with `observatorio extract NAME --period YYYY-MM`.
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
        from observatorio.delivery.specs import available_specs, load_spec

        names = available_specs()
        for name in names:
            load_spec(name)  # an invalid spec fails here, naming the file and the key
        return names

    @task(map_index_template="{{ name }}")
    def deliver(name: str) -> str:
        from observatorio.delivery.extracts import deliver_if_due

        return deliver_if_due(name)

    @task
    def bulletin() -> str:
        from observatorio.delivery.bulletin import publish_if_due

        return publish_if_due()

    deliver.expand(name=list_specs())
    bulletin()


deliver_extracts()
