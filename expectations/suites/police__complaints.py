"""Gate for complaints against the police (`raw.police__complaints`)."""

from __future__ import annotations

from datetime import date, datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext, seed_values

# The columns a staged batch must have: the contract's output plus provenance.
COLUMNS = [
    "complaint_id",
    "recorded_at",
    "incident_date",
    "municipality_reported",
    "municipality_name",
    "complaint_type",
    "detention_id",
    "status",
    "_batch_id",
    "_source_file",
    "_source_query",
    "_source_row",
    "_file_sha256",
    "_ingested_at",
    "_extra",
]
COMPLAINT_TYPES = [
    "abuso de autoridad",
    "maltrato",
    "detención arbitraria",
    "corrupción",
    "otro",
]
STATUSES = ["recibida", "en investigación", "archivada", "resuelta"]
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
    for column in ("complaint_id", "recorded_at", "incident_date", "complaint_type"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["complaint_id", "recorded_at"], severity=critical
        )
    )

    # Dates: never in the future, and a complaint is not filed before what it complains about.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="incident_date", max_value=context.today, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="recorded_at", max_value=end_of_today, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnMinToBeBetween(column="incident_date", min_value=EARLIEST, severity=warning)
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recorded_at",
            column_B="incident_date",
            or_equal=True,
            severity=warning,
        )
    )
    suite.add_expectation(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=ONE_REGISTRATION_DAY,
            description="Every row of a daily file is registered on the same day.",
            severity=warning,
        )
    )

    # Codes.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="complaint_type", value_set=COMPLAINT_TYPES, severity=warning
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=info)
    )
    municipalities = sorted(seed_values("ref_municipalities", "municipality_code"))
    if municipalities:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="municipality_reported",
                value_set=municipalities,
                mostly=0.9,
                severity=warning,
            )
        )

    # Distributions: most complaints follow a detention; a drop means the link was lost.
    suite.add_expectation(
        gxe.ExpectColumnValuesToNotBeNull(column="detention_id", mostly=0.5, severity=info)
    )

    # Volume against history. Complaints are rare: most days have none or one.
    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=max(1, typical // 5), severity=warning)
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=critical))
    return suite
