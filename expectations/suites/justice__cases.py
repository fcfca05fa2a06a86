"""Gate for prosecution cases (`raw.justice__cases`), as a reviewer of the justice data checks them.

Each batch is one incremental pull: versions of cases changed since the last pull, plus an
overlap window, so a case appears once per version and the key is (case_id, updated_at).
The contract's checks (columns, key, patterns, dates never in the future) are generated.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import CRITICAL, WARNING, expect_in_seed
from expectations.context import SuiteContext

STATUSES = [
    "en_investigacion",
    "archivada",
    "salida_alternativa",
    "acusada",
    "en_juicio",
    "sentenciada",
]
DECISIONS = ["desestimada", "salida_alternativa", "acusacion"]


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
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
