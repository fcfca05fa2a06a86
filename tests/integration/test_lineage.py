"""Lineage on a tiny simulated country, ingested and built for real.

Every published indicator cell expands into the fact rows behind it (`explain`), those rows
recompute the cell exactly, every batch they name is in the ledger with its file checksum,
and an Airflow DAG run emits OpenLineage events that validate against the schemas.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion import tasks
from ingestion.contract import available_contracts, load_contract
from ingestion.landing import inbox
from observatorio import lineage
from observatorio.run import Demo, land_exports, simulate
from observatorio.transform import run_dbt

DEMO = Demo(seed=3, scale="tiny", days=60)
# One non-zero indicator of each family model (int_indicators__<family>).
FAMILIES = {
    "int_indicators__police": ["homicide_rate_police", "intrafamily_violence_reports"],
    "int_indicators__police_operations": ["detentions_rate", "use_of_force_incidents"],
    "int_indicators__health": ["homicide_count_health", "undetermined_intent_share"],
}


def _ingest(name: str) -> None:
    tasks.report(tasks.publish(tasks.gate(tasks.stage(name, tasks.claim(name)))))


@pytest.fixture(scope="module")
def built(settings, warehouse_url):  # type: ignore[no-untyped-def]
    import psycopg

    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    simulation = simulate(settings, DEMO)
    land_exports(settings, simulation)
    # Forensic deaths come from the health REST API; land them as the connector does (JSON
    # lines in the inbox) so the health family has rows too.
    deaths = json.loads((simulation / "exports/health/forensic_deaths.json").read_text())
    box = inbox("health__forensic_deaths", settings)
    box.mkdir(parents=True, exist_ok=True)
    (box / "health__forensic_deaths_lineage.jsonl").write_text(
        "".join(json.dumps(record) + "\n" for record in deaths), encoding="utf-8"
    )
    for name in available_contracts():
        if load_contract(name).export_path:
            _ingest(name)
    _ingest("health__forensic_deaths")
    # Only what the indicators need; tests that also read unselected models are left out.
    select = "ref_indicators +mart_indicators_monthly +fct_indicator_contributions"
    run_dbt(["build", "--select", select, "--indirect-selection", "cautious"], settings)
    return settings


def test_contributions_sum_to_every_published_numerator(built, db):  # type: ignore[no-untyped-def]
    cells, mismatched, counted = db.execute(
        "with contributions as ("
        "  select indicator_code, municipality_code, month, sex, age_group,"
        "  sum(weight) as counted from marts.fct_indicator_contributions group by 1, 2, 3, 4, 5)"
        " select count(*), count(*) filter (where mart.numerator <> coalesce(c.counted, 0)),"
        " sum(coalesce(c.counted, 0))"
        " from marts.mart_indicators_monthly as mart"
        " left join contributions as c using (indicator_code, municipality_code, month, sex,"
        " age_group)"
    ).fetchone()
    assert cells > 1000 and mismatched == 0 and counted > 0
    orphans = db.execute(
        "select count(*) from marts.fct_indicator_contributions as c"
        " left join marts.mart_indicators_monthly as mart"
        " using (indicator_code, municipality_code, month, sex, age_group)"
        " where mart.indicator_code is null"
    ).fetchone()[0]
    assert orphans == 0


def test_verify_random_recomputes_twenty_cells_exactly(built):  # type: ignore[no-untyped-def]
    results = lineage.verify_random(20, seed=9)
    assert len(results) == 20
    assert len({(r.indicator_code, r.municipality_code, r.month) for r in results}) == 20
    assert all(r.numerator > 0 and r.rows > 0 for r in results)
    assert [r for r in results if not r.matches] == []


def test_a_tampered_cell_does_not_recompute(built, warehouse_url):  # type: ignore[no-untyped-def]
    import psycopg

    # One transaction, rolled back: the published numerator is off by one, explain's rows
    # are not, so the cell no longer recomputes.
    with psycopg.connect(warehouse_url) as conn:
        code, municipality, month = conn.execute(
            "select indicator_code, municipality_code, month from marts.mart_indicators_monthly"
            " where indicator_code = 'homicide_rate_police' and numerator > 0"
            " order by municipality_code, month limit 1"
        ).fetchone()
        conn.execute(
            "update marts.mart_indicators_monthly set numerator = numerator + 1"
            " where indicator_code = %s and municipality_code = %s and month = %s",
            (code, municipality, month),
        )
        found = lineage.explain(code, municipality, month, settings=built, conn=conn)
        conn.rollback()
    assert found.recomputed_numerator == found.numerator - 1


def test_every_batch_id_leads_to_a_ledger_entry_with_the_file_checksum(built, db):  # type: ignore[no-untyped-def]
    rows = db.execute(
        "select c.batch_id, c.file_sha256, l.batch_id, l.file_sha256, l.status, l.source_file"
        " from (select distinct batch_id, file_sha256 from marts.fct_indicator_contributions"
        " where batch_id is not null)"
        " as c left join ops.batch_ledger as l on c.batch_id = l.batch_id"
    ).fetchall()
    assert len(rows) > 5
    for batch_id, sha, ledger_id, ledger_sha, status, source_file in rows:
        assert ledger_id == batch_id, f"batch {batch_id} is not in ops.batch_ledger"
        assert re.fullmatch(r"[0-9a-f]{64}", ledger_sha or ""), batch_id
        assert sha == ledger_sha and status == "loaded" and source_file
    summary = lineage.explain_lineage_summary([r[0] for r in rows], settings=built)
    assert len(summary) == len(rows) and all(s["expectations"] > 0 for s in summary)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_explain_lists_rows_batches_checks_and_models_for_each_family(built, db, family):  # type: ignore[no-untyped-def]
    for code in FAMILIES[family]:
        cell = db.execute(
            "select municipality_code, month from marts.mart_indicators_monthly"
            " where indicator_code = %s and numerator > 0"
            " order by numerator desc, municipality_code, month limit 1",
            (code,),
        ).fetchone()
        assert cell, f"{code}: no non-zero cell in the tiny country"
        found = lineage.explain(code, *cell, settings=built)
        assert found.rows and found.batches and found.validations
        assert found.recomputed_numerator == found.numerator
        assert found.recomputed_value == found.value
        assert found.formula and found.numerator_definition
        assert {r.batch_id for r in found.rows} == {b.batch_id for b in found.batches}
        assert all(b.file_sha256 and b.source_file for b in found.batches)
        assert all(r.attributes for r in found.rows)
        nodes = [m.unique_id.rsplit(".", 1)[-1] for m in found.models]
        assert nodes[0] == lineage.MART and family in nodes
        assert {r.fact_model for r in found.rows} <= set(nodes)
        assert any(m.resource_type == "source" for m in found.models)
        # The SQL function BI calls returns the same rows.
        sql_rows = db.execute(
            "select fact_model, fact_key, batch_id, source_row"
            " from marts.explain_indicator(%s, %s, %s)",
            (code, *cell),
        ).fetchall()
        assert sql_rows == [
            (r.fact_model, r.fact_key, r.batch_id, r.source_row) for r in found.rows
        ]


def test_cli_random_verify_prints_five_of_five(built):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from observatorio.cli import app

    result = CliRunner().invoke(app, ["explain", "--random", "5", "--verify", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "5/5 recomputed exactly" in result.output
    bad = CliRunner().invoke(app, ["explain", "mart_x", "homicide_rate_police", "01001"])
    assert bad.exit_code == 2


def test_cli_explains_one_cell(built, db):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from observatorio.cli import app

    municipality, month = db.execute(
        "select municipality_code, month from marts.mart_indicators_monthly"
        " where indicator_code = 'homicide_rate_police' and numerator > 0 limit 1"
    ).fetchone()
    result = CliRunner().invoke(
        app, ["explain", lineage.MART, "homicide_rate_police", municipality, month]
    )
    assert result.exit_code == 0, result.output
    for heading in ("Fact rows counted", "Batches and files", "Validation results", "dbt models"):
        assert heading in result.output


# --- OpenLineage -------------------------------------------------------------------------

CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
# The run-event envelope of the OpenLineage 2-0-2 spec (openlineage-python 1.54 ships only
# the facet schemas, not the core OpenLineage.json): every field the spec requires.
FACET = {
    "type": "object",
    "properties": {
        "_producer": {"type": "string", "format": "uri"},
        "_schemaURL": {"type": "string", "format": "uri"},
    },
    "required": ["_producer", "_schemaURL"],
}
CORE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": CORE,
    "$defs": {
        "BaseFacet": FACET,
        "RunFacet": {"$ref": "#/$defs/BaseFacet"},
        "JobFacet": {"$ref": "#/$defs/BaseFacet"},
        "DatasetFacet": {"$ref": "#/$defs/BaseFacet"},
        "Dataset": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/$defs/DatasetFacet"},
                },
            },
            "required": ["namespace", "name"],
        },
        "RunEvent": {
            "type": "object",
            "properties": {
                "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
                "eventTime": {"type": "string", "format": "date-time"},
                "producer": {"type": "string", "format": "uri"},
                "schemaURL": {"type": "string", "format": "uri"},
                "run": {
                    "type": "object",
                    "properties": {
                        "runId": {"type": "string", "format": "uuid"},
                        "facets": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/$defs/RunFacet"},
                        },
                    },
                    "required": ["runId"],
                },
                "job": {
                    "type": "object",
                    "properties": {
                        "namespace": {"type": "string"},
                        "name": {"type": "string"},
                        "facets": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/$defs/JobFacet"},
                        },
                    },
                    "required": ["namespace", "name"],
                },
                "inputs": {"type": "array", "items": {"$ref": "#/$defs/Dataset"}},
                "outputs": {"type": "array", "items": {"$ref": "#/$defs/Dataset"}},
            },
            "required": ["eventTime", "producer", "schemaURL", "run", "job"],
        },
    },
}


def _facet_schemas() -> dict[str, dict[str, object]]:
    """The facet schemas shipped with the Airflow provider and openlineage-dbt, by facet key."""
    import airflow.providers.openlineage as provider
    import openlineage.common as common

    paths = [
        *(Path(provider.__file__).parent / "facets").glob("*.json"),
        *(Path(common.__file__).parent / "schema").glob("dbt-*.json"),
    ]
    schemas = {}
    for path in paths:
        schema = json.loads(path.read_text())
        for key in schema.get("properties", {}):
            schemas[key] = schema
    return schemas


# Where provider 2.20's AirflowRunFacet.json and what it emits under Airflow 3.3 disagree:
# `retry_exponential_backoff` is a float multiplier in Airflow 3.3 (the schema says boolean)
# and task instances no longer carry `pool`. Only these two are tolerated, nothing else.
PROVIDER_DRIFT = {
    (("airflow", "task", "retry_exponential_backoff"), "type"),
    (("airflow", "taskInstance"), "required:pool"),
}


def _drift(error) -> bool:  # type: ignore[no-untyped-def]
    kind = error.validator
    if kind == "required":
        kind = "required:" + str(error.message).split("'")[1]
    return (tuple(error.absolute_path), kind) in PROVIDER_DRIFT


def _validator(schema: dict[str, object]):  # type: ignore[no-untyped-def]
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    # openlineage-dbt's facets refer to the 1-0-2 spec: the same envelope for what we check.
    core = Resource.from_contents(CORE_SCHEMA)
    registry = Registry().with_resources([(CORE, core), (CORE.replace("2-0-2", "1-0-2"), core)])
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def test_openlineage_environment_defaults_to_files_and_switches_to_marquez(built, monkeypatch):  # type: ignore[no-untyped-def]
    env = lineage.openlineage_environment(built)
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "file"
    assert transport["log_file_path"].startswith(str(built.home / "lineage"))
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"].startswith("observatorio-")
    monkeypatch.setenv("OBSERVATORIO_ENV", "Staging 2")
    monkeypatch.setenv("OBSERVATORIO_MARQUEZ_URL", "http://marquez:5000")
    env = lineage.openlineage_environment(built)
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])["type"] == "http"
    assert env["OPENLINEAGE_URL"] == "http://marquez:5000"
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "observatorio-staging-2"


def _assert_valid(files: list[Path], events: list[dict], namespace: str) -> None:  # type: ignore[type-arg]
    envelope = _validator({"$ref": f"{CORE}#/$defs/RunEvent"})
    facets = _facet_schemas()
    for path, event in zip(files, events, strict=True):
        errors = [e.message for e in envelope.iter_errors(event)]
        for section in ("run", "job"):
            for key, facet in event[section].get("facets", {}).items():
                if key in facets:
                    found = _validator(facets[key]).iter_errors({key: facet})
                    errors += [e.message for e in found if not _drift(e)]
        assert not errors, f"{path.name}: {errors[:3]}"
        assert event["job"]["namespace"] == namespace
        assert event["schemaURL"] == f"{CORE}#/$defs/RunEvent"


@pytest.mark.slow
def test_a_dag_run_emits_schema_valid_openlineage_events(built, airflow_db):  # type: ignore[no-untyped-def]
    import shutil

    from observatorio.airflow_env import airflow_environment

    shutil.rmtree(lineage.lineage_dir(built), ignore_errors=True)
    env = {**airflow_environment(built), **lineage.openlineage_environment(built)}
    script = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(built.dags_dir / 'ingest_police_reports.py')!r})\n"
        "print(bag.dags['ingest_police_reports'].test().state)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "success" in done.stdout, done.stderr[-3000:]
    files = sorted(lineage.lineage_dir(built).glob("events-*.json"))
    events = [json.loads(path.read_text()) for path in files]
    # Five tasks (claim, stage, gate, publish, report), a START and a COMPLETE each, and the
    # DAG run's COMPLETE.
    tasks_done = [e for e in events if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]]
    assert len(tasks_done) == 5 and len(events) >= 11
    _assert_valid(files, events, env["AIRFLOW__OPENLINEAGE__NAMESPACE"])
    assert any("airflow" in e["run"].get("facets", {}) for e in events)
