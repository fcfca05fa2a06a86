"""The survey adapter (observatorio.indicators.survey_design) against the simulator's truth.

- The point estimates and their standard errors equal an independent recomputation (the
  weighted ratio, and the Taylor-linearised variance of a stratified sample of primary
  sampling units drawn with replacement, written out here with numpy).
- The publication rules: suppressed on a small base or above the suppression CV, flagged
  above the caution CV.
- Over 200 simulated surveys, the 95 % intervals of the published cells cover the true
  population value 93-97 % of the time.
"""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest

from observatorio.indicators.survey_design import (
    SurveyRules,
    estimate_year,
    load_rules,
    verdict,
)
from simulator.survey import SURVEY_TYPES, SurveyWorld

YEAR = 2024
# The simulated country at the medium scale: victimisation prevalences of 0.1-5 % a year per
# type (17 % any), like the surveys of the region; the small scale's 1 % is too rare for a
# 3,000-adult sample to publish much.
MEDIUM = 20.0
SAMPLE = 3_000
SURVEYS = 200


def _respondents(world: SurveyWorld, rng: random.Random, size: int) -> list[dict[str, Any]]:
    people = []
    for r in world.draw(rng, size):
        person: dict[str, Any] = {
            "stratum": r.stratum,
            "psu": r.psu,
            "weight": r.weight,
            "department_code": r.municipality.department_code,
        }
        for ctype, victim, reported in zip(SURVEY_TYPES, r.victim, r.reported, strict=True):
            person[f"victim_{ctype.key}"] = int(victim)
            person[f"reported_{ctype.key}"] = int(reported)
        people.append(person)
    return people


def _taylor_ratio(
    people: list[dict[str, Any]], y: str, x: str | None, department: str | None
) -> tuple[float, float]:
    """R = sum(w y) / sum(w x) over a domain, and its linearised standard error (by hand)."""
    w = np.array([p["weight"] for p in people], dtype=float)
    inside = np.array(
        [department is None or p["department_code"] == department for p in people], dtype=float
    )
    yv = np.array([p[y] for p in people], dtype=float) * inside
    xv = (np.ones(len(people)) if x is None else np.array([p[x] for p in people])) * inside
    total_x = float((w * xv).sum())
    ratio = float((w * yv).sum()) / total_x
    z = w * (yv - ratio * xv) / total_x
    variance = 0.0
    strata = sorted({p["stratum"] for p in people})
    for stratum in strata:
        psu_totals: dict[str, float] = {}
        for p, zi in zip(people, z, strict=True):
            if p["stratum"] == stratum:
                psu_totals[p["psu"]] = psu_totals.get(p["psu"], 0.0) + float(zi)
        totals = np.array(list(psu_totals.values()))
        n = len(totals)
        variance += n / (n - 1) * float(((totals - totals.mean()) ** 2).sum())
    return ratio, variance**0.5


@pytest.fixture(scope="module")
def one_survey() -> tuple[list[dict[str, Any]], dict[tuple[str, str, str, str], Any]]:
    world = SurveyWorld(YEAR, MEDIUM)
    people = _respondents(world, random.Random(11), SAMPLE)
    cells = {
        (c.domain_level, c.domain_code, c.measure, c.crime_type): c
        for c in estimate_year(people, YEAR)
    }
    return people, cells


def test_estimates_equal_an_independent_recomputation(one_survey):
    people, cells = one_survey
    checked = 0
    for (level, code, measure, crime_type), cell in cells.items():
        if cell.base_respondents == 0 or crime_type in ("any", "violent"):
            continue
        department = None if level == "national" else code
        if measure == "prevalence":
            expected = _taylor_ratio(people, f"victim_{crime_type}", None, department)
        else:
            expected = _taylor_ratio(
                people, f"reported_{crime_type}", f"victim_{crime_type}", department
            )
        assert cell.estimate == pytest.approx(expected[0], rel=1e-12, abs=1e-15)
        assert cell.standard_error == pytest.approx(expected[1], rel=1e-9, abs=1e-15)
        checked += 1
    assert checked >= 13 * 2 * 5  # every type, both measures, the nation and most departments


def test_every_cell_is_estimated_once_per_domain(one_survey):
    people, cells = one_survey
    rules = load_rules()
    departments = sorted({p["department_code"] for p in people})
    expected = {
        (level, code, measure, crime_type)
        for level, codes in (("national", ["00"]), ("department", departments))
        for code in codes
        for measure, types in (
            ("prevalence", [*rules.crime_types, "any"]),
            ("reporting_rate", [*rules.crime_types, "violent"]),
        )
        for crime_type in types
    }
    assert set(cells) == expected
    national = cells[("national", "00", "prevalence", "any")]
    assert national.respondents == len(people) == SAMPLE
    assert national.verdict == "published"


def test_publication_rules():
    rules = SurveyRules(
        crime_types=("theft",), violent_types=(), cv_caution=0.3, cv_suppress=0.5, min_base=30
    )
    assert verdict(0.2, 0.1, 500, rules) == "published"
    assert verdict(0.2, 0.31, 500, rules) == "imprecise"
    assert verdict(0.2, 0.51, 500, rules) == "suppressed"
    # Four victims who all reported: 100 % with a CV of 0, resting on nothing.
    assert verdict(1.0, 0.0, 4, rules) == "suppressed"
    assert verdict(None, None, 0, rules) == "suppressed"
    assert load_rules().cv_caution == 0.30 and load_rules().cv_suppress == 0.50


def _coverage_of(seeds: list[int]) -> tuple[int, int]:
    world = SurveyWorld(YEAR, MEDIUM)
    truth = {(lv, c, m, t): v for lv, c, m, t, v in world.population_values()}
    rules = load_rules()
    covered = published = 0
    for seed in seeds:
        people = _respondents(world, random.Random(seed), SAMPLE)
        for cell in estimate_year(people, YEAR, rules):
            if cell.verdict == "suppressed":
                continue
            value = truth[(cell.domain_level, cell.domain_code, cell.measure, cell.crime_type)]
            assert cell.lower_95 is not None and cell.upper_95 is not None
            published += 1
            covered += cell.lower_95 <= value <= cell.upper_95
    return covered, published


def test_intervals_cover_the_truth_95_percent_of_the_time():
    seeds = list(range(1000, 1000 + SURVEYS))
    # Two processes, started fresh: a fork would inherit polars' threads mid-flight.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        parts = list(pool.map(_coverage_of, [seeds[0::2], seeds[1::2]]))
    covered = sum(c for c, _ in parts)
    published = sum(p for _, p in parts)
    assert published >= SURVEYS * 40  # about 70 published cells a survey
    coverage = covered / published
    print(f"coverage {coverage:.4f} of {published} published cells in {SURVEYS} surveys")
    assert 0.93 <= coverage <= 0.97
