"""Gate for prosecution cases (`raw.justice__cases`), as a reviewer of the justice data checks them.

Each batch is one incremental pull: versions of cases changed since the last pull, plus an
overlap window, so a case appears once per version and the key is (case_id, updated_at).
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import (
    CRITICAL,
    WARNING,
    expect_in_seed,
    expect_not_in_future,
    expect_shape,
    expect_volume_like_history,
    staged_columns,
)
from expectations.context import SuiteContext

COLUMNS = staged_columns(
    "case_id",
    "report_number",
    "municipality_code",
    "municipality_name",
    "offence_code",
    "opened_date",
    "status",
    "decision",
    "decision_date",
    "court_case_id",
    "court_filed_date",
    "created_at",
    "updated_at",
)
STATUSES = [
    "en_investigacion",
    "archivada",
    "salida_alternativa",
    "acusada",
    "en_juicio",
    "sentenciada",
]
DECISIONS = ["desestimada", "salida_alternativa", "acusacion"]


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)
    # Keys: one row per case version.
    expect_shape(
        suite,
        COLUMNS,
        required=("case_id", "opened_date", "status", "created_at", "updated_at"),
        key=("case_id", "updated_at"),
    )

    # Codes in their sets and reference lists.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="decision", value_set=DECISIONS, severity=CRITICAL)
    )
    # Unknown national codes are flagged, not rejected: the coverage report shows them.
    expect_in_seed(
        suite, "offence_code", "ref_national_offences", "national_offence_code", severity=WARNING
    )
    expect_in_seed(
        suite, "municipality_code", "ref_municipalities", "municipality_code", severity=WARNING
    )

    expect_not_in_future(
        suite,
        context,
        dates=("opened_date", "decision_date", "court_filed_date"),
        timestamps=("created_at", "updated_at"),
    )

    # Cross-field rules: a case is decided after it was opened, taken to court on or after
    # the decision, and a version is never older than the row it updates.
    for later, earlier in (
        ("decision_date", "opened_date"),
        ("court_filed_date", "decision_date"),
        ("updated_at", "created_at"),
    ):
        suite.add_expectation(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=later,
                column_B=earlier,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                severity=CRITICAL,
            )
        )

    # Volume against history: a pull 80 % smaller than usual is suspect, but incremental
    # pulls legitimately vary, so it is only a warning.
    expect_volume_like_history(suite, context)
    return suite
