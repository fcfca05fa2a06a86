"""The checks suites make in the same way, so each suite says only what is its own.

`expectations.generated` builds every batch suite's contract checks from these blocks (the
key, dates never in the future) and ends it with the batch's volume against the source's
recent history; suite modules (`expectations/suites/<source>__<entity>.py`) use them for
their domain checks (codes from a reference seed, a person's fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any, ClassVar

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.constants import MAX_RESULT_RECORDS
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext, seed_values

CRITICAL = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING
INFO = FailureSeverity.INFO

# A batch this much smaller than the source's typical batch is suspect (an export cut short).
VOLUME_DROP_FACTOR = 5


# The column of the key query counting the duplicated keys (every row carries the total).
DUPLICATED_KEYS = "duplicated_keys"


class ExpectKeyToBeUnique(gxe.UnexpectedRowsExpectation):
    """GX's unexpected-rows expectation in one pass over the batch.

    The core expectation runs its query twice, once for a sample of the rows and once
    wrapped in `count(*)` (14-22 s each over a 10M-row batch). This one's query counts its
    own rows (`count(*) over ()`, see `expect_unique_key`), so the sample alone says how
    many keys are duplicated: every returned row carries the total, and none means none.
    """

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        rows = metrics["unexpected_rows_query.table"]
        count = int(rows[0][DUPLICATED_KEYS]) if rows else 0
        return {"success": count == 0, "result": {"observed_value": count}}


# What `expect_unique_key` is called in results and messages: the class's name, snake-cased.
UNIQUE_KEY_CHECK = ExpectKeyToBeUnique.expectation_type


def expect_unique_key(suite: gx.ExpectationSuite, key: Sequence[str]) -> None:
    """Critical: no two rows share the key (rows whose key is wholly missing are not compared).

    One grouped aggregate, where GX's compound-uniqueness expectation joins the table to its
    own group counts and then scans it again for samples: on a 1M-row batch 0.9 s against 6.7
    s; read once (`ExpectKeyToBeUnique`), returning at most the rows GX keeps. The key columns
    come from the contract or the suite's code, never from the batch.
    """
    columns = ", ".join(f'"{c}"' for c in key)
    suite.add_expectation(
        ExpectKeyToBeUnique(
            unexpected_rows_query=(
                f"select {columns}, count(*) as copies, count(*) over () as {DUPLICATED_KEYS}"
                f" from {{batch}} where num_nonnulls({columns}) > 0 group by {columns}"
                f" having count(*) > 1 limit {MAX_RESULT_RECORDS}"
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
