"""The checks suites make in the same way, so each suite says only what is its own.

`expectations.generated` builds every batch suite's contract checks from these blocks (the
key, dates never in the future) and ends it with the batch's volume against the source's
recent history; suite modules (`expectations/suites/<source>__<entity>.py`) use them for
their domain checks (codes from a reference seed, a person's fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext, seed_values

CRITICAL = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING
INFO = FailureSeverity.INFO

# A batch this much smaller than the source's typical batch is suspect (an export cut short).
VOLUME_DROP_FACTOR = 5


# Names what `expect_unique_key` checks in results and messages (GX records it under the
# generic `unexpected_rows_expectation`).
UNIQUE_KEY_CHECK = "expect_key_to_be_unique"


def expect_unique_key(suite: gx.ExpectationSuite, key: Sequence[str]) -> None:
    """Critical: no two rows share the key (rows whose key is wholly missing are not compared).

    One grouped aggregate, where GX's compound-uniqueness expectation joins the table to its
    own group counts and then scans it again for samples: on a 1M-row batch 0.9 s against 6.7
    s. The key columns come from the contract or the suite's code, never from the batch.
    """
    columns = ", ".join(f'"{c}"' for c in key)
    suite.add_expectation(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                f"select {columns}, count(*) as copies from {{batch}}"
                f" where num_nonnulls({columns}) > 0 group by {columns} having count(*) > 1"
            ),
            description=f"Each key ({', '.join(key)}) appears on one row of the batch only.",
            severity=CRITICAL,
            meta={"check": UNIQUE_KEY_CHECK, "column_list": list(key)},
        )
    )


def expect_not_in_future(
    suite: gx.ExpectationSuite,
    context: SuiteContext,
    *,
    dates: Sequence[str] = (),
    timestamps: Sequence[str] = (),
) -> None:
    """Critical, row by row: no date after the run's day, no timestamp after its end."""
    end_of_today = datetime.combine(context.today, time.max)
    for column in dates:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=context.today, severity=CRITICAL
            )
        )
    for column in timestamps:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=end_of_today, severity=CRITICAL
            )
        )


def expect_in_seed(
    suite: gx.ExpectationSuite,
    column: str,
    seed: str,
    seed_column: str,
    *,
    severity: FailureSeverity,
    mostly: float | None = None,
) -> None:
    """The column's values come from a reference seed; skipped while the seed is absent."""
    values = sorted(seed_values(seed, seed_column))
    if not values:
        return
    if mostly is None:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values, severity=severity)
        )
    else:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column=column, value_set=values, mostly=mostly, severity=severity
            )
        )


def expect_person_fields(
    suite: gx.ExpectationSuite, *, sex: str, id_status: str, valid_share: float
) -> None:
    """A person's sex is rarely unknown (`I`), and most IDs check out.

    That sex is coded at all (M/F/I) is the contract's `allowed`, checked by the generated suite.
    """
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column=sex, value_set=["M", "F"], mostly=0.9, severity=WARNING
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column=id_status, value_set=["valid"], mostly=valid_share, severity=INFO
        )
    )


def expect_volume_like_history(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    """Warn when a batch is far smaller than the source's typical one; never accept it empty."""
    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(
                min_value=max(1, typical // VOLUME_DROP_FACTOR), severity=WARNING
            )
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=CRITICAL))
