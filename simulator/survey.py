"""The annual victimisation survey: a stratified two-stage sample that sees the dark figure.

One file per calendar year touched by the period,
``exports/survey/encuesta_victimizacion_YYYY.csv`` (UTF-8, ``,``). The design is the one
national statistical offices use for victimisation surveys, in miniature:

- **Strata** are the departments (``estrato``).
- **Primary sampling units** are segments of about ``SEGMENT_ADULTS`` adults (15+) that tile
  every municipality (``upm``, ``<municipality>-<segment>``). In each stratum
  ``m_h = sample_size / departments / PER_SEGMENT`` segments (at least 2) are drawn by simple
  random sampling without replacement.
- **Second stage**: ``PER_SEGMENT`` adults are interviewed in each drawn segment, each drawn
  with probability proportional to the population of their sex and age group in the
  segment's municipality.
- **Weight** (``factor_expansion``): the inverse of the inclusion probability,
  ``K_h / m_h * segment adults / PER_SEGMENT`` (``K_h`` the stratum's segments), so the
  weights of a stratum add up to its adults, on expectation.

A respondent was a victim of a type with probability ``1 - exp(-r)``, where ``r`` is the
type's yearly events per inhabitant in their municipality (as simulated, so the scale shows),
adjusted by the type's share of female victims; a victim reported it with the type's reporting
probability. `population_values` gives the true population value of every estimate the
warehouse publishes, which the truth files record and the tests compare intervals with.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from simulator.crimes import CRIME_TYPES, CrimeType, base_daily_rates
from simulator.csvio import CsvWriter
from simulator.reference import (
    AGE_GROUPS,
    Municipality,
    departments,
    municipalities,
    municipality_name,
    population_table,
)
from simulator.truth import Indicators

SURVEY_TYPES: tuple[CrimeType, ...] = tuple(
    t for t in CRIME_TYPES if not t.victimless and t.key != "homicide"
)
# Violent crime for SDG 16.3.1 (UNODC: physical assault, robbery, sexual assault).
VIOLENT_TYPES: tuple[str, ...] = ("assault", "robbery", "sexual_violence")
_ADULT_GROUPS = AGE_GROUPS[3:]
_SEXES = ("M", "F")
# Adults per primary sampling unit, and adults interviewed in each drawn one.
SEGMENT_ADULTS = 1_000
PER_SEGMENT = 20

HEADER: tuple[str, ...] = (
    "id_encuestado",
    "anio",
    "estrato",
    "upm",
    "codigo_municipio",
    "municipio",
    "sexo",
    "grupo_edad",
    "factor_expansion",
    *(f"{kind}_{t.key}" for t in SURVEY_TYPES for kind in ("victima", "denuncio")),
)


@dataclass(frozen=True)
class Respondent:
    """One interviewed adult, with the design variables and the answers."""

    stratum: str
    psu: str
    municipality: Municipality
    sex: str
    age_group: str
    weight: float
    victim: tuple[bool, ...]  # per SURVEY_TYPES
    reported: tuple[bool, ...]  # per SURVEY_TYPES; False where not a victim


class SurveyWorld:
    """The population one year's survey samples from: segments and victimisation chances."""

    def __init__(self, year: int, scale_factor: float) -> None:
        self.year = year
        self.table = population_table(year)
        yearly = base_daily_rates(year) * scale_factor * 365.25
        self.munis = municipalities()
        self.adults = {
            (m.code, sex, group): self.table[(m.code, sex, group)]
            for m in self.munis
            for sex in _SEXES
            for group in _ADULT_GROUPS
        }
        self.prevalence = {
            (m.code, sex): tuple(
                1.0 - math.exp(-_yearly_rate(yearly, i, m.code, ctype, sex, self.table))
                for ctype in SURVEY_TYPES
            )
            for i, m in enumerate(self.munis)
            for sex in _SEXES
        }
        # Segments per municipality: its adults in blocks of about SEGMENT_ADULTS.
        self.segments: dict[str, list[tuple[Municipality, int, float]]] = {}
        for m in self.munis:
            adults = sum(self.adults[(m.code, s, g)] for s in _SEXES for g in _ADULT_GROUPS)
            count = max(1, round(adults / SEGMENT_ADULTS))
            for k in range(1, count + 1):
                self.segments.setdefault(m.department_code, []).append((m, k, adults / count))

    def draw(self, rng: random.Random, sample_size: int) -> Iterator[Respondent]:
        """One sample of about ``sample_size`` adults, stratum by stratum."""
        per_stratum = max(2, sample_size // len(departments()) // PER_SEGMENT)
        for dept in departments():
            frame = self.segments[dept]
            drawn = rng.sample(frame, min(per_stratum, len(frame)))
            for m, k, segment_adults in drawn:
                weight = len(frame) / len(drawn) * segment_adults / PER_SEGMENT
                cells = [(s, g) for s in _SEXES for g in _ADULT_GROUPS]
                sizes = [self.adults[(m.code, s, g)] for s, g in cells]
                for sex, group in rng.choices(cells, sizes, k=PER_SEGMENT):
                    chances = self.prevalence[(m.code, sex)]
                    victim = tuple(rng.random() < p for p in chances)
                    reported = tuple(
                        v and rng.random() < t.report_prob
                        for v, t in zip(victim, SURVEY_TYPES, strict=True)
                    )
                    yield Respondent(
                        dept, f"{m.code}-{k:04d}", m, sex, group, weight, victim, reported
                    )

    def municipality_values(self) -> Iterator[tuple[str, str, float]]:
        """(municipality, indicator code, true value) of the survey's indicators in the
        monthly mart: each crime type's dark figure (the share of victims who did not
        report) and its incidence per 100,000 adults (the share of adults victimised)."""
        for m in self.munis:
            people = [
                (self.adults[(m.code, s, g)], self.prevalence[(m.code, s)])
                for s in _SEXES
                for g in _ADULT_GROUPS
            ]
            total = sum(n for n, _ in people)
            for i, ctype in enumerate(SURVEY_TYPES):
                yield m.code, f"dark_figure__{ctype.key}", 1.0 - ctype.report_prob
                share = sum(n * p[i] for n, p in people) / total
                yield m.code, f"adjusted_incidence_rate__{ctype.key}", share * 100_000

    def population_values(self) -> list[tuple[str, str, str, str, str, str, float]]:
        """True (domain level, domain code, sex, age group, measure, crime type, value) of
        every estimate.

        Domains: the nation (``00``) and each department, each for everyone (sex and age
        group ``all``), by the respondent's sex and by age group (``DOMAINS``).
        Measures: ``prevalence`` (share of adults victimised in the year), ``reporting_rate``
        (share of victims who reported) and, over all types, ``any`` prevalence and the
        SDG 16.3.1 reporting rate of violent crime (victims of any of VIOLENT_TYPES who
        reported at least one of them).
        """
        areas: dict[tuple[str, str], list[str]] = {("national", "00"): []}
        for m in self.munis:
            areas[("national", "00")].append(m.code)
            areas.setdefault(("department", m.department_code), []).append(m.code)
        violent = [i for i, t in enumerate(SURVEY_TYPES) if t.key in VIOLENT_TYPES]
        rows: list[tuple[str, str, str, str, str, str, float]] = []
        for (level, code), codes in areas.items():
            for sexes, groups in _breakdowns():
                for sex in sexes:
                    for group in groups:
                        people = [
                            (self.adults[(c, s, g)], self.prevalence[(c, s)])
                            for c in codes
                            for s in (_SEXES if sex == "all" else (sex,))
                            for g in (_ADULT_GROUPS if group == "all" else (group,))
                        ]
                        domain = (level, code, sex, group)
                        rows += [(*domain, *value) for value in _domain_values(people, violent)]
        return rows


# The domains of every area the survey's estimates are published for: everyone, by sex and by
# age group (`all` where not broken down; the warehouse does not cross them).
DOMAINS: tuple[tuple[str, ...], ...] = ((), ("sex",), ("age_group",))


def _breakdowns() -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per domain of DOMAINS: the sexes and the age groups it has a value for."""
    for by in DOMAINS:
        yield (
            _SEXES if "sex" in by else ("all",),
            _ADULT_GROUPS if "age_group" in by else ("all",),
        )


def _domain_values(
    people: list[tuple[int, tuple[float, ...]]], violent: list[int]
) -> list[tuple[str, str, float]]:
    """(measure, crime type, true value) of a domain's adults, each (count, prevalences)."""
    total = sum(n for n, _ in people)
    values: list[tuple[str, str, float]] = []
    for i, ctype in enumerate(SURVEY_TYPES):
        share = sum(n * p[i] for n, p in people) / total
        values.append(("prevalence", ctype.key, share))
        values.append(("reporting_rate", ctype.key, ctype.report_prob))
    values.append(("prevalence", "any", sum(n * _any(p) for n, p in people) / total))
    victims = sum(n * _any([p[i] for i in violent]) for n, p in people)
    reported = sum(
        n * _any([p[i] * SURVEY_TYPES[i].report_prob for i in violent]) for n, p in people
    )
    values.append(("reporting_rate", "violent", reported / victims))
    return values


def _any(chances: tuple[float, ...] | list[float]) -> float:
    """Chance that at least one of independent events happens."""
    return 1.0 - math.prod(1.0 - p for p in chances)


def write_surveys(
    folder: Path,
    rng: random.Random,
    start: date,
    end: date,
    sample_size: int,
    scale_factor: float,
    use_variants: bool,
    truth_folder: Path | None = None,
    truth: Indicators | None = None,
) -> int:
    """Write one survey file per calendar year in [start, end); return total respondents.

    With ``truth_folder`` each year's true population values go to ``survey_<year>.csv``;
    with ``truth`` the municipality's values of the monthly indicators go to ``truth``."""
    total = 0
    for year in range(start.year, (end.year if end.month == 1 and end.day == 1 else end.year + 1)):
        world = SurveyWorld(year, scale_factor)
        total += _write_year(folder, rng, world, sample_size, use_variants)
        if truth_folder is not None:
            write_survey_truth(truth_folder / f"survey_{year}.csv", world)
        if truth is not None:
            for code, indicator, value in world.municipality_values():
                truth.survey[(code, year)][indicator] = value
    return total


def write_survey_truth(path: Path, world: SurveyWorld) -> None:
    """The true population value of every survey estimate of one year."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["survey_year,domain_level,domain_code,sex,age_group,measure,crime_type,value"]
    lines += [
        f"{world.year},{level},{code},{sex},{group},{measure},{ctype},{value:.9f}"
        for level, code, sex, group, measure, ctype, value in world.population_values()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_year(
    folder: Path,
    rng: random.Random,
    world: SurveyWorld,
    sample_size: int,
    use_variants: bool,
) -> int:
    writer = CsvWriter(folder / f"encuesta_victimizacion_{world.year}.csv", list(HEADER))
    for n, r in enumerate(world.draw(rng, sample_size), start=1):
        row = [
            f"{world.year}-{n:06d}",
            str(world.year),
            r.stratum,
            r.psu,
            r.municipality.code,
            municipality_name(r.municipality.code, "survey", use_variants),
            r.sex,
            r.age_group,
            f"{r.weight:.2f}",
        ]
        for victim, reported in zip(r.victim, r.reported, strict=True):
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
    pop = sum(table[(code, s, g)] for s in _SEXES for g in AGE_GROUPS)
    share = ctype.female_share if sex == "F" else 1.0 - ctype.female_share
    return float(yearly[i, CRIME_TYPES.index(ctype)]) / pop * share / 0.5
