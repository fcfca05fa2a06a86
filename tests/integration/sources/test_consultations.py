"""Citizen consultations, end to end: the polling DAG loads the platform's JSON export, dbt
unnests each consultation's ranked priorities; a later export that repeats the history does
not double anything; then the suite on an export with broken priorities."""

from __future__ import annotations

import json

import pytest

from observatorio.orchestration.ingest import ingest_file

SOURCE = "consultations__consultations"


def _priorities(document):
    return [(c["id_consulta"], p) for c in document["consultas"] for p in c["prioridades"]]


@pytest.fixture(scope="module")
def consultations_run(kit, settings, year_simulation, airflow_db, tmp_path_factory):
    kit.reset(SOURCE)
    landed = kit.land(SOURCE, year_simulation)
    dag_run = kit.run_dag("ingest_consultations")
    run = {
        "state": str(dag_run.state),
        "landed": landed,
        "ledger_first": kit.ledger(SOURCE),
        "critical_failures": kit.scalar(
            "select count(*) from ops.validation_results where suite_name = %s"
            " and severity = 'critical' and not success",
            (SOURCE,),
        ),
    }
    # The platform's next export: the whole history again plus one new consultation.
    document = json.loads(landed[0].read_text(encoding="utf-8"))
    first = document["consultas"][0]
    document["consultas"].append(
        {
            **first,
            "id_consulta": "CONS-2024-9999",
            "participantes": 50,
            "prioridades": [
                {
                    "posicion": 1,
                    "tema": "Hurtos",
                    "tipo_codigo": "tipo_delito",
                    "codigo_tema": "theft",
                    "votos": 30,
                },
                {
                    "posicion": 2,
                    "tema": "Femicidios",
                    "tipo_codigo": "indicador",
                    "codigo_tema": "femicide_count",
                    "votos": 12,
                },
            ],
        }
    )
    later = tmp_path_factory.mktemp("consultations") / "consultas_2.json"
    later.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    run["second"] = ingest_file(SOURCE, later, settings)
    run["document"] = document
    run["raw"] = kit.scalar("select count(*) from raw.consultations__consultations")
    kit.dbt_build("fct_consultation_priorities")
    run["fact"] = kit.query(
        "select consultation_id, priority_rank, topic_kind, indicator_code, crime_type, votes,"
        " participants, version_count, source_file from marts.fct_consultation_priorities"
    )
    return run


def test_dag_loads_the_export_on_arrival(consultations_run):
    assert consultations_run["state"] == "success"
    ledger = consultations_run["ledger_first"]
    assert ledger["batches_loaded"] == 1
    assert consultations_run["critical_failures"] == 0


def test_rows_read_equal_rows_loaded_plus_quarantined(consultations_run):
    first = json.loads(consultations_run["landed"][0].read_text(encoding="utf-8"))
    ledger = consultations_run["ledger_first"]
    assert ledger["read"] == ledger["loaded"] + ledger["quarantined"] == len(first["consultas"])
    assert len(first["consultas"]) >= 10
    second = consultations_run["second"]
    assert second.status == "loaded", second.message
    assert second.rows_read == second.rows_loaded == len(first["consultas"]) + 1
    assert consultations_run["raw"] == 2 * len(first["consultas"]) + 1


def test_fact_has_each_priority_of_the_latest_export_once(consultations_run):
    document = consultations_run["document"]
    expected = {
        (cid, p["posicion"]): (p["tipo_codigo"], p["codigo_tema"], p["votos"])
        for cid, p in _priorities(document)
    }
    fact = consultations_run["fact"]
    assert len(fact) == len(expected)
    kinds = {"indicador": "indicator", "tipo_delito": "crime_type"}
    for cid, rank, kind, indicator, crime_type, votes, _, versions, source_file in fact:
        code_type, code, expected_votes = expected[(cid, rank)]
        assert kind == kinds[code_type]
        assert (indicator if kind == "indicator" else crime_type) == code
        assert (crime_type if kind == "indicator" else indicator) is None
        assert votes == expected_votes
        assert source_file == "consultas_2.json"
        assert versions == (1 if cid == "CONS-2024-9999" else 2)


def test_suite_rejects_an_export_with_broken_priorities(kit, settings, tmp_path, year_simulation):
    kit.reset(SOURCE)
    document = json.loads(kit.exports(SOURCE, year_simulation)[0].read_text("utf-8"))
    broken = document["consultas"][0]["prioridades"]
    broken[1]["posicion"] = broken[0]["posicion"]  # two priorities share rank 1
    document["consultas"][1]["prioridades"] = []  # a consultation with no priorities
    path = tmp_path / "consultas.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = ingest_file(SOURCE, path, settings)
    assert result.status == "rejected"
    assert result.message.count("unexpected_rows_expectation [critical]") == 2
    assert kit.scalar("select to_regclass('raw.consultations__consultations')") is None
