"""Recompute: an indicator cell's numerator, denominator and value from its rows alone.

Each indicator recomputes by its kind (`indicator_kind`, from its definition in
`observatorio.indicators`): sums of weights for counts, rates and shares, the median of the
days measured, weighted survey shares, reporting gaps and coverage from the records a month
of the window (`recompute`, with the window and precision of the definitions). The rows are
`FactRow`s, as `explain` reads them from `marts.fct_indicator_contributions`. Imported by
`explain` (and `openlineage` for `LineageError`). No indicator, filter or threshold is
written here: the formulas by kind mirror the dbt macro `indicator_value`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from observatorio.indicators.definitions import Indicator, Window, load_definitions


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


def indicator_kind(indicator: Indicator) -> str:
    """How a cell of the indicator recomputes from its rows (`recompute`): its kind, and
    `listed_<kind>` for rates and shares whose denominator is a sum over the rows too (cohort,
    survey, cross-source and forensic shares) rather than a population."""
    if indicator.lists_denominator and indicator.kind in {"per_100k", "share", "complement_share"}:
        return f"listed_{indicator.kind}"
    return indicator.kind


def _places(precision: int) -> Decimal:
    return Decimal(1).scaleb(-precision)


def _value(
    kind: str, numerator: Decimal, denominator: Decimal | None, precision: int
) -> Decimal | None:
    base = kind.removeprefix("listed_")
    if base in {"count", "gap"}:
        return numerator
    if denominator is None or denominator <= 0:
        return None
    if base == "median":
        return numerator
    scaled = numerator * 100000 if base == "per_100k" else numerator
    ratio = (scaled / denominator).quantize(_places(precision), rounding=ROUND_HALF_UP)
    return 1 - ratio if base == "complement_share" else ratio


def _windows(month: str, rows: Sequence[FactRow], window: Window) -> dict[str, tuple[bool, bool]]:
    """Per source (fact model) of a coverage cell: (usually reports, has records this month),
    from its records in each month of the window (`fact_key` = month, `measure` = records)."""
    by_source: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        by_source.setdefault(row.fact_model, {})[row.fact_key] = row.measure or Decimal(0)
    found: dict[str, tuple[bool, bool]] = {}
    for source, counts in by_source.items():
        before = [records for window_month, records in counts.items() if window_month < month]
        usual = (
            sum(1 for r in before if r > 0) >= window.usual_months
            and sum(before) >= window.usual_records
        )
        found[source] = (usual, counts.get(month, Decimal(0)) > 0)
    return found


def recompute(
    kind: str,
    month: str,
    rows: Sequence[FactRow],
    published_denominator: Decimal | None,
    precision: int = 6,
    window: Window | None = None,
) -> Recomputed:
    """A cell's numerator, denominator and value from its rows alone, as the mart computes
    it. Decimal throughout: survey weights are numeric and sum exactly. `precision` is the
    definition's (places of a rate or share, of a median); `window` the coverage window of
    the definitions (theirs by default)."""
    total = sum((row.weight for row in rows), Decimal(0))
    listed = sum(
        (row.denominator_weight for row in rows if row.denominator_weight is not None),
        Decimal(0),
    )
    if kind == "median":
        days = [row.measure for row in rows if row.measure is not None]
        middle = (
            Decimal(median(days)).quantize(_places(precision), rounding=ROUND_HALF_UP)
            if days
            else Decimal(0)
        )
        return Recomputed(middle, listed, _value(kind, middle, listed, precision))
    found_window = window or load_definitions().window
    if kind in {"gap", "coverage_share"} and found_window is None:
        raise LineageError(f"no coverage window in the indicator definitions for a {kind}")
    if kind == "gap":
        assert found_window is not None
        flags = _windows(month, rows, found_window).values()
        gaps = sum(1 for usual, reported in flags if usual and not reported)
        return Recomputed(Decimal(gaps), None, Decimal(gaps))
    if kind == "coverage_share":
        assert found_window is not None
        sources = [flags for flags in _windows(month, rows, found_window).values() if flags[0]]
        reporting = Decimal(sum(1 for _, reported in sources if reported))
        usual = Decimal(len(sources))
        return Recomputed(reporting, usual, _value(kind, reporting, usual, precision))
    denominator = listed if kind.startswith("listed_") else published_denominator
    return Recomputed(total, denominator, _value(kind, total, denominator, precision))
