"""
### Victimisation survey → `raw.survey__responses`

**When:** yearly, on 1 February (the statistics office delivers the previous year's survey in
January). A late delivery is picked up by a manual run, or by the next year's run: files wait
in `$OBSERVATORIO_HOME/landing/survey/responses/` until claimed.

**What, in order:**
1. `claim_files` claims every landed `encuesta_victimizacion_*.csv` (UTF-8, `,`).
2. `stage` fingerprints the file (one file = one batch; the same content is never loaded
   twice), parses it against `ingestion/contracts/survey__responses.yaml` and COPYs it into
   `ingest`. Respondents are anonymous: there is nothing to pseudonymise.
3. `gate` runs `expectations/suites/survey__responses.py` inside PostgreSQL: unique
   respondents, one survey year, known municipalities, sex and age groups (the weighting
   strata), positive weights, "reported" answered by victims and only by them, sample size
   against earlier years. Critical failures reject the file; warnings flag it.
4. `publish` moves a passing batch into `raw.survey__responses` and emits its Asset.
5. `report` fails the run if the file was rejected.

**Deadline:** if a run is not finished 6 hours after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:** the survey is weighted, so a rejected file is never published in part.
The log names the file and each failed expectation; the file is in
`$OBSERVATORIO_HOME/rejected/survey__responses/`, `ops.batch_ledger.error` holds the reason
and `ops.quarantine` the rows that broke the contract (more than 1 % rejects the file). Ask the
statistics office for a corrected file and drop it in the landing folder, then trigger the
DAG by hand.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE, ingest_landed_files


@dag(
    dag_id="ingest_survey",
    schedule="0 6 1 2 *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["survey", "ingestion", "file-drop"],
    doc_md=__doc__,
    deadline=deadline(timedelta(hours=6), "ingest_survey"),
)
def ingest_survey() -> None:
    ingest_landed_files("survey__responses")


ingest_survey()
