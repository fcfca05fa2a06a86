"""The bulletin's numbers as a reader gets them: national monthly series and municipal
12-month figures, computed from the mart's numerators and denominators after disclosure
control, rates annualised with their exact Poisson interval and reliability flag.

The mart publishes a rate of counted events over a population as `numerator x 100 000 /
population` of the month (check `rate_factor`); the bulletin says "por 100 000 habitantes al
año", so it annualises: a month's rate x 12, a 12-month rate as the window's events over its
person-years. The reliability rule (`min_stable_numerator`) and the smallest published count
(`min_cell_size`) are each indicator's publication rules from its definition.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from observatorio.delivery.bulletin.indicators import NATIONAL_CODES, Indicators, number
from observatorio.delivery.bulletin.labels import indicator, is_counted_rate
from observatorio.indicators.definitions import Indicator
from observatorio.indicators.poisson import exact_bounds

PER = 100_000
MONTHS_A_YEAR = 12


class RateScaleError(ValueError):
    """The mart's rates are neither monthly nor annual rates of their numerator and population."""


@dataclass
class Point:
    """One published number: its value (None when suppressed or without data), its 95 %
    interval where it has one, and the numerator it rests on."""

    value: float | None
    lower: float | None = None
    upper: float | None = None
    numerator: float | None = None
    suppressed: bool = False
    unstable: bool = False


@dataclass
class Line:
    code: str
    points: dict[str, Point] = field(default_factory=dict)

    @property
    def definition(self) -> Indicator:
        return indicator(self.code)

    def at(self, month: str) -> Point | None:
        return self.points.get(month)


def rate_factor(rows: list[dict[str, Any]], code: str) -> int:
    """How many months a published rate of `code` spans per its rows: 1 (monthly) or 12."""
    for r in rows:
        if r["indicator_code"] != code:
            continue
        n, d, v = number(r["numerator"]), number(r["denominator"]), number(r["value"])
        if not n or not d or v is None:
            continue
        monthly = n * PER / d
        for factor in (1, MONTHS_A_YEAR):
            if abs(v - monthly * factor) <= 1e-3 * max(1.0, v):
                return factor
        raise RateScaleError(
            f"{code}: value {v} is neither the monthly nor the annual rate of {n} over {d}"
        )
    return 1


def _annual_rate(ind: Indicator, n: float, person_months: float) -> Point:
    """Events over person-years x 100 000, with the Garwood interval and the unstable flag."""
    scale = PER * MONTHS_A_YEAR / person_months
    low, high = exact_bounds(round(n))
    return Point(
        value=n * scale,
        lower=low * scale,
        upper=high * scale,
        numerator=n,
        unstable=n < ind.publication.min_stable_numerator,
    )


def value_of(ind: Indicator, n: float, d: float | None) -> Point:
    """A cell's published value from its numerator and denominator, per the definition."""
    if is_counted_rate(ind):
        return _annual_rate(ind, n, d) if d else Point(None)
    if ind.kind in {"count", "gap"}:
        return Point(n, numerator=n)
    if not d:
        return Point(None)
    if ind.kind == "complement_share":
        return Point(1 - n / d, numerator=n)
    if ind.kind in {"share", "coverage_share"}:
        return Point(n / d, numerator=n)
    if ind.kind == "per_100k":
        return Point(n * PER / d, numerator=n)
    return Point(None)


def _municipal(r: dict[str, Any]) -> bool:
    return (
        r["sex"] == "all"
        and r["age_group"] == "all"
        and str(r["municipality_code"]) not in NATIONAL_CODES
    )


def national_line(data: Indicators, code: str) -> Line:
    """Per month: the municipalities' numerators and denominators summed; a month whose total
    would reveal a suppressed cell (or is itself 1..min-1) is suppressed."""
    ind = indicator(code)
    months: dict[str, list[dict[str, Any]]] = defaultdict(list)
    source = None
    for r in data.of(code):
        if _municipal(r):
            months[str(r["month"])].append(r)
            source = r["source"]
    line = Line(code)
    for month, rows in sorted(months.items()):
        n = sum(number(r["numerator"]) or 0.0 for r in rows)
        dens = [number(r["denominator"]) for r in rows]
        d = sum(x for x in dens if x is not None) if any(x is not None for x in dens) else None
        hidden = (code, source or None, "all", "all", None, month) in data.hidden_totals
        small = ind.kind == "count" and 1 <= n < ind.publication.min_cell_size
        if hidden or small:
            line.points[month] = Point(None, suppressed=True)
            continue
        line.points[month] = value_of(ind, n, d)
    return line


@dataclass
class MunicipalFigure:
    code: str
    point: Point


def municipal_window(data: Indicators, code: str, months: set[str]) -> list[MunicipalFigure]:
    """Each municipality's figure over `months`: numerators and denominators summed."""
    ind = indicator(code)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    source = None
    for r in data.of(code):
        if _municipal(r) and str(r["month"]) in months:
            groups[str(r["municipality_code"])].append(r)
            source = r["source"]
    out = []
    for municipality, rows in sorted(groups.items()):
        n = sum(number(r["numerator"]) or 0.0 for r in rows)
        d = sum(number(r["denominator"]) or 0.0 for r in rows)
        hidden = (code, source, "all", "all", municipality, None) in data.hidden_totals
        if hidden or 1 <= n < ind.publication.min_cell_size:
            out.append(MunicipalFigure(municipality, Point(None, numerator=None, suppressed=True)))
            continue
        out.append(MunicipalFigure(municipality, value_of(ind, n, d or None)))
    return out
