"""Gate for court hearings (`raw.justice__hearings`).

`scheduled_date` may legitimately lie in the future (a hearing set for next month), so
only the record timestamps are held to "never in the future".
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import (
    CRITICAL,
    WARNING,
    expect_not_in_future,
    expect_shape,
    expect_volume_like_history,
    staged_columns,
)
from expectations.context import SuiteContext

COLUMNS = staged_columns(
    "hearing_id",
    "case_id",
    "hearing_type",
    "scheduled_date",
    "status",
    "created_at",
    "updated_at",
)
HEARING_TYPES = ["preparatoria", "juicio_oral"]
STATUSES = ["programada", "realizada", "suspendida"]


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)

    expect_shape(
        suite,
        COLUMNS,
        required=("hearing_id", "case_id", "scheduled_date", "status", "updated_at"),
        key=("hearing_id", "updated_at"),
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="hearing_type", value_set=HEARING_TYPES, severity=CRITICAL
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=CRITICAL)
    )
    expect_not_in_future(suite, context, timestamps=("created_at", "updated_at"))
    # A hearing is scheduled for a day on or after it was put on the calendar.
    for later, earlier in (("scheduled_date", "created_at"), ("updated_at", "created_at")):
        suite.add_expectation(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=later,
                column_B=earlier,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                severity=CRITICAL if later == "updated_at" else WARNING,
            )
        )

    expect_volume_like_history(suite, context)
    return suite
