"""Gate for prosecution cases (`raw.justice__cases`), as a reviewer of the justice data checks them.

Each batch is one incremental pull: versions of cases changed since the last pull, plus an
overlap window, so a case appears once per version and the key is (case_id, updated_at).
"""

from __future__ import annotations

from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext, seed_values

COLUMNS = [
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
    "_batch_id",
    "_source_file",
    "_source_query",
    "_source_row",
    "_file_sha256",
    "_ingested_at",
    "_extra",
]
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
    critical, warning = FailureSeverity.CRITICAL, FailureSeverity.WARNING
    end_of_today = datetime.combine(context.today, time.max)

    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS, exact_match=True, severity=critical)
    )
    # Keys: one row per case version.
    for column in ("case_id", "opened_date", "status", "created_at", "updated_at"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["case_id", "updated_at"], severity=critical
        )
    )

    # Codes in their sets and reference lists.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=critical)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="decision", value_set=DECISIONS, severity=critical)
    )
    offences = sorted(seed_values("ref_national_offences", "national_offence_code"))
    if offences:
        # Unknown national codes are flagged, not rejected: the coverage report shows them.
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="offence_code", value_set=offences, severity=warning
            )
        )
    municipalities = sorted(seed_values("ref_municipalities", "municipality_code"))
    if municipalities:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="municipality_code", value_set=municipalities, severity=warning
            )
        )

    # Dates never in the future.
    for column in ("opened_date", "decision_date", "court_filed_date"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=context.today, severity=critical
            )
        )
    for column in ("created_at", "updated_at"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=end_of_today, severity=critical
            )
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
                severity=critical,
            )
        )

    # Volume against history: a pull 80 % smaller than usual is suspect, but incremental
    # pulls legitimately vary, so it is only a warning.
    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=max(1, typical // 5), severity=warning)
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=critical))
    return suite
