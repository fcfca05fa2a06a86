"""From the served API to the marts: the homicide count per municipality and month of death
in `fct_violent_deaths` equals the simulator's truth `homicide_count_health` exactly."""

from __future__ import annotations

from ingestion.connectors.rest import ApiCredentials, RetryPolicy, pull
from observatorio.transform.dbt import run_dbt
from tests.integration.health.conftest import HEALTH_SOURCES, TOKEN


def test_marts_count_homicides_exactly_as_the_health_truth(
    clean_health, country, serve_api, ingest_landed, settings
):
    server = serve_api(country.out, failure_rate=0.1, seed=1, retry_after=0)
    credentials = ApiCredentials(server.url, "test", token=TOKEN, allow_insecure=True)
    policy = RetryPolicy(base_delay=0.001, max_delay=0.01)
    for source in HEALTH_SOURCES:
        assert pull(source, credentials, policy=policy, page_size=200).status == "landed"
    assert {r["status"] for r in ingest_landed()} == {"loaded"}

    run_dbt(
        ["build", "--select", "+path:models/marts/health", "--indirect-selection", "cautious"],
        settings,
    )

    db = clean_health
    homicides = {
        (municipality, month): count
        for municipality, month, count in db.execute(
            "select municipality_code, to_char(death_date, 'YYYY-MM'), count(*)"
            " from marts.fct_violent_deaths where intent = 'homicide' group by 1, 2"
        ).fetchall()
    }
    truth = country.truth("homicide_count_health")
    assert homicides == truth and sum(truth.values()) == 201
    legal = dict(
        db.execute(
            "select municipality_code || '|' || to_char(death_date, 'YYYY-MM'), count(*)"
            " from marts.fct_violent_deaths where is_legal_intervention group by 1"
        ).fetchall()
    )
    assert legal == {
        f"{m}|{month}": n for (m, month), n in country.truth("legal_intervention_deaths").items()
    }

    deaths = country.records("forensic_deaths")
    facts = db.execute(
        "select count(*), count(*) filter (where icd10_cause_code = 'Y871'),"
        " count(*) filter (where not is_identified_body),"
        " count(*) filter (where incident_date_source = 'hospital_admission'"
        "   and incident_date < death_date),"
        " count(distinct batch_id), count(*) filter (where source_file is null)"
        " from marts.fct_violent_deaths"
    ).fetchone()
    assert facts[0] == len(deaths)
    assert facts[1] == sum(r["causa_basica_cie10"].upper().startswith("Y87") for r in deaths) > 0
    assert facts[2] == sum(r["cedula"] is None for r in deaths) > 0
    assert facts[3] > 0 and facts[4:] == (1, 0)
    admissions = db.execute(
        "select count(*), count(*) filter (where is_fatal),"
        " count(forensic_record_id) from marts.fct_injury_admissions"
    ).fetchone()
    assert admissions[0] == len(country.records("hospital_admissions"))
    assert admissions[1] == sum(
        r["condicion_egreso"] == "fallecido" for r in country.records("hospital_admissions")
    )
    assert 0 < admissions[2] <= admissions[1]
