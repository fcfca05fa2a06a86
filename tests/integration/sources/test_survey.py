"""The victimisation survey, end to end: the yearly DAG loads the simulated survey file, the
gate judges it, dbt turns it into one fact row per respondent and crime type with weights;
then the suite on a file that breaks the questionnaire's logic."""

from __future__ import annotations

from collections import Counter
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


def test_design_based_estimates_are_published_with_their_error(
    survey_run, kit, settings, week_simulation, survey_layout
):
    """The build's survey step: svy's estimates of the loaded survey reach the mart and BI,
    for the nation and each department, for everyone, by sex and by age group; each published
    national point estimate equals the weighted share recomputed from the file, and the true
    population value lies in at least 90 % of the published 95 % intervals."""
    import csv as csv_module

    from observatorio.transform.survey_estimates import update_survey_estimates

    # The batches of the facts the estimates are made from.
    batches = {
        str(b) for (b,) in kit.query("select distinct batch_id from marts.fct_survey_victimisation")
    }
    summary = update_survey_estimates(settings)
    assert summary["cells"] == summary["published"] + summary["imprecise"] + summary["suppressed"]
    kit.dbt_build("bi_survey_estimates")
    rows = kit.query(
        "select survey_year, domain_level, domain_code, sex, age_group, measure, crime_type,"
        " value, value_lower_95, value_upper_95, verdict, batch_ids"
        " from marts.mart_survey_estimates"
    )
    header, answers = kit.read_csv(survey_run["landed"][0], survey_layout)
    people = [dict(zip(header, row, strict=True)) for row in answers]
    # Every area's domains: everyone, each sex and each age group it has respondents of.
    domains = {
        (level, code, *domain)
        for p in people
        for level, code in (("national", "00"), ("department", p["estrato"]))
        for domain in (("all", "all"), (p["sexo"], "all"), ("all", p["grupo_edad"]))
    }
    assert {(r[1], r[2], r[3], r[4]) for r in rows} == domains
    assert len(rows) == summary["cells"] == len(domains) * 2 * 14  # 2 measures, 14 each
    assert len(domains) == 6 * (1 + 2 + 14)  # nation + 5 departments; 2 sexes, 14 age groups
    year = int(people[0]["anio"])
    truth_path = week_simulation / "truth" / f"survey_{year}.csv"
    with truth_path.open(encoding="utf-8") as handle:
        truth = {
            (
                r["domain_level"],
                r["domain_code"],
                r["sex"],
                r["age_group"],
                r["measure"],
                r["crime_type"],
            ): float(r["value"])
            for r in csv_module.DictReader(handle)
        }

    def national_share(numerator: str, denominator: str | None, sex: str, age: str) -> float:
        domain = [
            p for p in people if sex in ("all", p["sexo"]) and age in ("all", p["grupo_edad"])
        ]
        top = sum(float(p["factor_expansion"]) for p in domain if p[numerator] == "1")
        bottom = sum(
            float(p["factor_expansion"])
            for p in domain
            if denominator is None or p[denominator] == "1"
        )
        return top / bottom

    published: Counter[str] = Counter()
    covered: Counter[str] = Counter()
    recomputed: Counter[str] = Counter()
    for _year, level, code, sex, age, measure, crime, value, low, high, verdict, batch_ids in rows:
        assert set(batch_ids) == batches
        if verdict == "suppressed":
            assert value is None and low is None and high is None
            continue
        breakdown = "sex" if sex != "all" else "age_group" if age != "all" else "all"
        published[breakdown] += 1
        assert float(low) <= float(value) <= float(high)
        covered[breakdown] += (
            float(low) <= truth[(level, code, sex, age, measure, crime)] <= float(high)
        )
        if level == "national" and crime not in ("any", "violent"):
            expected = (
                national_share(f"victima_{crime}", None, sex, age)
                if measure == "prevalence"
                else national_share(f"denuncio_{crime}", f"victima_{crime}", sex, age)
            )
            assert float(value) == pytest.approx(expected, rel=1e-12)
            recomputed[breakdown] += 1
    assert published["all"] >= 40 and recomputed["all"] >= 15
    assert published["sex"] >= 60 and recomputed["sex"] >= 30
    assert published["age_group"] >= 100 and recomputed["age_group"] >= 50
    assert sum(covered.values()) / sum(published.values()) >= 0.90
    bi = kit.query(
        "select count(*) filter (where verdict = 'suppressed'"
        " and (value is not null or cv is not null)),"
        " count(distinct sex), count(distinct age_group)"
        " from bi.survey_estimates"
    )[0]
    assert bi == (0, 3, 15)


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
