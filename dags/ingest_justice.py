"""
### Justice system (prosecution cases, parties, hearings, judgements) → `raw.justice__*`

**When:** hourly. The justice system is an operational SQL database (PostgreSQL or
MariaDB) whose rows are updated in place and stamped with `updated_at`, never deleted.
Its connection is the Airflow connection `justice_db` (`AIRFLOW_CONN_JUSTICE_DB`) or
`OBSERVATORIO_JUSTICE_URL`.

**What, per table (`cases`, `parties`, `hearings`, `judgements`), in order:**
1. `extract_<table>` (`ingestion.connectors.sql.extract`) reads the table's watermark in
   `ops.watermarks`, re-reads a 10-minute overlap before it (late commits), streams the
   changed rows ordered by `(updated_at, id)` in server-side batches up to the end of the
   data interval, and lands them as JSON lines in
   `$OBSERVATORIO_HOME/landing/justice/<table>/justice__<table>_<from>_<to>.jsonl`.
   The file is fsynced and renamed into place before the watermark advances. Nothing new
   since the watermark: no file, watermark kept.
2. The `justice__<table>` group ingests the landed files like any file drop: claim, stage
   against `ingestion/contracts/justice__<table>.yaml` (persons pseudonymised), gate with
   `expectations/suites/justice__<table>.py`, publish to `raw.justice__<table>` (emitting
   its Asset), report.
3. `record_source_query_<table>` notes the pull's SQL on the batch's `ops.batch_ledger` row.

**Idempotent per data interval:** re-running an interval re-reads the window it read
before (the watermark remembers where the interval started); unchanged rows give a
byte-identical file, which the loader skips as already loaded. Rows re-read in the overlap
of two different pulls reach `raw` twice by design; staging keeps one per (id, updated_at).

**Deadline:** if a run is not finished 45 minutes after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:**
- red `extract_<table>`: the source database is unreachable or the connection is not set
  (the log shows the URL with its password masked, and the query); nothing was landed and
  the watermark did not move, so clearing the task re-reads the same window.
- red `justice__<table>.report`: a batch was rejected by the contract or the gate; the log
  names the file, the failed expectations and sample rows; the file is in
  `$OBSERVATORIO_HOME/rejected/justice__<table>/`, the reason in `ops.batch_ledger.error`.
  The watermark has already moved past those rows: fix the data at the source (its
  `updated_at` changes, so the next pull lands it again) or, to re-pull a window, delete the
  table's row in `ops.watermarks` (the next pull then reads everything; identical content
  already loaded is skipped).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE, ingest_landed_files

TABLES = ("cases", "parties", "hearings", "judgements")


@dag(
    dag_id="ingest_justice",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["justice", "ingestion", "sql", "incremental"],
    doc_md=__doc__,
    deadline=deadline(timedelta(minutes=45), "ingest_justice"),
)
def ingest_justice() -> None:
    @task
    def extract(source: str, data_interval_end: Any = None) -> dict[str, Any]:
        from ingestion.connectors.sql import extract as pull

        interval = data_interval_end.isoformat() if data_interval_end is not None else None
        # The source stores naive timestamps in its own clock; compare in the same terms.
        until = data_interval_end.replace(tzinfo=None) if data_interval_end is not None else None
        return pull(source, until=until, interval=interval).as_json()

    @task(trigger_rule="all_done")
    def record_source_query(pulled: dict[str, Any]) -> int:
        from ingestion.connectors.sql import record_source_queries

        return record_source_queries([pulled])

    for table in TABLES:
        source = f"justice__{table}"
        pulled = extract.override(task_id=f"extract_{table}")(source)
        reported = ingest_landed_files(source)
        # TaskFlow passes the XComArg where the function declares the resolved dict.
        noted = record_source_query.override(task_id=f"record_source_query_{table}")(
            pulled  # type: ignore[arg-type]
        )
        # The whole group (from claim_files on) waits for the pull, not only its last task.
        pulled >> reported.operator.task_group
        reported >> noted


ingest_justice()
