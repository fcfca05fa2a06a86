"""
### Police detentions, complaints, use of force → `raw.police__{detentions,complaints,use_of_force}`

**When:** daily, at 06:00 UTC. The police drop one CSV per day and entity (cp1252, `;`,
dd/mm/yyyy; a header-only file on quiet days) into
`$OBSERVATORIO_HOME/landing/police/{detentions,complaints,use_of_force}/`.

**What, in order,** one task group per entity, independent of each other:
1. `claim_files` atomically claims every landed file of the entity
   (`detenciones_*.csv`, `quejas_*.csv`, `uso_fuerza_*.csv`).
2. `stage` fingerprints each file (one file = one batch), skips content already loaded
   (re-sent `_reenvio` copies), parses it against `ingestion/contracts/police__<entity>.yaml`,
   pseudonymises the detained person's national ID and name, and COPYs rows into `ingest`
   (bad rows into quarantine).
3. `gate` runs `expectations/suites/police__<entity>.py` inside PostgreSQL on every staged
   batch: keys, future dates, ages 0-110, hours held ≥ 0, codes, cross-field rules, volume
   against recent batches. Critical failures reject a batch; warnings flag it.
4. `publish` moves each passing batch into `raw.police__<entity>`, one transaction per
   batch, and emits that table's Asset.
5. `report` counts loaded, skipped and rejected batches, and fails if any was rejected.

**Deadline:** if a run is not finished 2 hours after it was queued, on-call gets a
`deadline missed` alert (e-mail and webhook); the run itself goes on.

**When it fails:** a red `report` names the group (entity) whose batch was rejected; the
other entities and the other files of the run were published. The log names each file, the
failed expectations and sample row numbers; the file is in
`$OBSERVATORIO_HOME/rejected/police__<entity>/`, `ops.batch_ledger.error` holds the reason and
`ops.quarantine` the bad rows. Fix the export at the source and drop it again (a corrected
file is a new batch). Nothing from a rejected batch reaches `raw`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE, ingest_landed_files


@dag(
    dag_id="ingest_police_detentions",
    schedule="0 6 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["police", "ingestion", "file-drop"],
    doc_md=__doc__,
    deadline=deadline(timedelta(hours=2), "ingest_police_detentions"),
)
def ingest_police_detentions() -> None:
    ingest_landed_files("police__detentions")
    ingest_landed_files("police__complaints")
    ingest_landed_files("police__use_of_force")


ingest_police_detentions()
