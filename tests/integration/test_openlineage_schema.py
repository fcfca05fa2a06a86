"""Validating OpenLineage events against the spec as openlineage-python ships it.

openlineage-python 1.54 ships no `OpenLineage.json`: not in its wheel, and it has no sdist
(the last sdist on PyPI, 1.39.0, has none either); the Airflow provider and openlineage-dbt ship
only their own facets' JSON schemas. What openlineage-python does ship is the spec compiled into
Python: `openlineage.client.generated`, one attrs class per spec object and standard facet,
with the spec's required fields, types, enums and format checks (ISO date-time, UUID, URI).
`event_errors()` walks an event, as written to a file or sent to Marquez, through those
classes; facets outside the standard set are checked against the JSON schemas their packages
ship (with jsonschema), or at least as base facets (`_producer`, `_schemaURL`).

The tests here show the validator accepts what openlineage-python writes and rejects each
kind of broken event; `test_lineage.py` runs it on real events of a DAG run, the gate and dbt.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import attr
import pytest

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
# The standard facets by key (the spec's facet files name each one's key in `properties`).
STANDARD_FACETS = {
    "run": {
        "parent": "parent_run.ParentRunFacet",
        "nominalTime": "nominal_time_run.NominalTimeRunFacet",
        "errorMessage": "error_message_run.ErrorMessageRunFacet",
        "processing_engine": "processing_engine_run.ProcessingEngineRunFacet",
        "externalQuery": "external_query_run.ExternalQueryRunFacet",
        "extractionError": "extraction_error_run.ExtractionErrorRunFacet",
        "environmentVariables": "environment_variables_run.EnvironmentVariablesRunFacet",
        "executionParameters": "execution_parameters_run.ExecutionParametersRunFacet",
        "jobDependencies": "job_dependencies_run.JobDependenciesRunFacet",
        "tags": "tags_run.TagsRunFacet",
    },
    "job": {
        "jobType": "job_type_job.JobTypeJobFacet",
        "sql": "sql_job.SQLJobFacet",
        "sourceCode": "source_code_job.SourceCodeJobFacet",
        "sourceCodeLocation": "source_code_location_job.SourceCodeLocationJobFacet",
        "documentation": "documentation_job.DocumentationJobFacet",
        "ownership": "ownership_job.OwnershipJobFacet",
        "tags": "tags_job.TagsJobFacet",
    },
    "dataset": {
        "schema": "schema_dataset.SchemaDatasetFacet",
        "dataSource": "datasource_dataset.DatasourceDatasetFacet",
        "columnLineage": "column_lineage_dataset.ColumnLineageDatasetFacet",
        "documentation": "documentation_dataset.DocumentationDatasetFacet",
        "ownership": "ownership_dataset.OwnershipDatasetFacet",
        "storage": "storage_dataset.StorageDatasetFacet",
        "symlinks": "symlinks_dataset.SymlinksDatasetFacet",
        "lifecycleStateChange": "lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet",
        "version": "dataset_version_dataset.DatasetVersionDatasetFacet",
        "datasetType": "dataset_type_dataset.DatasetTypeDatasetFacet",
        "catalog": "catalog_dataset.CatalogDatasetFacet",
        "hierarchy": "hierarchy_dataset.HierarchyDatasetFacet",
        "tags": "tags_dataset.TagsDatasetFacet",
    },
    "input": {
        "dataQualityAssertions": (
            "data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet"
        ),
        "dataQualityMetrics": (
            "data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet"
        ),
        "inputStatistics": "input_statistics_input_dataset.InputStatisticsInputDatasetFacet",
    },
    "output": {
        "outputStatistics": "output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet",
    },
}
# Fields every event and facet must carry (the spec's `required`; attrs gives them defaults).
ALWAYS_REQUIRED = {"eventTime", "producer", "schemaURL", "_producer", "_schemaURL"}
# Where the Airflow provider 2.20's AirflowRunFacet.json and what it emits under Airflow 3.3
# disagree: `retry_exponential_backoff` is a float multiplier in Airflow 3.3 (the schema says
# boolean) and task instances no longer carry `pool`. Only these two are tolerated.
PROVIDER_DRIFT = {
    (("airflow", "task", "retry_exponential_backoff"), "type"),
    (("airflow", "taskInstance"), "required:pool"),
}


def _generated(path: str) -> type:
    import importlib

    module, name = path.split(".")
    found: type = getattr(importlib.import_module(f"openlineage.client.generated.{module}"), name)
    return found


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _shipped_facet_schemas() -> dict[str, dict[str, Any]]:
    """The facet JSON schemas the Airflow provider and openlineage-dbt ship, by facet key."""
    import airflow.providers.openlineage as provider
    import openlineage.common as common

    paths = [
        *(Path(provider.__file__).parent / "facets").glob("*.json"),
        *(Path(common.__file__).parent / "schema").glob("*.json"),
        *(Path(common.__file__).parent / "provider").glob("*.json"),
    ]
    schemas: dict[str, dict[str, Any]] = {}
    for path in paths:
        schema = json.loads(path.read_text())
        for key in schema.get("properties", {}):
            schemas[key] = schema
    return schemas


def _base_facet_registry() -> Any:
    """The shipped facet schemas `$ref` the spec's BaseFacet: resolve it to the generated
    BaseFacet's required fields, the only part of the spec they use."""
    from referencing import Registry, Resource

    base = {
        "type": "object",
        "properties": {
            "_producer": {"type": "string", "format": "uri"},
            "_schemaURL": {"type": "string", "format": "uri"},
        },
        "required": sorted(ALWAYS_REQUIRED & {f.name for f in attr.fields(_base().BaseFacet)}),
    }
    envelope = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {
            name: base
            for name in ("BaseFacet", "RunFacet", "JobFacet", "DatasetFacet", "InputDatasetFacet")
        },
    }
    resources = []
    for version in ("1-0-0", "1-0-1", "1-0-2", "1-0-5", "2-0-0", "2-0-1", "2-0-2"):
        url = f"https://openlineage.io/spec/{version}/OpenLineage.json"
        resources.append((url, Resource.from_contents(envelope | {"$id": url})))
    return Registry().with_resources(resources)


def _base() -> Any:
    from openlineage.client.generated import base

    return base


def _type_errors(value: Any, hint: Any, where: str, facet_kind: str | None) -> list[str]:
    origin = typing.get_origin(hint)
    if hint is Any:
        return []
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return []
        kinds = [o for o in options if o is not type(None)]
        attempts = [_type_errors(value, o, where, facet_kind) for o in kinds]
        return [] if any(not a for a in attempts) else min(attempts, key=len)
    if hint is type(None):
        return [] if value is None else [f"{where}: expected null"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {type(value).__name__}"]
        (item,) = typing.get_args(hint)
        return [
            e for i, v in enumerate(value) for e in _type_errors(v, item, f"{where}[{i}]", None)
        ]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        _, item = typing.get_args(hint)
        errors = []
        for key, v in value.items():
            if isinstance(item, type) and issubclass(item, _base().BaseFacet):
                errors += _facet_errors(key, v, item, f"{where}.{key}")
            else:
                errors += _type_errors(v, item, f"{where}.{key}", None)
        return errors
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        return [] if value in allowed else [f"{where}: {value!r} is not one of {allowed}"]
    if isinstance(hint, type) and attr.has(hint):
        return _object_errors(value, hint, where)
    simple = {str: str, bool: bool, int: int, float: (int, float)}
    if hint in simple:
        ok = isinstance(value, simple[hint]) and not (hint is not bool and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {hint.__name__}, got {value!r}"]
    return []


def _object_errors(value: Any, cls: type, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({cls.__name__}), got {type(value).__name__}"]
    errors = []
    hints = _hints(cls)
    for field in attr.fields(cls):
        name = field.name
        if name not in value:
            required = field.default is attr.NOTHING or name in ALWAYS_REQUIRED
            if required and not (name == "producer" and "_producer" in value):
                errors.append(f"{where}: '{name}' is required ({cls.__name__})")
            continue
        found = _type_errors(value[name], hints.get(name, Any), f"{where}.{name}", None)
        if not found and field.validator is not None and value[name] is not None:
            try:
                field.validator(None, field, value[name])
            except (ValueError, TypeError) as exc:
                found = [f"{where}.{name}: {exc}"]
        errors += found
    return errors


def _facet_errors(key: str, value: Any, generic: type, where: str) -> list[str]:
    """A facet: its standard class when the key is a standard facet of this kind, else the
    JSON schema a package ships for it, else the base facet."""
    from jsonschema import Draft202012Validator

    base = _base()
    kind = {
        base.RunFacet: "run",
        base.JobFacet: "job",
        base.DatasetFacet: "dataset",
        base.InputDatasetFacet: "input",
        base.OutputDatasetFacet: "output",
    }.get(generic)
    standard = STANDARD_FACETS.get(kind or "", {}).get(key)
    if standard:
        return _object_errors(value, _generated(standard), where)
    errors = _object_errors(value, generic, where)
    schema = _shipped_facet_schemas().get(key)
    if schema and not errors:
        validator = Draft202012Validator(
            schema,
            registry=_base_facet_registry(),
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        for error in validator.iter_errors({key: value}):
            kind_ = error.validator
            if kind_ == "required":
                kind_ = "required:" + str(error.message).split("'")[1]
            if (tuple(error.absolute_path), kind_) not in PROVIDER_DRIFT:
                errors.append(f"{where}: {error.message}")
    return errors


def event_errors(event: dict[str, Any]) -> list[str]:
    """Everything in one serialised event that the OpenLineage spec does not allow."""
    base = _base()
    errors = _object_errors(event, base.RunEvent, "event")
    if not str(event.get("schemaURL", "")).startswith(SPEC):
        errors.append(f"event.schemaURL: {event.get('schemaURL')!r} is not the 2-0-2 spec")
    return errors


def read_events(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The events the file transport wrote, oldest first."""
    return [(p, json.loads(p.read_text())) for p in sorted(folder.glob("events-*.json"))]


# --- the validator itself ----------------------------------------------------------------


def _serialised() -> dict[str, Any]:
    """A full event as openlineage-python writes it: facets of every kind."""
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset,
        job_type_job,
        parent_run,
        schema_dataset,
    )
    from openlineage.client.serde import Serde
    from openlineage.client.uuid import generate_new_uuid

    run_id = str(generate_new_uuid())
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2025-10-01T12:00:00+00:00",
        producer="https://example.org/producer",
        run=Run(
            runId=run_id,
            facets={
                "parent": parent_run.ParentRunFacet(
                    run=parent_run.Run(runId=run_id),
                    job=parent_run.Job(namespace="ns", name="parent"),
                )
            },
        ),
        job=Job(
            namespace="ns",
            name="job",
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration="DBT", jobType="MODEL"
                )
            },
        ),
        inputs=[
            InputDataset(
                namespace="postgres://h:5432",
                name="db.raw.t",
                facets={
                    "schema": schema_dataset.SchemaDatasetFacet(
                        fields=[schema_dataset.SchemaDatasetFacetFields(name="id", type="text")]
                    )
                },
                inputFacets={
                    "dataQualityAssertions": (
                        data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                            assertions=[
                                data_quality_assertions_dataset.Assertion(
                                    assertion="not_null", success=True, column="id"
                                )
                            ]
                        )
                    )
                },
            )
        ],
        outputs=[OutputDataset(namespace="postgres://h:5432", name="db.marts.t")],
    )
    serialised: dict[str, Any] = json.loads(Serde.to_json(event))
    return serialised


def test_what_openlineage_python_writes_is_valid():
    event = _serialised()
    assert event_errors(event) == []
    assert event["schemaURL"].startswith(SPEC)


def _broken(change: str) -> dict[str, Any]:
    event = _serialised()
    if change == "no run id":
        del event["run"]["runId"]
    elif change == "run id not a uuid":
        event["run"]["runId"] = "run-1"
    elif change == "unknown event type":
        event["eventType"] = "DONE"
    elif change == "time without time":
        event["eventTime"] = "2025-10-01"
    elif change == "dataset without name":
        del event["outputs"][0]["name"]
    elif change == "facet without producer":
        del event["job"]["facets"]["jobType"]["_producer"]
    elif change == "assertion success not a boolean":
        facet = event["inputs"][0]["inputFacets"]["dataQualityAssertions"]
        facet["assertions"][0]["success"] = "yes"
    elif change == "schema field without type name":
        del event["inputs"][0]["facets"]["schema"]["fields"][0]["name"]
    elif change == "parent facet without job":
        del event["run"]["facets"]["parent"]["job"]
    elif change == "no job":
        del event["job"]
    elif change == "another spec":
        event["schemaURL"] = "https://example.org/OpenLineage.json#/$defs/RunEvent"
    return event


@pytest.mark.parametrize(
    "change",
    [
        "no run id",
        "run id not a uuid",
        "unknown event type",
        "time without time",
        "dataset without name",
        "facet without producer",
        "assertion success not a boolean",
        "schema field without type name",
        "parent facet without job",
        "no job",
        "another spec",
    ],
)
def test_each_kind_of_broken_event_is_rejected(change):
    assert event_errors(_broken(change)), change


def test_a_shipped_facet_schema_is_applied():
    """`airflowDagRun` is not a standard facet: the provider's own JSON schema checks it."""
    event = _serialised()
    event["run"]["facets"]["airflowDagRun"] = {
        "_producer": "https://example.org/p",
        "_schemaURL": "https://example.org/s",
        "dag": "not an object",
    }
    assert any("airflowDagRun" in e for e in event_errors(event))
