"""Design-based survey estimates, between dbt's two builds.

`update_survey_estimates` reads the survey facts dbt built (`marts.fct_survey_victimisation`:
respondent and crime type, with stratum, primary sampling unit, weight, sex and age group),
estimates every published survey cell per survey year, area, sex and age group with
`observatorio.indicators.survey_design` (svy, Taylor linearisation) and replaces
`ops.survey_estimates` in one transaction; the second dbt build publishes them
(`mart_survey_estimates`, `bi_survey_estimates`). It connects as the transformer, which owns
the facts it reads and may only replace the estimates.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import astuple, fields
from typing import Any

from observatorio.core.settings import Settings, get_settings
from observatorio.indicators.survey_design import SurveyEstimate, estimate_year, load_rules

log = logging.getLogger(__name__)

FACTS = "marts.fct_survey_victimisation"
# The table's columns: an estimate's fields, then the batches it rests on.
COLUMNS = (*(field.name for field in fields(SurveyEstimate)), "batch_ids")


def respondents_by_year(conn: Any) -> dict[int, tuple[list[dict[str, Any]], list[str]]]:
    """Per survey year: one mapping per respondent (design, domains and 0/1 answers) and its
    batches."""
    rows = conn.execute(
        f"select survey_year, respondent_id, stratum, psu, weight, department_code, sex,"
        f" age_group, crime_type, was_victim, reported_to_police, batch_id from {FACTS}"
        " order by survey_year, respondent_id, crime_type"
    ).fetchall()
    years: dict[int, dict[str, dict[str, Any]]] = {}
    batches: dict[int, set[str]] = {}
    for row in rows:
        year, respondent, stratum, psu, weight, department, sex, age_group = row[:8]
        crime, victim, reported, batch = row[8:]
        people = years.setdefault(int(year), {})
        person = people.setdefault(
            respondent,
            {
                "stratum": stratum,
                "psu": psu,
                "weight": float(weight),
                "department_code": department,
                "sex": sex,
                "age_group": age_group,
            },
        )
        person[f"victim_{crime}"] = int(bool(victim))
        person[f"reported_{crime}"] = int(bool(victim) and bool(reported))
        batches.setdefault(int(year), set()).add(str(batch))
    return {year: (list(people.values()), sorted(batches[year])) for year, people in years.items()}


def estimate_all(conn: Any) -> list[tuple[SurveyEstimate, list[str]]]:
    """Every survey year's estimates, each with the batches it rests on."""
    rules = load_rules()
    found: list[tuple[SurveyEstimate, list[str]]] = []
    for year, (people, batch_ids) in sorted(respondents_by_year(conn).items()):
        found += [(cell, batch_ids) for cell in estimate_year(people, year, rules)]
    return found


def update_survey_estimates(settings: Settings | None = None) -> dict[str, Any]:
    """The build's step after the survey facts: replace `ops.survey_estimates`.

    Returns counts for the task log: cells per verdict and the years estimated.
    """
    from observatorio.core.roles import Role
    from observatorio.core.warehouse import connect

    settings = settings or get_settings()
    with connect(settings, role=Role.TRANSFORMER) as conn:
        cells = estimate_all(conn)
        conn.execute("delete from ops.survey_estimates")
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        with conn.cursor() as cursor:
            cursor.executemany(
                f"insert into ops.survey_estimates ({', '.join(COLUMNS)}) values ({placeholders})",
                [_row(cell, batch_ids) for cell, batch_ids in cells],
            )
        conn.commit()
    verdicts: Counter[str] = Counter(cell.verdict for cell, _ in cells)
    summary: dict[str, Any] = {
        "years": sorted({cell.survey_year for cell, _ in cells}),
        "cells": len(cells),
        **{verdict: verdicts[verdict] for verdict in ("published", "imprecise", "suppressed")},
    }
    log.info("survey estimates: %s", summary)
    return summary


def _row(cell: SurveyEstimate, batch_ids: list[str]) -> tuple[Any, ...]:
    return (*astuple(cell), batch_ids)
