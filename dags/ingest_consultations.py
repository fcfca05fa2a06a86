"""
### Citizen consultations → `raw.consultations__consultations`

**When:** on arrival. The participation platform publishes its JSON export
(`consultas*.json`) whenever a consultation round closes, at no fixed time, into
`$OBSERVATORIO_HOME/landing/consultations/consultations/`. The DAG polls that folder every
10 minutes: a run that finds nothing claims nothing and ends green in seconds, so the poll
is cheap, and a new export is in `raw` within about 10 minutes of landing.

**What, in order:**
1. `claim_files` claims every landed export.
2. `stage` fingerprints it (one file = one batch; an identical re-export is skipped), reads
   the records at `consultas` against `ingestion/contracts/consultations__consultations.yaml`
   (each consultation's ranked `prioridades` kept as one JSON array) and COPYs them into
   `ingest`.
3. `gate` runs `expectations/suites/consultations__consultations.py` inside PostgreSQL:
   unique consultations, known municipalities, no future dates, and on the nested
   priorities: a non-empty array, ranks 1..n, a known code type, votes within participants.
4. `publish` moves a passing batch into `raw.consultations__consultations` and emits its
   Asset. Every export repeats the whole history; dbt keeps each consultation's latest
   version.
5. `report` fails the run if the export was rejected.

**Deadline:** if a run is not finished 30 minutes after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:** the log names the export and each failed expectation; the file is in
`$OBSERVATORIO_HOME/rejected/consultations__consultations/` and `ops.batch_ledger.error`
holds the reason. The previous export stays the current one. Ask the platform for a corrected
export and drop it again.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE, ingest_landed_files


@dag(
    dag_id="ingest_consultations",
    # On arrival: poll the landing folder every 10 minutes (see "When" above).
    schedule="*/10 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["consultations", "ingestion", "file-drop"],
    doc_md=__doc__,
    deadline=deadline(timedelta(minutes=30), "ingest_consultations"),
)
def ingest_consultations() -> None:
    ingest_landed_files("consultations__consultations")


ingest_consultations()
