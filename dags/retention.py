"""
### Retention: delete old source files and deliveries

**When:** daily, at 03:00 UTC.

**What:** `apply_retention` deletes the files older than each area's age (settings
`OBSERVATORIO_RETAIN_<AREA>_DAYS`): `archive/` and `rejected/` (source files of finished
batches: 90 days), leftovers in `landing/` (abandoned claims, partial downloads: 7 days; a file
still waiting in an inbox is never deleted) and `outbox/` (delivered copies: 30 days). Each
deletion is recorded in `ops.retention_log` (path, size, age rule, never content). It also
makes the state folders 0700 and their files 0600. The warehouse is not touched: `raw` keeps
the pseudonymised rows, and lineage still names the file and its checksum.
`compact_lineage` folds the OpenLineage event files of finished days into one
`events-<day>.jsonl.gz` each and deletes those older than `OBSERVATORIO_RETAIN_LINEAGE_DAYS`
(365).

**When it fails:** the log names the file or setting. A bad
`OBSERVATORIO_RETAIN_<AREA>_DAYS` is a configuration error: fix it and clear the task.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="retention",
    schedule="0 3 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["privacy", "retention"],
    doc_md=__doc__,
    deadline=deadline(timedelta(hours=1), "retention"),
)
def retention() -> None:
    @task
    def apply_retention() -> dict[str, Any]:
        from observatorio.core.retention import apply_retention as run

        return run().as_json()

    @task
    def compact_lineage() -> dict[str, Any]:
        from dataclasses import asdict

        from observatorio.lineage.compaction import compact_events

        return asdict(compact_events())

    apply_retention()
    compact_lineage()


retention()
