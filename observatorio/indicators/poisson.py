"""Exact (Garwood) 95 % Poisson intervals for the counts behind rates, and their seed.

A rate built on a count of x events has the exact interval of the Poisson mean
[chi2(0.025; 2x) / 2, chi2(0.975; 2x + 2) / 2] (Garwood 1936), scaled like the rate.
PostgreSQL has no chi-square quantile, so the warehouse takes the bounds of counts
0..`SEED_MAX_COUNT` from the lookup seed `ref_poisson_exact_95` this module writes with
scipy (`python -m observatorio.indicators.poisson`, also run by `make indicators`), and
above it the Wilson-Hilferty cube-root approximation of the chi-square quantile (macro
`poisson_exact_95`), whose relative error is below 6e-7 from 1,000 on and falls with the
count: far under the decimals any rate is published with. A lookup (not an iterative
inverse incomplete gamma in PL/pgSQL) keeps the SQL a join anyone can read, and keeps the
exact values those of the reference implementation. Tests compare what the warehouse
computes with scipy for counts 0 to 200 and the approximation above the seed's end.
"""

from __future__ import annotations

import csv
import io
import math
import sys

from observatorio.indicators.definitions import DEFINITIONS_DIR

SEED = DEFINITIONS_DIR.parent / "seeds" / "ref_poisson_exact_95.csv"
SEED_MAX_COUNT = 1000
# The standard normal 97.5 % quantile.
Z_975 = 1.959963984540054


def exact_bounds(count: int) -> tuple[float, float]:
    """The Garwood 95 % bounds of a Poisson mean for `count` events (scipy)."""
    from scipy.stats import chi2

    lower = 0.0 if count == 0 else float(chi2.ppf(0.025, 2 * count)) / 2
    upper = float(chi2.ppf(0.975, 2 * count + 2)) / 2
    return lower, upper


def approximate_bounds(count: int) -> tuple[float, float]:
    """Wilson-Hilferty's approximation of the same bounds, as the macro computes it."""
    lower = count * (1 - 1 / (9 * count) - Z_975 / (3 * math.sqrt(count))) ** 3
    following = count + 1
    upper = following * (1 - 1 / (9 * following) + Z_975 / (3 * math.sqrt(following))) ** 3
    return lower, upper


def seed_text(max_count: int = SEED_MAX_COUNT) -> str:
    """`ref_poisson_exact_95.csv`: count, lower_95, upper_95 for counts 0..max_count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("event_count", "lower_95", "upper_95"))
    for count in range(max_count + 1):
        lower, upper = exact_bounds(count)
        writer.writerow((count, f"{lower:.12g}", f"{upper:.12g}"))
    return out.getvalue()


def main() -> int:
    SEED.write_text(seed_text(), encoding="utf-8")
    print(f"wrote {SEED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
