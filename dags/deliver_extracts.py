"""
### Deliver extracts to ministries

**When:** whenever the marts are rebuilt (scheduled on the `marts` Asset).

**What:** for every spec in `extracts/*.yaml`, writes a delivery folder under
`$OBSERVATORIO_HOME/outbox/<recipient>/`: the data (CSV, UTF-8 with BOM), a data dictionary
from the dbt docs, a manifest with row counts and SHA-256 checksums, and a lineage summary
of the batches behind the numbers. Each delivery is recorded in `ops.deliveries`.

**When it fails:** the log names the spec and the error; `ops.deliveries` has a row with
`success = false`. Fix the spec (or the mart) and clear the task: a re-run writes a new,
complete folder and never edits a delivered one.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from observatorio.orchestration import DEFAULT_ARGS, MARTS, START_DATE


@dag(
    dag_id="deliver_extracts",
    schedule=MARTS,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["delivery", "extracts", "ministries"],
    doc_md=__doc__,
)
def deliver_extracts() -> None:
    @task
    def list_specs() -> list[str]:
        from observatorio.extracts import available_specs

        return available_specs()

    @task
    def deliver(name: str) -> str:
        from observatorio.extracts import deliver as deliver_spec

        return str(deliver_spec(name))

    deliver.expand(name=list_specs())


deliver_extracts()
