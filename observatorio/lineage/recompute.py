"""Recompute: an indicator cell's numerator, denominator and value from its rows alone.

Each indicator recomputes by its kind (`indicator_kind`): sums of weights for counts, rates
and shares, the median of the days measured, weighted survey shares, reporting gaps and
coverage from the records a month of the window (`recompute`). The rows are `FactRow`s, as
`explain` reads them from `marts.fct_indicator_contributions`. Imported by `explain` (and
`openlineage` for `LineageError`); imports nothing of Observatorio.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

SIX_PLACES = Decimal("0.000001")
ONE_PLACE = Decimal("0.1")
# int_indicators__coverage: a source usually reports to a municipality when, in the 6 months
# before, it had records in at least 4 and at least 5 a month on average.
USUAL_MONTHS = 4
USUAL_RECORDS = 5 * 6

# Indicators whose numerator is not (only) a sum of weights over a denominator from elsewhere:
# code prefix -> kind. Every other indicator takes its kind from its formula (`formula_kind`).
INDICATOR_KINDS: dict[str, str] = {
    "justice_conviction_share": "listed_share",
    "justice_median_days_": "median",
    "dark_figure__": "listed_complement_share",
    "adjusted_incidence_rate__": "listed_per_100k",
    "reporting_gap__": "gap",
    "reporting_coverage_share": "coverage_share",
}


class LineageError(RuntimeError):
    """A cell, indicator or manifest that lineage cannot explain."""


@dataclass(frozen=True)
class FactRow:
    """One row behind a cell, with where it was loaded from.

    `weight` is what it adds to the numerator, `denominator_weight` to the denominator (None
    where the denominator comes from elsewhere), `measure` the days (medians) or records in
    month `fact_key` (reporting gaps and coverage).
    """

    fact_model: str
    fact_key: str
    counted_id: str | None
    weight: Decimal
    denominator_weight: Decimal | None
    measure: Decimal | None
    batch_id: str | None
    source_file: str | None
    source_row: int | None
    file_sha256: str | None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recomputed:
    """A cell's numerator, denominator and value, recomputed from its rows."""

    numerator: Decimal
    denominator: Decimal | None
    value: Decimal | None


def formula_kind(formula: str) -> str:
    """`count`, `per_100k`, `share`, `complement_share` or `median`, from the formula text of
    `ref_indicators`."""
    text = formula.strip().lower()
    if text == "numerator":
        return "count"
    if text.startswith("median("):
        return "median"
    if "100000" in text.replace(" ", "").replace(",", ""):
        return "per_100k"
    if re.match(r"1\s*[\u2212-]\s*numerator", text):
        return "complement_share"
    if "÷" in text or "/" in text:
        return "share"
    raise LineageError(
        f"ref_indicators: formula {formula!r} is not count, per 100k, share, 1 - share or median"
    )


def indicator_kind(indicator_code: str, formula: str) -> str:
    """How a cell of the indicator recomputes from its rows (`recompute`).

    `listed_*` kinds take the denominator from the rows' `denominator_weight` too (cohort and
    survey shares); the others (except medians, gaps and coverage) from the published cell.
    """
    for prefix, kind in INDICATOR_KINDS.items():
        if indicator_code == prefix or (prefix.endswith("_") and indicator_code.startswith(prefix)):
            return kind
    return formula_kind(formula)


def apply_formula(formula: str, numerator: Decimal, denominator: Decimal | None) -> Decimal | None:
    """The value as the mart computes it (macros per_100k / safe_ratio: 6 places, half up)."""
    return _value(formula_kind(formula), numerator, denominator)


def _value(kind: str, numerator: Decimal, denominator: Decimal | None) -> Decimal | None:
    base = kind.removeprefix("listed_")
    if base in {"count", "gap"}:
        return numerator
    if denominator is None or denominator <= 0:
        return None
    if base == "median":
        return numerator
    scaled = numerator * 100000 if base == "per_100k" else numerator
    ratio = (scaled / denominator).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)
    return 1 - ratio if base == "complement_share" else ratio


def _windows(month: str, rows: Sequence[FactRow]) -> dict[str, tuple[bool, bool]]:
    """Per source (fact model) of a coverage cell: (usually reports, has records this month),
    from its records in each month of the window (`fact_key` = month, `measure` = records)."""
    by_source: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        by_source.setdefault(row.fact_model, {})[row.fact_key] = row.measure or Decimal(0)
    found: dict[str, tuple[bool, bool]] = {}
    for source, counts in by_source.items():
        before = [records for window_month, records in counts.items() if window_month < month]
        usual = sum(1 for r in before if r > 0) >= USUAL_MONTHS and sum(before) >= USUAL_RECORDS
        found[source] = (usual, counts.get(month, Decimal(0)) > 0)
    return found


def recompute(
    kind: str, month: str, rows: Sequence[FactRow], published_denominator: Decimal | None
) -> Recomputed:
    """A cell's numerator, denominator and value from its rows alone, as the family computes
    it. Decimal throughout: survey weights are numeric and sum exactly."""
    total = sum((row.weight for row in rows), Decimal(0))
    listed = sum(
        (row.denominator_weight for row in rows if row.denominator_weight is not None),
        Decimal(0),
    )
    if kind == "median":
        days = [row.measure for row in rows if row.measure is not None]
        middle = (
            Decimal(median(days)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)
            if days
            else Decimal(0)
        )
        return Recomputed(middle, listed, _value(kind, middle, listed))
    if kind == "gap":
        flags = _windows(month, rows).values()
        gaps = sum(1 for usual, reported in flags if usual and not reported)
        return Recomputed(Decimal(gaps), None, Decimal(gaps))
    if kind == "coverage_share":
        sources = [flags for flags in _windows(month, rows).values() if flags[0]]
        reporting = Decimal(sum(1 for _, reported in sources if reported))
        usual = Decimal(len(sources))
        return Recomputed(reporting, usual, _value(kind, reporting, usual))
    denominator = listed if kind.startswith("listed_") else published_denominator
    return Recomputed(total, denominator, _value(kind, total, denominator))
