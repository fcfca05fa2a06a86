"""Gate for court judgements (`raw.justice__judgements`).

The rule "judgement after the case was opened" needs the case's opening date, which is in
another table: it cannot be checked on a judgements batch alone, so it is enforced in dbt
(`fct_court_judgements.days_from_case_opening >= 0`, a check constraint of the mart's
contract). Here the batch-local form holds: a version is never older than its row.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import (
    CRITICAL,
    expect_not_in_future,
    expect_shape,
    expect_volume_like_history,
    staged_columns,
)
from expectations.context import SuiteContext

COLUMNS = staged_columns(
    "judgement_id",
    "case_id",
    "party_id",
    "judgement_date",
    "verdict",
    "sentence_months",
    "status",
    "created_at",
    "updated_at",
)
VERDICTS = ["condena", "absolucion"]
STATUSES = ["primera_instancia", "firme"]
# Longest prison sentence the penal code allows, in months (50 years), with margin for
# accumulated sentences.
MAX_SENTENCE_MONTHS = 720


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)

    expect_shape(
        suite,
        COLUMNS,
        required=("judgement_id", "case_id", "party_id", "judgement_date", "verdict"),
        key=("judgement_id", "updated_at"),
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="verdict", value_set=VERDICTS, severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="sentence_months", min_value=0, max_value=MAX_SENTENCE_MONTHS, severity=CRITICAL
        )
    )
    expect_not_in_future(
        suite, context, dates=("judgement_date",), timestamps=("created_at", "updated_at")
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="updated_at",
            column_B="created_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=CRITICAL,
        )
    )

    expect_volume_like_history(suite, context)
    return suite
