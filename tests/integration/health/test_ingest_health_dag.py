"""`ingest_health` run for real with dag.test() against the simulator's served API."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.integration.health.conftest import TOKEN

# Full DAG runs (as tests/e2e): selected with the rest, skipped by `-m "not slow"`.
pytestmark = pytest.mark.slow


def _run(settings):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.dags_dir / "ingest_health.py"))
    assert bag.import_errors == {}
    return bag.dags["ingest_health"].test()


def test_ingest_health_pulls_gates_and_publishes_both_endpoints(
    clean_health, airflow_db, country, serve_api, monkeypatch
):
    settings = airflow_db
    server = serve_api(country.out, failure_rate=0.2, seed=2, retry_after=0)
    address = urlsplit(server.url)
    connection = {
        "conn_type": "http",
        "host": address.hostname,
        "port": address.port,
        "password": TOKEN,
        "extra": {
            "base_delay": 0.001,
            "max_delay": 0.01,
            "page_size": 250,
            "scheme": "http",
            "allow_insecure": True,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_HEALTH_API", json.dumps(connection))
    monkeypatch.delenv("OBSERVATORIO_HEALTH_API_URL", raising=False)

    run = _run(settings)
    assert str(run.state) == "success"
    db = clean_health
    for entity in ("forensic_deaths", "hospital_admissions"):
        rows = db.execute(f"select count(*) from raw.health__{entity}").fetchone()[0]
        assert rows == len(country.records(entity))
        ledger = db.execute(
            "select status, source_query, source_file from ops.batch_ledger where source = %s",
            (f"health__{entity}",),
        ).fetchall()
        assert [(status, query.split("?")[0]) for status, query, _ in ledger] == [
            ("loaded", f"GET /api/v1/{entity.replace('_', '-')}")
        ]
        assert ledger[0][2].startswith(f"health__{entity}_begin_")
        watermark = db.execute(
            "select cursor_value from ops.watermarks where source = %s", (f"health__{entity}",)
        ).fetchone()[0]
        assert watermark["updated_since"] >= "2024-03-01"


def test_a_wrong_token_fails_the_extract_at_once(
    clean_health, airflow_db, country, serve_api, monkeypatch
):
    server = serve_api(country.out, failure_rate=0.0)
    monkeypatch.setenv("OBSERVATORIO_HEALTH_API_URL", server.url)
    monkeypatch.setenv("OBSERVATORIO_HEALTH_API_ALLOW_INSECURE", "1")
    monkeypatch.setenv("OBSERVATORIO_HEALTH_API_TOKEN", "not-the-token")
    monkeypatch.delenv("AIRFLOW_CONN_HEALTH_API", raising=False)
    run = _run(airflow_db)
    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["extract_forensic_deaths"] == "failed"
    assert states["extract_hospital_admissions"] == "failed"
    assert states["health__forensic_deaths.claim_files"] == "upstream_failed"
    assert states["record_source_query_forensic_deaths"] in {"skipped", "upstream_failed"}
    # Failed at once: no task retries for a refused token.
    assert max(ti.try_number for ti in run.get_task_instances()) <= 1
    assert (
        clean_health.execute(
            "select count(*) from ops.watermarks where source like 'health%%'"
        ).fetchone()[0]
        == 0
    )
