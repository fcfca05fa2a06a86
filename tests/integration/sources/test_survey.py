"""The victimisation survey, end to end: the yearly DAG loads the simulated survey file, the
gate judges it, dbt turns it into one fact row per respondent and crime type with weights;
then the suite on a file that breaks the questionnaire's logic."""

from __future__ import annotations

from decimal import Decimal

import pytest

from observatorio.orchestration.ingest import ingest_file

SOURCE = "survey__responses"
CRIME_TYPES = 13


@pytest.fixture(scope="module")
def survey_run(kit, week_simulation, survey_layout, airflow_db):
    kit.reset(SOURCE)
    landed = kit.land(SOURCE, week_simulation)
    dag_run = kit.run_dag("ingest_survey")
    run = {
        "state": str(dag_run.state),
        "landed": landed,
        "ledger": kit.ledger(SOURCE),
        "raw": kit.scalar("select count(*) from raw.survey__responses"),
        "critical_failures": kit.scalar(
            "select count(*) from ops.validation_results where suite_name = %s"
            " and severity = 'critical' and not success",
            (SOURCE,),
        ),
    }
    kit.dbt_build("fct_survey_victimisation")
    run["fact"] = kit.query(
        "select count(*), count(distinct respondent_id), count(*) filter (where was_victim),"
        " count(*) filter (where reported_to_police),"
        " count(*) filter (where not was_victim and reported_to_police is not null),"
        " sum(weight) / count(distinct crime_type),"
        " count(*) filter (where batch_id is null or source_row is null)"
        " from marts.fct_survey_victimisation"
    )[0]
    return run


def test_yearly_dag_loads_the_survey_file(survey_run):
    assert survey_run["state"] == "success"
    assert len(survey_run["landed"]) == 1
    assert survey_run["ledger"]["batches_loaded"] == 1
    assert survey_run["critical_failures"] == 0


def test_rows_read_equal_rows_loaded_plus_quarantined(survey_run, kit, survey_layout):
    ledger = survey_run["ledger"]
    _, rows = kit.read_csv(survey_run["landed"][0], survey_layout)
    assert ledger["read"] == ledger["loaded"] + ledger["quarantined"] == len(rows) == 12_000
    assert survey_run["raw"] == ledger["loaded"]


def test_fact_has_a_row_per_respondent_and_crime_type_with_the_files_answers(
    survey_run, kit, survey_layout
):
    header, rows = kit.read_csv(survey_run["landed"][0], survey_layout)
    answers = [dict(zip(header, row, strict=True)) for row in rows]
    victims = sum(v == "1" for a in answers for k, v in a.items() if k.startswith("victima_"))
    reported = sum(v == "1" for a in answers for k, v in a.items() if k.startswith("denuncio_"))
    weights = sum(Decimal(a["factor_expansion"]) for a in answers)
    count, respondents, was_victim, reported_to_police, asked_non_victims, weight, orphans = (
        survey_run["fact"]
    )
    assert (count, respondents) == (len(answers) * CRIME_TYPES, len(answers))
    assert (was_victim, reported_to_police) == (victims, reported)
    assert victims > reported > 0
    assert asked_non_victims == 0
    assert weight == weights
    assert orphans == 0


def test_suite_rejects_answers_that_break_the_questionnaire(
    kit, settings, tmp_path, week_simulation, survey_layout
):
    kit.reset(SOURCE)
    source = kit.exports(SOURCE, week_simulation)[0]

    def defects(rows):
        # Respondent 1 "reported" a theft they did not suffer; respondent 2 has no sex.
        rows[0] = {**rows[0], "victima_theft": "0", "denuncio_theft": "1"}
        rows[1] = {**rows[1], "sexo": "X"}
        return rows

    path = kit.rewrite_csv(source, tmp_path / source.name, survey_layout, defects)
    result = ingest_file(SOURCE, path, settings)
    assert result.status == "rejected"
    assert "expect_column_values_to_be_null(reported_theft) [critical]" in result.message
    assert "expect_column_values_to_be_in_set(sex) [critical]" in result.message
    assert "sample rows 1" in result.message and "sample rows 2" in result.message
    assert kit.scalar("select to_regclass('raw.survey__responses')") is None
