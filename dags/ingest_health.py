"""
### Health system (forensic deaths, injury admissions) → `raw.health__*`

**When:** daily. The health system is a REST API (`/api/v1/forensic-deaths`,
`/api/v1/hospital-admissions`; paginated, bearer token, `?updated_since=`). Its address and
credentials are the Airflow connection `health_api` (`AIRFLOW_CONN_HEALTH_API`, URI or JSON:
host and port, the token as password; login + password for basic auth; retry settings
`max_attempts`, `base_delay`, `max_delay` and `page_size` in the extra) or
`OBSERVATORIO_HEALTH_API_URL` with `OBSERVATORIO_HEALTH_API_TOKEN`.

**What, per endpoint (`forensic_deaths`, `hospital_admissions`), in order:**
1. `extract_<entity>` (`ingestion.connectors.rest.pull`) reads the endpoint's watermark in
   `ops.watermarks`, asks for every record with `actualizado_en` at or after it, page by
   page (429, 5xx and timeouts retried with exponential backoff and jitter, never sooner
   than `Retry-After`), and lands them as JSON lines in
   `$OBSERVATORIO_HOME/landing/health/<entity>/health__<entity>_<since>_<until>_<digest>.jsonl`.
   The file is fsynced and renamed into place before the watermark advances; records at
   the watermark's own instant that were already landed are not landed again. Nothing new:
   no file, watermark kept.
2. The `health__<entity>` group ingests the landed files like any file drop: claim, stage
   against `ingestion/contracts/health__<entity>.yaml` (national IDs and names
   pseudonymised, ICD-10 codes kept as written), gate with
   `expectations/suites/health__<entity>.py`, publish to `raw.health__<entity>` (emitting its
   Asset, which schedules `build_warehouse`), report.
3. `record_source_query_<entity>` notes the API request on the batch's `ops.batch_ledger` row.

**Idempotent:** a re-run asks for what changed since the watermark; a pull repeated after a
crash lands a byte-identical file under the same name, which the loader skips.

**Deadline:** if a run is not finished 2 hours after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:**
- red `extract_<entity>` failing at once, no retries: the API refused the credentials
  (401/403) or the route (404). The log names the endpoint and where the credentials came
  from (never the token). Fix the `health_api` connection and clear the task.
- red `extract_<entity>` after retries: the API kept answering 429/5xx or timing out. Nothing
  was landed and the watermark did not move: clearing the task later asks for the same window.
- red `health__<entity>.report`: a batch was rejected by the contract or the gate (say, a
  cause of death outside V01-Y98, a death date in the future, an autopsy before the death);
  the log names the file, the failed expectations and sample rows; the file is in
  `$OBSERVATORIO_HOME/rejected/health__<entity>/`, the reason in `ops.batch_ledger.error`.
  The watermark has already moved past those records: once the health system corrects them
  (their `actualizado_en` changes) the next pull lands them again; to re-pull a window,
  delete the endpoint's row in `ops.watermarks` (content already loaded is skipped).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE, ingest_landed_files

ENTITIES = ("forensic_deaths", "hospital_admissions")


@dag(
    dag_id="ingest_health",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["health", "ingestion", "rest", "incremental"],
    doc_md=__doc__,
    deadline=deadline(timedelta(hours=2), "ingest_health"),
)
def ingest_health() -> None:
    @task
    def extract(source: str) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.connectors.rest import (
            RestConfigError,
            RestRequestRejected,
            airflow_credentials,
            pull,
        )

        try:
            return pull(source, airflow_credentials("health")).as_json()
        except (RestConfigError, RestRequestRejected) as exc:
            # Retrying cannot fix a wrong token or URL: fail now, without task retries.
            raise AirflowFailException(str(exc)) from exc

    # Also after a rejected batch (its ledger row exists), but not when nothing was pulled.
    @task(trigger_rule="all_done_min_one_success")
    def record_source_query(pulled: dict[str, Any]) -> int:
        from ingestion.connectors.sql import record_source_queries

        return record_source_queries([pulled])

    for entity in ENTITIES:
        source = f"health__{entity}"
        pulled = extract.override(task_id=f"extract_{entity}")(source)
        reported = ingest_landed_files(source)
        # TaskFlow passes XComArgs where the functions declare their resolved types.
        noted = record_source_query.override(task_id=f"record_source_query_{entity}")(
            pulled  # type: ignore[arg-type]
        )
        # The whole group (from claim_files on) waits for the pull, not only its last task.
        pulled >> reported.operator.task_group
        reported >> noted


ingest_health()
