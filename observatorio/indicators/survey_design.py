"""Design-based estimates of the victimisation survey, with their sampling error.

A small adapter over `svy` (the maintained successor of samplics): the survey's design
(strata, primary sampling units, weights) goes in, and every estimate the warehouse publishes
comes out with its standard error by Taylor linearisation, its 95 % interval (Student's t on
the design's degrees of freedom), its coefficient of variation and the publication verdict of
`_publication.yml` (`survey_cv_caution`, `survey_cv_suppress`), or of the country profile's
`publication:` where it sets its own.

What is estimated, per survey year, for the nation and for each department, each for everyone
(sex and age group `all`), by the respondent's sex and by age group (the breakdowns of the
indicator marts, `definitions.DISAGGREGATIONS`; see BREAKDOWNS). Each is a domain, estimated
over the full design with the variable zero outside it (svy's `by=`, never a subset of the
sample), so its variance accounts for its sample size being random and keeps every stratum
and primary sampling unit:
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

from observatorio.indicators.definitions import (
    DEFINITIONS_DIR,
    DISAGGREGATIONS,
    publication_defaults,
)

Measure = Literal["prevalence", "reporting_rate"]
Verdict = Literal["published", "imprecise", "suppressed"]

# The areas estimated (level, the respondent's column giving its code, None: the nation `00`)
# and, in each, the breakdowns: the `all` totals and each of the definitions' DISAGGREGATIONS
# alone (by sex, by age group). Not their cross: at the survey's 3,000 respondents a sex-by-age
# group domain has about 100 respondents nationally and 20 in a department, and 93 % and 99 %
# of its cells fell under the publication rules in a trial, while it doubled the estimation
# time (svy's cost grows with the domains).
AREAS: tuple[tuple[str, str | None], ...] = (("national", None), ("department", "department_code"))
BREAKDOWNS: tuple[tuple[str, ...], ...] = ((), *((name,) for name in DISAGGREGATIONS))
# A domain's key in the frame: area code, sex and age group (`all` where not broken down).
_SEPARATOR = "|"


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
    sex: str  # M | F | all (unknown where the answer lacks it)
    age_group: str  # the respondent's age group, or all
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
    """The 0/1 columns `estimate_year` needs beside the design, department, sex and age group."""
    return [f"{kind}_{t}" for t in rules.crime_types for kind in ("victim", "reported")]


def estimate_year(
    respondents: Iterable[dict[str, Any]], survey_year: int, rules: SurveyRules | None = None
) -> list[SurveyEstimate]:
    """Every estimate of one survey year from its respondents, in every domain.

    Each respondent is a mapping with `stratum`, `psu`, `weight`, `department_code`, `sex`,
    `age_group` and, per crime type, `victim_<type>` and `reported_<type>` (1/0; reported is 0
    for non-victims).
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
        *(pl.col(c).cast(pl.Utf8).fill_null("unknown") for c in DISAGGREGATIONS),
        *(pl.col(c).cast(pl.Float64).fill_null(0.0) for c in respondent_columns(rules)),
    ).with_columns(
        pl.max_horizontal(victims).alias("victim_any"),
        pl.max_horizontal(violent).alias("victim_violent"),
        pl.max_horizontal(violent_reported).alias("reported_violent"),
        *(
            _domain_key(area, by).alias(_domain_column(level, by))
            for level, area in AREAS
            for by in BREAKDOWNS
        ),
    )
    sample = _sample(frame)
    rows: list[SurveyEstimate] = []
    for level, _area in AREAS:
        for by in BREAKDOWNS:
            domain = _domain_column(level, by)
            rows += _partition_cells(sample, frame, level, domain, survey_year, rules)
    return rows


def _partition_cells(
    sample: Any, frame: Any, level: str, domain: str, survey_year: int, rules: SurveyRules
) -> list[SurveyEstimate]:
    """The cells of one partition of the respondents into domains (`domain`, their key)."""
    types = [*rules.crime_types, "any"]
    rated = [*rules.crime_types, "violent"]
    bases = _bases(frame, domain, [f"victim_{t}" for t in rated])
    cells: list[SurveyEstimate] = []
    prevalences = _estimates(sample, "mean", [f"victim_{t}" for t in types], domain)
    for crime_type, found in zip(types, prevalences, strict=True):
        for row in found:
            adults = bases[row["domain"]]["respondents"]
            cells.append(
                _cell(row, survey_year, level, "prevalence", crime_type, adults, adults, rules)
            )
    for crime_type in rated:
        victim = f"victim_{crime_type}"
        for row in _estimates(sample, "ratio", [f"reported_{crime_type}"], domain, victim)[0]:
            counts = bases[row["domain"]]
            cells.append(
                _cell(
                    row,
                    survey_year,
                    level,
                    "reporting_rate",
                    crime_type,
                    counts["respondents"],
                    counts[victim],
                    rules,
                )
            )
    return cells


def _domain_column(level: str, by: tuple[str, ...]) -> str:
    return "_".join(("_domain", level, *by))


def _domain_key(area: str | None, by: tuple[str, ...]) -> Any:
    """A respondent's domain in one partition: `<area>|<sex>|<age group>`, `all` where the
    partition does not break down by it (`00` the nation's area)."""
    import polars as pl

    parts = [pl.lit("00") if area is None else pl.col(area)]
    parts += [pl.col(name) if name in by else pl.lit("all") for name in DISAGGREGATIONS]
    return pl.concat_str(parts, separator=_SEPARATOR)


def _bases(frame: Any, domain: str, victims: list[str]) -> dict[str, dict[str, int]]:
    """Per domain key: its respondents, and its respondents who were victims of each type."""
    import polars as pl

    grouped = frame.group_by(domain).agg(
        pl.len().alias("respondents"), *((pl.col(v) > 0).sum().alias(v) for v in victims)
    )
    return {str(row.pop(domain)): {k: int(v) for k, v in row.items()} for row in grouped.to_dicts()}


def _sample(frame: Any) -> Any:
    import svy

    design = svy.Design(stratum="stratum", psu="psu", wgt="weight")
    return svy.Sample(data=frame, design=design)


def _estimates(
    sample: Any, kind: str, ys: Sequence[str], by: str, x: str | None = None
) -> list[list[dict[str, Any]]]:
    """One list of result rows (one per domain of `by`, its key as `domain`) per y, in the
    order of `ys`. Read from svy's estimates as they are: its table view sorts them for
    display, which costs more than the estimation at thousands of domains."""
    from svy.estimation.estimate import Estimate

    estimation = sample.estimation
    if kind == "mean":
        found = estimation.mean(y=list(ys), by=by, method="taylor")
    else:
        found = estimation.ratio(y=list(ys), x=x, by=by, method="taylor")
    results = [found] if isinstance(found, Estimate) else list(found)
    return [
        [{**estimate.to_dict(), "domain": _domain_of(estimate)} for estimate in result.estimates]
        for result in results
    ]


def _domain_of(estimate: Any) -> str:
    """The domain key of one of svy's estimates made `by` one column."""
    if not estimate.by_level:
        raise ValueError(f"svy returned an estimate of {estimate.y!r} without its domain")
    return str(estimate.by_level[0])


def _cell(
    row: dict[str, Any],
    survey_year: int,
    level: str,
    measure: Measure,
    crime_type: str,
    respondents: int,
    base: int,
    rules: SurveyRules,
) -> SurveyEstimate:
    estimate = _number(row.get("est")) if base else None
    cv = _number(row.get("cv")) if base else None
    code, sex, age_group = str(row["domain"]).split(_SEPARATOR)
    return SurveyEstimate(
        survey_year=survey_year,
        domain_level=level,
        domain_code=code,
        sex=sex,
        age_group=age_group,
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
