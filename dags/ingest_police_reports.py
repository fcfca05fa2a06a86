"""
### Police crime reports (denuncias) → `raw.police__reports`

**When:** hourly. The police drop daily CSV exports (cp1252, `;`, dd/mm/yyyy) into
`$OBSERVATORIO_HOME/landing/police/reports/`.

**What, in order:**
1. `claim_files` atomically claims every landed `denuncias_*.csv` file.
2. `stage` (one mapped task per file) fingerprints the file, skips content already loaded,
   parses it against `ingestion/contracts/police__reports.yaml`, pseudonymises persons and
   COPYs rows into a per-batch table in `ingest` (bad rows into quarantine).
3. `gate` runs the Great Expectations suite `expectations/suites/police__reports.py` inside
   PostgreSQL. Critical failures reject the batch; warnings flag it.
4. `publish` moves the batch into `raw.police__reports` in one transaction and emits the
   `raw.police__reports` Asset, which schedules `build_warehouse`.

**When it fails:** a red `gate` or `stage` means the batch was rejected: the log names
the file, the failed expectations and sample row numbers; the file is in
`$OBSERVATORIO_HOME/rejected/police__reports/`; `ops.batch_ledger.error` holds the reason and
`ops.quarantine` the bad rows. Fix the export at the source and drop it again (a corrected
file is a new batch). Nothing from a rejected batch reaches `raw`.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from observatorio.orchestration import DEFAULT_ARGS, START_DATE, raw_asset

SOURCE = "police__reports"


@dag(
    dag_id="ingest_police_reports",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["police", "ingestion", "file-drop"],
    doc_md=__doc__,
)
def ingest_police_reports() -> None:
    @task
    def claim_files() -> list[str]:
        from ingestion.tasks import claim

        return claim(SOURCE)

    @task
    def stage(path: str) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.loader import BatchRejected
        from ingestion.tasks import stage as stage_step

        try:
            return stage_step(SOURCE, path)
        except BatchRejected as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def gate(step: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.loader import BatchRejected
        from ingestion.tasks import gate as gate_step

        try:
            return gate_step(step)
        except BatchRejected as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=[raw_asset(SOURCE)])
    def publish(step: dict[str, Any]) -> dict[str, Any]:
        from ingestion.tasks import publish as publish_step

        return publish_step(step)

    publish.expand(step=gate.expand(step=stage.expand(path=claim_files())))


ingest_police_reports()
