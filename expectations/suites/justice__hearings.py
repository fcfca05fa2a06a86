"""Gate for court hearings (`raw.justice__hearings`).

`scheduled_date` may legitimately lie in the future (a hearing set for next month), so
only the record timestamps are held to "never in the future".
"""

from __future__ import annotations

from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext

COLUMNS = [
    "hearing_id",
    "case_id",
    "hearing_type",
    "scheduled_date",
    "status",
    "created_at",
    "updated_at",
    "_batch_id",
    "_source_file",
    "_source_query",
    "_source_row",
    "_file_sha256",
    "_ingested_at",
    "_extra",
]
HEARING_TYPES = ["preparatoria", "juicio_oral"]
STATUSES = ["programada", "realizada", "suspendida"]


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)
    critical, warning = FailureSeverity.CRITICAL, FailureSeverity.WARNING
    end_of_today = datetime.combine(context.today, time.max)

    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS, exact_match=True, severity=critical)
    )
    for column in ("hearing_id", "case_id", "scheduled_date", "status", "updated_at"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["hearing_id", "updated_at"], severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="hearing_type", value_set=HEARING_TYPES, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=critical)
    )
    for column in ("created_at", "updated_at"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=end_of_today, severity=critical
            )
        )
    # A hearing is scheduled for a day on or after it was put on the calendar.
    for later, earlier in (("scheduled_date", "created_at"), ("updated_at", "created_at")):
        suite.add_expectation(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=later,
                column_B=earlier,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                severity=critical if later == "updated_at" else warning,
            )
        )

    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=max(1, typical // 5), severity=warning)
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=critical))
    return suite
