"""Gate for court judgements (`raw.justice__judgements`): the domain checks.

The rule "judgement after the case was opened" needs the case's opening date, which is in
another table: it cannot be checked on a judgements batch alone, so it is enforced in dbt
(`fct_court_judgements.days_from_case_opening >= 0`, a check constraint of the mart's
contract). Here the batch-local form holds: a version is never older than its row. The
contract's checks (columns, key, patterns, sentences never negative, dates never in the
future) are generated.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import CRITICAL
from expectations.context import SuiteContext

VERDICTS = ["condena", "absolucion"]
STATUSES = ["primera_instancia", "firme"]
# Longest prison sentence the penal code allows, in months (50 years), with margin for
# accumulated sentences.
MAX_SENTENCE_MONTHS = 720


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="verdict", value_set=VERDICTS, severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="sentence_months", max_value=MAX_SENTENCE_MONTHS, severity=CRITICAL
        )
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
