"""The annual victimisation survey: a weighted sample that sees the dark figure.

One file per calendar year touched by the period,
``exports/survey/encuesta_victimizacion_YYYY.csv`` (UTF-8, ``,``). Respondents aged 15+ are
sampled equally per department, then by population within it; ``factor_expansion`` is the
population of the respondent's department-and-sex stratum divided by the stratum's sample size.
A respondent was a victim of a type with probability ``1 - exp(-r)``, where ``r`` is the
type's yearly events per inhabitant in their municipality (as simulated, so the scale shows),
adjusted by the type's share of female victims; reporting follows the police reporting model.
"""

from __future__ import annotations

import math
import random
from datetime import date
from pathlib import Path

import numpy as np

from simulator.crimes import CRIME_TYPES, CrimeType, base_daily_rates
from simulator.csvio import CsvWriter
from simulator.reference import (
    AGE_GROUPS,
    DEPARTMENTS,
    municipalities,
    municipality_name,
    population_table,
)

SURVEY_TYPES: tuple[CrimeType, ...] = tuple(
    t for t in CRIME_TYPES if not t.victimless and t.key != "homicide"
)
_ADULT_GROUPS = AGE_GROUPS[3:]


def write_surveys(
    folder: Path,
    rng: random.Random,
    start: date,
    end: date,
    sample_size: int,
    scale_factor: float,
    use_variants: bool,
) -> int:
    """Write one survey file per calendar year in [start, end); return total respondents."""
    total = 0
    for year in range(start.year, (end.year if end.month == 1 and end.day == 1 else end.year + 1)):
        total += _write_year(folder, rng, year, sample_size, scale_factor, use_variants)
    return total


def _write_year(
    folder: Path,
    rng: random.Random,
    year: int,
    sample_size: int,
    scale_factor: float,
    use_variants: bool,
) -> int:
    table = population_table(year)
    yearly = base_daily_rates(year) * scale_factor * 365.25
    munis = municipalities()
    respondents: list[tuple[int, str, str]] = []
    for dept in DEPARTMENTS:
        in_dept = [i for i, m in enumerate(munis) if m.department_code == dept]
        cells = [(i, sex, group) for i in in_dept for sex in ("M", "F") for group in _ADULT_GROUPS]
        weights = [table[(munis[i].code, sex, group)] for i, sex, group in cells]
        respondents += rng.choices(cells, weights, k=sample_size // len(DEPARTMENTS))
    stratum_size: dict[tuple[str, str], int] = {}
    for i, sex, _ in respondents:
        key = (munis[i].department_code, sex)
        stratum_size[key] = stratum_size.get(key, 0) + 1
    header = [
        "id_encuestado",
        "anio",
        "codigo_municipio",
        "municipio",
        "sexo",
        "grupo_edad",
        "factor_expansion",
    ]
    for ctype in SURVEY_TYPES:
        header += [f"victima_{ctype.key}", f"denuncio_{ctype.key}"]
    writer = CsvWriter(folder / f"encuesta_victimizacion_{year}.csv", header)
    stratum_pop: dict[tuple[str, str], int] = {}
    for m in munis:
        for sex in ("M", "F"):
            key = (m.department_code, sex)
            adults = sum(table[(m.code, sex, g)] for g in _ADULT_GROUPS)
            stratum_pop[key] = stratum_pop.get(key, 0) + adults
    # Chance of being a victim of each survey type in a year, by (municipality, sex).
    prevalence = {
        (i, sex): [
            1.0 - math.exp(-_yearly_rate(yearly, i, m.code, ctype, sex, table))
            for ctype in SURVEY_TYPES
        ]
        for i, m in enumerate(munis)
        for sex in ("M", "F")
    }
    for n, (i, sex, group) in enumerate(respondents, start=1):
        m = munis[i]
        key = (m.department_code, sex)
        row = [
            f"{year}-{n:06d}",
            str(year),
            m.code,
            municipality_name(m.code, "survey", use_variants),
            sex,
            group,
            f"{stratum_pop[key] / stratum_size[key]:.2f}",
        ]
        for ctype, p in zip(SURVEY_TYPES, prevalence[(i, sex)], strict=True):
            victim = rng.random() < p
            reported = victim and rng.random() < ctype.report_prob
            row += ["1" if victim else "0", ("1" if reported else "0") if victim else ""]
        writer.write(row)
    writer.close()
    return writer.count


def _yearly_rate(
    yearly: np.ndarray,
    i: int,
    code: str,
    ctype: CrimeType,
    sex: str,
    table: dict[tuple[str, str, str], int],
) -> float:
    """Expected victimisations of ``ctype`` per inhabitant of ``sex`` in a year."""
    pop = sum(table[(code, s, g)] for s in ("M", "F") for g in AGE_GROUPS)
    share = ctype.female_share if sex == "F" else 1.0 - ctype.female_share
    return float(yearly[i, CRIME_TYPES.index(ctype)]) / pop * share / 0.5
