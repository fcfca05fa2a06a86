"""OpenLineage: emission for Airflow and dbt, and the events Observatorio writes itself.

`openlineage_environment()` configures OpenLineage emission for Airflow and dbt-ol (one
namespace per environment; files under OBSERVATORIO_HOME, or HTTP to Marquez);
`emit_gate_events()` (called by the gate) sends each batch's expectations as a data-quality
facet of its `raw` table, and `emit_dbt_events()` the models, snapshots and tests of a dbt
build. `producing_run()` tells an extract manifest which run built a mart.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import warehouse_url
from observatorio.lineage.recompute import LineageError

log = logging.getLogger(__name__)

PRODUCER = "urn:observatorio:lineage"
# What the dbt nodes of the last build were, for extract manifests (`producing_run`).
DBT_RUNS_FILE = "dbt_runs.json"


def lineage_dir(settings: Settings | None = None) -> Path:
    """Where OpenLineage events are kept with the file transport."""
    return (settings or get_settings()).lineage_dir


def lineage_namespace(settings: Settings | None = None) -> str:
    """One namespace per environment: `observatorio-<OBSERVATORIO_ENVIRONMENT>` (`local`)."""
    name = (settings or get_settings()).environment
    return "observatorio-" + (re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "local")


def transport_config(settings: Settings | None = None) -> dict[str, Any]:
    """The one transport configuration: HTTP to Marquez when a URL is set, else files."""
    settings = settings or get_settings()
    if settings.openlineage_url:
        return {"type": "http", "url": settings.openlineage_url, "endpoint": "api/v1/lineage"}
    # Not appending: one file per event, `events-<timestamp>.json`.
    return {
        "type": "file",
        "log_file_path": str(lineage_dir(settings) / "events"),
        "append": False,
    }


def openlineage_environment(settings: Settings | None = None) -> dict[str, str]:
    """The AIRFLOW__OPENLINEAGE__* and OPENLINEAGE_* variables, from `transport_config`."""
    settings = settings or get_settings()
    namespace = lineage_namespace(settings)
    transport = transport_config(settings)
    if transport["type"] == "file":
        lineage_dir(settings).mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": namespace,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        # dbt-ol and any other openlineage-python client read these.
        "OPENLINEAGE_NAMESPACE": namespace,
        "OPENLINEAGE__TRANSPORT__TYPE": transport["type"],
    }
    if transport["type"] == "http":
        env["OPENLINEAGE_URL"] = transport["url"]
        env["OPENLINEAGE__TRANSPORT__URL"] = transport["url"]
        env["OPENLINEAGE__TRANSPORT__ENDPOINT"] = transport["endpoint"]
    else:
        env["OPENLINEAGE__TRANSPORT__LOG_FILE_PATH"] = transport["log_file_path"]
        env["OPENLINEAGE__TRANSPORT__APPEND"] = "false"
    return env


def openlineage_client(settings: Settings | None = None) -> Any:
    """An `OpenLineageClient` on the same transport the Airflow provider uses."""
    from openlineage.client.client import OpenLineageClient

    settings = settings or get_settings()
    transport = transport_config(settings)
    if transport["type"] == "file":
        lineage_dir(settings).mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(config={"transport": transport})


def _emit(events: Sequence[Any], settings: Settings) -> int:
    """Emit the events; a lineage backend that is down never fails the data pipeline."""
    if not events:
        return 0
    client = openlineage_client(settings)
    sent = 0
    for event in events:
        try:
            client.emit(event)
            sent += 1
        except Exception as exc:  # any transport error: log it, and stop retrying a dead backend
            log.warning(
                "OpenLineage: %d of %d events not emitted (%s): %s",
                len(events) - sent,
                len(events),
                event.job.name,
                exc,
            )
            break
    client.close(timeout=10)
    return sent


def warehouse_dataset_namespace(settings: Settings | None = None) -> str:
    """`postgres://host:port`, as openlineage-dbt and the Airflow provider name PostgreSQL."""
    from sqlalchemy.engine import make_url

    url = make_url(warehouse_url(settings or get_settings()))
    return f"postgres://{url.host or '127.0.0.1'}:{url.port or 5432}"


def warehouse_dataset_name(schema: str, table: str, settings: Settings | None = None) -> str:
    """`<database>.<schema>.<table>`, the name openlineage-dbt gives the same relation."""
    from sqlalchemy.engine import make_url

    database = make_url(warehouse_url(settings or get_settings())).database or "observatorio"
    return f"{database}.{schema}.{table}"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def gate_events(
    validated: Sequence[tuple[str, Any]], settings: Settings | None = None
) -> list[Any]:
    """A START and a COMPLETE event per validated batch: job `gate.<source>`, its input the
    batch's dataset `raw.<source>` (the batch id as the dataset version) carrying the
    expectations as a `dataQualityAssertions` facet. `validated` pairs the source name with
    the gate's outcome (`expectations.gate.GateOutcome`)."""
    from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset as dqa,
    )
    from openlineage.client.facet_v2 import dataset_version_dataset, job_type_job
    from openlineage.client.uuid import generate_new_uuid

    settings = settings or get_settings()
    namespace = lineage_namespace(settings)
    dataset_namespace = warehouse_dataset_namespace(settings)
    events: list[Any] = []
    for source, outcome in validated:
        assertions = [
            dqa.Assertion(
                assertion=result.expectation_type,
                success=bool(result.success),
                column=result.column,
                severity=result.severity,
                actual=result.observed_value,
                params=(
                    {}
                    if result.unexpected_count is None
                    else {"unexpected_count": result.unexpected_count}
                ),
            )
            for result in outcome.results
        ]
        dataset = InputDataset(
            namespace=dataset_namespace,
            name=warehouse_dataset_name("raw", source, settings),
            facets={
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=str(outcome.batch_id), producer=PRODUCER
                )
            },
            inputFacets={
                "dataQualityAssertions": dqa.DataQualityAssertionsDatasetFacet(
                    assertions=assertions, producer=PRODUCER
                )
            },
        )
        job = Job(
            namespace=namespace,
            name=f"gate.{source}",
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH",
                    integration="GREAT_EXPECTATIONS",
                    jobType="VALIDATION",
                    producer=PRODUCER,
                )
            },
        )
        run = Run(runId=str(generate_new_uuid()))
        for state in (RunState.START, RunState.COMPLETE):
            events.append(
                RunEvent(
                    eventType=state,
                    eventTime=_now(),
                    run=run,
                    job=job,
                    producer=PRODUCER,
                    inputs=[dataset],
                )
            )
    return events


def emit_gate_events(validated: Sequence[tuple[str, Any]], settings: Settings | None = None) -> int:
    """Emit `gate_events` (called by `expectations.gate.validate_batches`); how many went."""
    settings = settings or get_settings()
    try:
        return _emit(gate_events(validated, settings), settings)
    except Exception as exc:  # lineage never fails the gate
        log.warning("OpenLineage events of the gate not emitted: %s", exc)
        return 0


def _dbt_processor(settings: Settings, target_dir: Path) -> Any:
    """openlineage-dbt's artifact processor on `target_dir`, with the profile taken from the
    settings (not from a profiles.yml that may be gone, such as Cosmos's temporary one)."""
    from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor
    from sqlalchemy.engine import make_url

    url = make_url(warehouse_url(settings))
    profile = {
        "type": "postgres",
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "dbname": url.database or "observatorio",
        "schema": "public",
    }

    class Processor(DbtLocalArtifactProcessor):  # type: ignore[misc]
        def get_dbt_metadata(self) -> tuple[Any, Any, Any, Any]:
            manifest = self.load_metadata(self.manifest_path, list(range(2, 13)), self.logger)
            run_results = self.load_metadata(self.run_result_path, list(range(2, 7)), self.logger)
            try:
                catalog = self.load_metadata(self.catalog_path, [1], self.logger)
            except FileNotFoundError:
                catalog = None
            return manifest, run_results, profile, catalog

    processor = Processor(
        producer=PRODUCER,
        job_namespace=lineage_namespace(settings),
        project_dir=str(settings.dbt_project_dir),
        target_path=str(target_dir),
        skip_errors=True,
    )
    processor.should_raise_on_unsupported_command = False
    return processor


def dbt_events(settings: Settings | None = None, target_dir: Path | None = None) -> list[Any]:
    """OpenLineage events for the last dbt run/build/test/seed whose artifacts are in
    `target_dir` (default: the dbt target dir): a START and a COMPLETE (or FAIL) per model,
    snapshot and test, with their input and output tables in the warehouse namespace, wrapped
    in a START/COMPLETE (FAIL if any node failed) of the job `dbt-run-observatorio` that is
    every node's parent run."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import job_type_job
    from openlineage.client.uuid import generate_new_uuid
    from openlineage.common.provider.dbt import ParentRunMetadata

    settings = settings or get_settings()
    target = Path(target_dir or settings.dbt_target_dir)
    if not (target / "run_results.json").is_file() or not (target / "manifest.json").is_file():
        raise LineageError(f"{target}: no manifest.json and run_results.json of a dbt run")
    processor = _dbt_processor(settings, target)
    namespace = lineage_namespace(settings)
    job_name = f"dbt-run-{processor.project_name}"
    run_id = str(generate_new_uuid())
    # The wrapping run is every node's parent and the root of the tree.
    parent = ParentRunMetadata(
        run_id=run_id,
        job_name=job_name,
        job_namespace=namespace,
        root_parent_run_id=run_id,
        root_parent_job_name=job_name,
        root_parent_job_namespace=namespace,
    )
    processor.dbt_run_metadata = parent
    parsed = processor.parse()
    nodes = parsed.events()
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    started = min((r["timing"][0]["started_at"] for r in _timed(results)), default=_now())
    failed = bool(parsed.fails) or any(
        r.get("status") in {"error", "fail", "runtime error"} for r in results["results"]
    )
    job_type = job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration="DBT", jobType="JOB", producer=PRODUCER
    )
    job = Job(namespace=namespace, name=job_name, facets={"jobType": job_type})
    run = Run(runId=run_id)
    wrap_start = RunEvent(
        eventType=RunState.START, eventTime=started, run=run, job=job, producer=PRODUCER
    )
    wrap_end = RunEvent(
        eventType=RunState.FAIL if failed else RunState.COMPLETE,
        eventTime=_now(),
        run=run,
        job=job,
        producer=PRODUCER,
    )
    seeds = _seed_events(results, processor, parent, job_type)
    return [wrap_start, *nodes, *seeds, wrap_end]


def _seed_events(results: dict[str, Any], processor: Any, parent: Any, job_type: Any) -> list[Any]:
    """START and COMPLETE/FAIL per seed loaded (openlineage-dbt covers models and tests only)."""
    from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.uuid import generate_new_uuid

    events: list[Any] = []
    for result in _timed(results):
        node = processor.manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") != "seed" or result.get("status") == "skipped":
            continue
        relation = node.get("alias") or node["name"]
        output = OutputDataset(
            namespace=processor.dataset_namespace,
            name=".".join(p for p in (node.get("database"), node.get("schema"), relation) if p),
        )
        job = Job(
            namespace=parent.job_namespace,
            name=f"{node.get('database')}.{node.get('schema')}.{node['name']}.build.seed",
            facets={"jobType": job_type},
        )
        run = Run(runId=str(generate_new_uuid()), facets={"parent": parent.to_openlineage()})
        state = RunState.COMPLETE if result.get("status") == "success" else RunState.FAIL
        timing = result["timing"][-1]
        for kind, moment in (
            (RunState.START, result["timing"][0]["started_at"]),
            (state, timing.get("completed_at") or _now()),
        ):
            events.append(
                RunEvent(
                    eventType=kind,
                    eventTime=moment,
                    run=run,
                    job=job,
                    producer=PRODUCER,
                    outputs=[output],
                )
            )
    return events


def _timed(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for r in results.get("results", [])
        if r.get("timing") and r["timing"][0].get("started_at")
    ]


def emit_dbt_events(settings: Settings | None = None, target_dir: Path | str | None = None) -> int:
    """Emit `dbt_events` for the last dbt command and remember each node's run for extract
    manifests (`<lineage dir>/dbt_runs.json`). Returns how many events were emitted; a failure
    to build or send them is logged, never raised (lineage does not fail a build)."""
    settings = settings or get_settings()
    try:
        events = dbt_events(settings, None if target_dir is None else Path(target_dir))
        sent = _emit(events, settings)
        _remember_dbt_runs(events, settings)
    except Exception as exc:  # lineage never fails a build
        log.warning("OpenLineage events of the dbt run not emitted: %s", exc)
        return 0
    log.info("OpenLineage: %d dbt events emitted (namespace %s)", sent, lineage_namespace(settings))
    return sent


def emit_dbt_events_from_project(project_dir: str, **_: Any) -> int:
    """A Cosmos `callback`: emit the events of the build Cosmos ran in `project_dir`."""
    return emit_dbt_events(target_dir=Path(project_dir) / "target")


def _remember_dbt_runs(events: Sequence[Any], settings: Settings) -> None:
    """Merge this run's nodes into `dbt_runs.json`: per output relation, its latest run."""
    path = lineage_dir(settings) / DBT_RUNS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    known: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    relations: dict[str, Any] = known.get("relations", {})
    # The first and last events wrap the build: the parent run of every node.
    parent = {"run_id": events[0].run.runId, "job": events[0].job.name}
    for event in events[1:-1]:
        if event.eventType.value not in {"COMPLETE", "FAIL"}:
            continue
        for output in event.outputs or []:
            relations[output.name] = {
                "namespace": event.job.namespace,
                "job": event.job.name,
                "run_id": event.run.runId,
                "state": event.eventType.value,
                "event_time": event.eventTime,
                "dataset_namespace": output.namespace,
                "parent_run_id": parent["run_id"],
            }
    payload = {"namespace": lineage_namespace(settings), "last_run": parent, "relations": relations}
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def producing_run(
    schema: str, table: str, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The OpenLineage run (namespace, job, run id) that last built `schema.table`, if known."""
    settings = settings or get_settings()
    path = lineage_dir(settings) / DBT_RUNS_FILE
    if not path.is_file():
        return None
    relations = json.loads(path.read_text()).get("relations", {})
    found: dict[str, Any] | None = relations.get(warehouse_dataset_name(schema, table, settings))
    return found
