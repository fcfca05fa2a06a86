"""Gate for court judgements (`raw.justice__judgements`).

The rule "judgement after the case was opened" needs the case's opening date, which is in
another table: it cannot be checked on a judgements batch alone, so it is enforced in dbt
(`fct_court_judgements.days_from_case_opening >= 0`, a check constraint of the mart's
contract). Here the batch-local form holds: a version is never older than its row.
"""

from __future__ import annotations

from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext

COLUMNS = [
    "judgement_id",
    "case_id",
    "party_id",
    "judgement_date",
    "verdict",
    "sentence_months",
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
VERDICTS = ["condena", "absolucion"]
STATUSES = ["primera_instancia", "firme"]
# Longest prison sentence the penal code allows, in months (50 years), with margin for
# accumulated sentences.
MAX_SENTENCE_MONTHS = 720


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)
    critical, warning = FailureSeverity.CRITICAL, FailureSeverity.WARNING
    end_of_today = datetime.combine(context.today, time.max)

    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS, exact_match=True, severity=critical)
    )
    for column in ("judgement_id", "case_id", "party_id", "judgement_date", "verdict"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["judgement_id", "updated_at"], severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="verdict", value_set=VERDICTS, severity=critical)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=critical)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="sentence_months", min_value=0, max_value=MAX_SENTENCE_MONTHS, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="judgement_date", max_value=context.today, severity=critical
        )
    )
    for column in ("created_at", "updated_at"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=end_of_today, severity=critical
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="updated_at",
            column_B="created_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=critical,
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
