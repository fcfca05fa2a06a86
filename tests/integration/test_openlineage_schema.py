"""Validating OpenLineage events against the spec as openlineage-python ships it.

openlineage-python ships no `OpenLineage.json` (neither its wheel nor any other package here
has it); it ships the spec compiled into Python: `openlineage.client.generated`, one attrs
class per spec object and standard facet, with the spec's types, enums and format checks
(ISO date-time, UUID). `event_errors()` structures an event, as written to a file or sent to
Marquez, into those classes with cattrs (the attrs project's converter), strictly: a string
must be a string, and the fields the spec requires but the classes default (`producer`,
`_producer`, `_schemaURL`) must be there. Facets outside the standard set are checked
against the JSON schemas their packages ship (Airflow provider, openlineage-dbt) with
jsonschema.

The tests here show the validator accepts what openlineage-python writes and rejects each
kind of broken event; `test_lineage.py` runs it on real events of a DAG run, the gate and dbt.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import attr
import pytest

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
# Fields the spec requires that the generated classes give defaults (the client fills them).
ALWAYS_REQUIRED = {"eventTime", "producer", "schemaURL", "_producer", "_schemaURL"}
# Where the Airflow provider 2.20's AirflowRunFacet.json and what it emits under Airflow 3.3
# disagree: `retry_exponential_backoff` is a float multiplier in Airflow 3.3 (the schema says
# boolean) and task instances no longer carry `pool`. Only these two are tolerated.
PROVIDER_DRIFT = {
    (("airflow", "task", "retry_exponential_backoff"), "type"),
    (("airflow", "taskInstance"), "required:pool"),
}


@cache
def _standard_facets() -> dict[str, type]:
    """The generated standard facets by their spec name, the `$defs` name that ends the
    `_schemaURL` every facet carries (`.../ParentRunFacet.json#/$defs/ParentRunFacet`)."""
    from openlineage.client import generated
    from openlineage.client.generated import base

    found = {}
    for module in pkgutil.iter_modules(generated.__path__):
        loaded = importlib.import_module(f"{generated.__name__}.{module.name}")
        for cls in vars(loaded).values():
            if isinstance(cls, type) and issubclass(cls, base.BaseFacet):
                found[cls._get_schema().rsplit("/", 1)[-1]] = cls
    return found


def _spec_name(facet: Any) -> str:
    return str(facet.get("_schemaURL", "")).rsplit("/", 1)[-1] if isinstance(facet, dict) else ""


def _exactly(accepted: tuple[type, ...]) -> Callable[[Any, type], Any]:
    """A JSON value of exactly these types (cattrs would otherwise cast, `"yes"` to True)."""

    def check(value: Any, hint: type) -> Any:
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            raise TypeError(f"expected {hint.__name__}, got {value!r}")
        return value

    return check


@cache
def _converter() -> Any:
    from cattrs import Converter
    from cattrs.errors import IterableValidationError, IterableValidationNote
    from cattrs.gen import make_dict_structure_fn
    from openlineage.client.generated import base

    # Objects and facets may carry more than the spec names: extra keys are allowed.
    converter = Converter(forbid_extra_keys=False)
    for hint, accepted in {str: (str,), int: (int,), float: (int, float), bool: (bool,)}.items():
        converter.register_structure_hook(hint, _exactly(accepted))

    def spec_object(cls: type) -> Callable[[Any, type], Any]:
        structure = make_dict_structure_fn(cls, converter)
        required = ALWAYS_REQUIRED & {field.name for field in attr.fields(cls)}

        def check(value: Any, hint: type) -> Any:
            missing = sorted(required - set(value)) if isinstance(value, dict) else []
            if missing:
                raise ValueError(f"{cls.__name__} requires {', '.join(missing)}")
            return structure(value, hint)

        return check

    converter.register_structure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, (base.BaseFacet, base.BaseEvent)),
        spec_object,
    )

    def facets(generic: type) -> Callable[[Any, type], Any]:
        def check(value: Any, _: type) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected an object of facets, got {value!r}")
            structured, errors = {}, []
            for key, facet in value.items():
                # A facet names its schema: a standard one is checked as the spec's class
                # (wherever it sits: dbt-ol puts input facets among an input's `facets`).
                cls = _standard_facets().get(_spec_name(facet), generic)
                try:
                    structured[key] = converter.structure(facet, cls)
                    if cls is generic:
                        _check_shipped_schema(key, facet)
                except Exception as exc:
                    exc.__notes__ = [
                        *getattr(exc, "__notes__", []),
                        IterableValidationNote(f"Structuring facet {key!r}", key, cls),
                    ]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(
                    f"while structuring {generic.__name__}s", errors, dict
                )
            return structured

        return check

    for generic in (
        base.RunFacet,
        base.JobFacet,
        base.DatasetFacet,
        base.InputDatasetFacet,
        base.OutputDatasetFacet,
    ):
        converter.register_structure_hook_func(
            lambda t, generic=generic: t == dict[str, generic], facets(generic)
        )
    return converter


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


@cache
def _base_facet_registry() -> Any:
    """The shipped facet schemas `$ref` the spec's base facets (`OpenLineage.json#/$defs/...`),
    which no package ships: cattrs has checked those fields already, so any object will do."""
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    bases = ("BaseFacet", "RunFacet", "JobFacet", "DatasetFacet", "InputDatasetFacet")
    stub = DRAFT202012.create_resource({"$defs": {name: {} for name in bases}})
    return Registry(retrieve=lambda uri: stub)


def _check_shipped_schema(key: str, facet: Any) -> None:
    """A facet outside the standard set against the JSON schema its package ships, if any."""
    from jsonschema import Draft202012Validator

    schema = _shipped_facet_schemas().get(key)
    if schema is None:
        return
    validator = Draft202012Validator(
        schema, registry=_base_facet_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = []
    for error in validator.iter_errors({key: facet}):
        rule = str(error.validator)
        if rule == "required":
            rule = "required:" + str(error.message).split("'")[1]
        if (tuple(error.absolute_path), rule) not in PROVIDER_DRIFT:
            errors.append(f"{'.'.join(map(str, error.absolute_path))}: {error.message}")
    if errors:
        raise ValueError("; ".join(errors))


def _describe(exc: BaseException, hint: Any) -> str:
    """cattrs' wording, with the spec check's own message (a bad UUID, a date without time)."""
    from cattrs.v import format_exception

    plain = format_exception(exc, hint)
    return plain if isinstance(exc, KeyError) else f"{plain} ({exc})"


def event_errors(event: dict[str, Any]) -> list[str]:
    """Everything in one serialised event that the OpenLineage spec does not allow."""
    from cattrs import transform_error
    from openlineage.client.generated import base

    errors: list[str] = []
    try:
        _converter().structure(event, base.RunEvent)
    except Exception as exc:
        errors += transform_error(exc, path="event", format_exception=_describe)
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
