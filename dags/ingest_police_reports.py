"""
### Police crime reports (denuncias) → `raw.police__reports`

**When:** hourly. The police drop daily CSV exports (cp1252, `;`, dd/mm/yyyy) into
`$OBSERVATORIO_HOME/landing/police/reports/`.

**What, in order:**
1. `claim_files` atomically claims every landed `denuncias_*.csv` file.
2. `stage` fingerprints each file (one file = one batch), skips content already loaded,
   parses it against `ingestion/contracts/police__reports.yaml`, pseudonymises persons and
   COPYs rows into a per-batch table in `ingest` (bad rows into quarantine).
3. `gate` runs the Great Expectations suite `expectations/suites/police__reports.py` inside
   PostgreSQL on every staged batch. Critical failures reject a batch; warnings flag it.
4. `publish` moves each passing batch into `raw.police__reports`, one transaction per batch,
   and emits the `raw.police__reports` Asset, which schedules `build_warehouse`.
5. `report` counts loaded, skipped and rejected batches, and fails the run if any was rejected.

**Deadline:** if a run is not finished 45 minutes after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:** a red `report` means a batch was rejected (the others of the run were
published): the log names each file, the failed expectations and sample row numbers; the file is in
`$OBSERVATORIO_HOME/rejected/police__reports/`; `ops.batch_ledger.error` holds the reason and
`ops.quarantine` the bad rows. Fix the export at the source and drop it again (a corrected
file is a new batch). Nothing from a rejected batch reaches `raw`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE, ingest_landed_files


@dag(
    dag_id="ingest_police_reports",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["police", "ingestion", "file-drop"],
    doc_md=__doc__,
    deadline=deadline(timedelta(minutes=45), "ingest_police_reports"),
)
def ingest_police_reports() -> None:
    ingest_landed_files("police__reports")


ingest_police_reports()
