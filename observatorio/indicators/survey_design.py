"""Design-based estimates of the victimisation survey, with their sampling error.

A small adapter over `svy` (the maintained successor of samplics): the survey's design
(strata, primary sampling units, weights) goes in, and every estimate the warehouse publishes
comes out with its standard error by Taylor linearisation, its 95 % interval (Student's t on
the design's degrees of freedom), its coefficient of variation and the publication verdict of
`_publication.yml` (`survey_cv_caution`, `survey_cv_suppress`), or of the country profile's
`publication:` where it sets its own.

What is estimated, per survey year, for the nation and for each department (a domain: its
variance accounts for the sample size being random):
- `prevalence` of each crime type the survey asks about: the share of adults victimised in the
  year (a mean of the 0/1 answer); `any` type alike;
- `reporting_rate` of each type: victims who reported it over victims (a ratio); `violent`,
  the SDG 16.3.1 reporting rate, over victims of any of the definitions'
  `violent_crime_types` who reported at least one of them.

Nothing here reads the database: `observatorio.transform.survey_estimates` feeds it the
respondents and stores what it returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from observatorio.indicators.definitions import DEFINITIONS_DIR, publication_defaults

Measure = Literal["prevalence", "reporting_rate"]
Verdict = Literal["published", "imprecise", "suppressed"]


@dataclass(frozen=True)
class SurveyRules:
    """What the estimates are of and when they are published (from the definitions)."""

    crime_types: tuple[str, ...]
    violent_types: tuple[str, ...]
    cv_caution: float
    cv_suppress: float
    min_base: int


@dataclass(frozen=True)
class SurveyEstimate:
    """One published survey cell: an estimate, its sampling error and its verdict."""

    survey_year: int
    domain_level: str  # national | department
    domain_code: str  # 00 for the nation
    measure: Measure
    crime_type: str  # a crime type, `any` or `violent`
    estimate: float | None
    standard_error: float | None
    lower_95: float | None
    upper_95: float | None
    cv: float | None
    degrees_of_freedom: int
    respondents: int  # respondents in the domain (the base of a prevalence)
    base_respondents: int  # respondents the estimate divides by (victims for a rate)
    verdict: Verdict


def load_rules() -> SurveyRules:
    """The survey's crime types, from dbt_project/indicators/, and publication thresholds:
    `_publication.yml`'s, or the active country profile's (`publication_defaults`)."""
    import yaml

    survey = yaml.safe_load((DEFINITIONS_DIR / "survey.yml").read_text(encoding="utf-8"))
    defaults = publication_defaults()
    return SurveyRules(
        crime_types=tuple(str(item["crime_type"]) for item in survey["crime_types"]),
        violent_types=tuple(str(t) for t in survey["violent_crime_types"]),
        cv_caution=float(defaults["survey_cv_caution"]),
        cv_suppress=float(defaults["survey_cv_suppress"]),
        min_base=int(defaults["survey_min_base"]),
    )


def verdict(estimate: float | None, cv: float | None, base: int, rules: SurveyRules) -> Verdict:
    """`suppressed` on too small a base, above the suppression CV or without a CV;
    `imprecise` above the caution CV; `published` otherwise."""
    if estimate is None or cv is None or not math.isfinite(cv) or base < rules.min_base:
        return "suppressed"
    if cv > rules.cv_suppress:
        return "suppressed"
    return "imprecise" if cv > rules.cv_caution else "published"


def respondent_columns(rules: SurveyRules) -> list[str]:
    """The 0/1 columns `estimate_year` needs beside stratum, psu, weight and department."""
    return [f"{kind}_{t}" for t in rules.crime_types for kind in ("victim", "reported")]


def estimate_year(
    respondents: Iterable[dict[str, Any]], survey_year: int, rules: SurveyRules | None = None
) -> list[SurveyEstimate]:
    """Every estimate of one survey year from its respondents.

    Each respondent is a mapping with `stratum`, `psu`, `weight`, `department_code` and, per
    crime type, `victim_<type>` and `reported_<type>` (1/0; reported is 0 for non-victims).
    """
    import polars as pl

    rules = rules or load_rules()
    frame = pl.DataFrame(list(respondents))
    if frame.is_empty():
        return []
    victims = [f"victim_{t}" for t in rules.crime_types]
    violent = [f"victim_{t}" for t in rules.violent_types]
    violent_reported = [f"reported_{t}" for t in rules.violent_types]
    frame = frame.with_columns(
        pl.col("weight").cast(pl.Float64),
        pl.col("psu").cast(pl.Utf8),
        pl.col("stratum").cast(pl.Utf8),
        pl.col("department_code").cast(pl.Utf8),
        *(pl.col(c).cast(pl.Float64).fill_null(0.0) for c in respondent_columns(rules)),
    ).with_columns(
        pl.max_horizontal(victims).alias("victim_any"),
        pl.max_horizontal(violent).alias("victim_violent"),
        pl.max_horizontal(violent_reported).alias("reported_violent"),
    )
    sample = _sample(frame)
    rows: list[SurveyEstimate] = []
    types = [*rules.crime_types, "any"]
    rated = [*rules.crime_types, "violent"]
    for level, by in (("national", None), ("department", "department_code")):
        bases = _bases(frame, by, [f"victim_{t}" for t in rated])
        prevalences = _estimates(sample, "mean", [f"victim_{t}" for t in types], by)
        for crime_type, found in zip(types, prevalences, strict=True):
            for row in found:
                code = "00" if by is None else str(row[by])
                base = bases[code]["respondents"]
                rows.append(
                    _cell(
                        row, survey_year, level, code, "prevalence", crime_type, base, base, rules
                    )
                )
        for crime_type in rated:
            victim = f"victim_{crime_type}"
            found = _estimates(sample, "ratio", [f"reported_{crime_type}"], by, victim)[0]
            for row in found:
                code = "00" if by is None else str(row[by])
                total = bases[code]["respondents"]
                base = bases[code][victim]
                rows.append(
                    _cell(
                        row,
                        survey_year,
                        level,
                        code,
                        "reporting_rate",
                        crime_type,
                        total,
                        base,
                        rules,
                    )
                )
    return rows


def _bases(frame: Any, by: str | None, victims: list[str]) -> dict[str, dict[str, int]]:
    """Per domain code: its respondents, and its respondents who were victims of each type."""
    import polars as pl

    grouped = (
        frame.with_columns(
            pl.lit("00").alias("_domain") if by is None else pl.col(by).alias("_domain")
        )
        .group_by("_domain")
        .agg(pl.len().alias("respondents"), *((pl.col(v) > 0).sum().alias(v) for v in victims))
    )
    return {
        str(row.pop("_domain")): {k: int(v) for k, v in row.items()} for row in grouped.to_dicts()
    }


def _sample(frame: Any) -> Any:
    import svy

    design = svy.Design(stratum="stratum", psu="psu", wgt="weight")
    return svy.Sample(data=frame, design=design)


def _estimates(
    sample: Any, kind: str, ys: Sequence[str], by: str | None, x: str | None = None
) -> list[list[dict[str, Any]]]:
    """One list of result rows (one per domain) per y, in the order of `ys`."""
    from svy.estimation.estimate import Estimate

    estimation = sample.estimation
    if kind == "mean":
        found = estimation.mean(y=list(ys), by=by, method="taylor")
    else:
        found = estimation.ratio(y=list(ys), x=x, by=by, method="taylor")
    results = [found] if isinstance(found, Estimate) else list(found)
    return [result.to_polars().to_dicts() for result in results]


def _cell(
    row: dict[str, Any],
    survey_year: int,
    level: str,
    code: str,
    measure: Measure,
    crime_type: str,
    respondents: int,
    base: int,
    rules: SurveyRules,
) -> SurveyEstimate:
    estimate = _number(row.get("est")) if base else None
    cv = _number(row.get("cv")) if base else None
    return SurveyEstimate(
        survey_year=survey_year,
        domain_level=level,
        domain_code=code,
        measure=measure,
        crime_type=crime_type,
        estimate=estimate,
        standard_error=_number(row.get("se")) if base else None,
        lower_95=_number(row.get("lci")) if base else None,
        upper_95=_number(row.get("uci")) if base else None,
        cv=cv,
        degrees_of_freedom=int(row.get("df") or 0),
        respondents=respondents,
        base_respondents=base,
        verdict=verdict(estimate, cv, base, rules),
    )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
