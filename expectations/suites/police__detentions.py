"""Gate for police detentions (`raw.police__detentions`), as a police-data reviewer checks them."""

from __future__ import annotations

from datetime import date, datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.row_conditions import Column

from expectations.context import SuiteContext, seed_values

# The columns a staged batch must have: the contract's output plus provenance.
COLUMNS = [
    "detention_id",
    "recorded_at",
    "detention_date",
    "detention_time",
    "municipality_reported",
    "municipality_name",
    "report_id",
    "offence_code",
    "offence_name",
    "detainee_national_id_pseudonym",
    "detainee_national_id_status",
    "detainee_name_pseudonym",
    "detainee_name_tokens",
    "detainee_sex",
    "detainee_age",
    "legal_basis",
    "hours_held",
    "handed_to_prosecutor",
    "_batch_id",
    "_source_file",
    "_source_query",
    "_source_row",
    "_file_sha256",
    "_ingested_at",
    "_extra",
]
LEGAL_BASES = ["flagrancia", "orden judicial", "otro"]
# The constitutional limit before a detainee must be brought before a judge.
LEGAL_HOURS_LIMIT = 48
# A month in police custody is not a detention record, it is a data-entry error.
MAX_PLAUSIBLE_HOURS = 720
EARLIEST = date(2000, 1, 1)
ONE_REGISTRATION_DAY = (
    "select * from {batch} where cast(recorded_at as date)"
    " <> (select min(cast(recorded_at as date)) from {batch})"
)


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)
    critical, warning, info = (
        FailureSeverity.CRITICAL,
        FailureSeverity.WARNING,
        FailureSeverity.INFO,
    )
    end_of_today = datetime.combine(context.today, time.max)

    # Schema and keys.
    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS, exact_match=True, severity=critical)
    )
    for column in ("detention_id", "recorded_at", "detention_date", "municipality_reported"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["detention_id", "recorded_at"], severity=critical
        )
    )

    # Dates: never in the future, not absurdly old, and not recorded before they happened.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="detention_date", max_value=context.today, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="recorded_at", max_value=end_of_today, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnMinToBeBetween(
            column="detention_date", min_value=EARLIEST, severity=warning
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recorded_at",
            column_B="detention_date",
            or_equal=True,
            mostly=0.99,
            severity=warning,
        )
    )
    # A daily drop holds the detentions registered on one day: the batch window.
    suite.add_expectation(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=ONE_REGISTRATION_DAY,
            description="Every row of a daily file is registered on the same day.",
            severity=warning,
        )
    )

    # Plausible values; the contract already bounds them, this proves it held.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="detainee_age", min_value=0, max_value=110, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(column="hours_held", min_value=0, severity=critical)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="hours_held", max_value=MAX_PLAUSIBLE_HOURS, severity=warning
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="detainee_sex", value_set=["M", "F", "I"], severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="legal_basis", value_set=LEGAL_BASES, severity=warning
        )
    )

    # Cross-field: a detention in flagrante follows a crime, so it names the offence.
    suite.add_expectation(
        gxe.ExpectColumnValuesToNotBeNull(
            column="offence_code",
            row_condition=Column("legal_basis") == "flagrancia",
            severity=warning,
        )
    )

    # Reference lists.
    offences = sorted(seed_values("ref_national_offences", "national_offence_code"))
    if offences:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="offence_code", value_set=offences, severity=warning
            )
        )
    municipalities = sorted(seed_values("ref_municipalities", "municipality_code"))
    if municipalities:
        # Clerks type names where codes belong; the fact resolves them, but many is suspect.
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="municipality_reported",
                value_set=municipalities,
                mostly=0.9,
                severity=warning,
            )
        )

    # Distributions: unknown sex, missing IDs and long detentions point at a broken export.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="detainee_sex", value_set=["M", "F"], mostly=0.9, severity=warning
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="detainee_national_id_status", value_set=["valid"], mostly=0.8, severity=info
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="hours_held", max_value=LEGAL_HOURS_LIMIT, mostly=0.8, severity=info
        )
    )

    # Volume against history: a batch 80 % smaller than usual is suspect.
    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=max(1, typical // 5), severity=warning)
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=critical))
    return suite
