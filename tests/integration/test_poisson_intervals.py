"""Exact Poisson intervals of rates, as PostgreSQL computes them, against scipy.

The macro `poisson_exact_95` (seed `ref_poisson_exact_95` up to 1,000 events, the
Wilson-Hilferty approximation above) is rendered by dbt and run in the warehouse for
counts 0 to 200 and a few large counts; every bound must equal scipy's
`chi2.ppf(0.025, 2x) / 2` and `chi2.ppf(0.975, 2x + 2) / 2`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from scipy.stats import chi2

from observatorio.indicators import poisson
from observatorio.transform.dbt import run_dbt

LARGE = [1001, 1500, 5000, 25000, 250000]


def _scipy(count: int) -> tuple[float, float]:
    lower = 0.0 if count == 0 else chi2.ppf(0.025, 2 * count) / 2
    return float(lower), float(chi2.ppf(0.975, 2 * count + 2) / 2)


@pytest.fixture(scope="module")
def bounds(settings: Any, warehouse_url: str) -> dict[int, tuple[Decimal, Decimal]]:
    run_dbt(["seed", "--select", "ref_poisson_exact_95"], settings)
    counts = ", ".join(f"({n})" for n in [*range(201), *LARGE])
    # `events`, not the seed's own `event_count`, which the macro's subquery would shadow.
    sql = (
        "select counts.events,"
        " {{ poisson_exact_95('counts.events', 'lower') }} as lower_95,"
        " {{ poisson_exact_95('counts.events', 'upper') }} as upper_95"
        f" from (values {counts}) as counts (events)"
    )
    result = run_dbt(["show", "--inline", sql, "--limit", "-1"], settings)
    table = result.results[0].agate_table
    return {int(row[0]): (Decimal(str(row[1])), Decimal(str(row[2]))) for row in table.rows}


def test_bounds_of_counts_0_to_200_equal_scipy(bounds: dict[int, tuple[Decimal, Decimal]]) -> None:
    assert sorted(n for n in bounds if n <= 200) == list(range(201))
    for count in range(201):
        lower, upper = _scipy(count)
        found_lower, found_upper = bounds[count]
        assert float(found_lower) == pytest.approx(lower, rel=1e-10, abs=1e-12), count
        assert float(found_upper) == pytest.approx(upper, rel=1e-10), count
    assert bounds[0][0] == 0 and float(bounds[0][1]) == pytest.approx(3.688879454, rel=1e-9)


def test_bounds_above_the_seed_are_approximated_within_a_millionth(
    bounds: dict[int, tuple[Decimal, Decimal]],
) -> None:
    for count in LARGE:
        lower, upper = _scipy(count)
        found_lower, found_upper = bounds[count]
        assert float(found_lower) == pytest.approx(lower, rel=1e-6), count
        assert float(found_upper) == pytest.approx(upper, rel=1e-6), count
        # And the approximation is not the exact value by accident: it is the formula.
        assert float(found_lower) == pytest.approx(poisson.approximate_bounds(count)[0], rel=1e-12)


def test_the_seed_is_scipy_to_twelve_digits() -> None:
    lines = poisson.seed_text(max_count=30).splitlines()[1:]
    for line in lines:
        count, lower, upper = line.split(",")
        expected = _scipy(int(count))
        assert float(lower) == pytest.approx(expected[0], rel=1e-11, abs=1e-15)
        assert float(upper) == pytest.approx(expected[1], rel=1e-11)
