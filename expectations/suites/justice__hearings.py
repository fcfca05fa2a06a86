"""Gate for court hearings (`raw.justice__hearings`): the domain checks.

`scheduled_date` may legitimately lie in the future (a hearing set for next month), so the
generated "never in the future" checks hold only the record timestamps to it.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import CRITICAL, WARNING
from expectations.context import SuiteContext

DATES_MAY_BE_IN_THE_FUTURE = ("scheduled_date",)
HEARING_TYPES = ["preparatoria", "juicio_oral"]
STATUSES = ["programada", "realizada", "suspendida"]


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="hearing_type", value_set=HEARING_TYPES, severity=CRITICAL
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=CRITICAL)
    )
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
