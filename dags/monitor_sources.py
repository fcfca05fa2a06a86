"""
### Monitor the sources: freshness and silences

**When:** daily, at 06:00 UTC, before the ministries' working day.

**What:**
1. `check_freshness` runs `dbt source freshness` on every source declared in
   `dbt_project/models/staging/*/_<source>__sources.yml` (their `freshness:` blocks say how
   late is late). Every late source (warn or error) becomes one `source_stale` alert.
2. `check_silences` looks for municipalities that sent no police report in the last complete
   month although they reported in at least 75 % of the six months before it
   (`marts.fct_crime_reports`). A silent municipality usually means a lost export, not a
   month without crime: it becomes one `source_silent` alert naming the municipality codes.

Alerts go to e-mail (`smtp_default`) and the webhook (`observatorio_webhook`), see
`observatorio/alerts.py`. The tasks succeed when they found problems (the alert is the
output); they fail only when they cannot check.

**When it fails:** the check itself broke (warehouse unreachable, marts not built yet, a
source file in the dbt project that does not parse): the log says which. For a stale source,
ask the source system for its export (the inbox is `$OBSERVATORIO_HOME/landing/<source>/`)
or look for a failed ingest DAG. For a silence, check `ops.file_receipts` for the
municipality's region and ask the police liaison before publishing the month.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, get_current_context, task

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="monitor_sources",
    schedule="0 6 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["monitoring", "freshness", "alerts"],
    doc_md=__doc__,
    deadline=deadline(timedelta(minutes=30), "monitor_sources"),
)
def monitor_sources() -> None:
    @task
    def check_freshness() -> list[list[str]]:
        from observatorio.orchestration import alerts

        stale = alerts.check_freshness()
        if stale:
            run_id = str(get_current_context()["run_id"])
            alerts.send(alerts.freshness_alert(stale, "monitor_sources", run_id))
        return [list(item) for item in stale]

    @task
    def check_silences() -> list[dict[str, Any]]:
        from dataclasses import asdict

        from observatorio.core.warehouse import connect
        from observatorio.orchestration import alerts

        with connect() as conn:
            silences = alerts.silent_municipalities(conn)
        if silences:
            run_id = str(get_current_context()["run_id"])
            alerts.send(alerts.silence_alert(silences, "monitor_sources", run_id))
        return [asdict(s) for s in silences]

    check_freshness()
    check_silences()


monitor_sources()
