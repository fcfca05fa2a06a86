"""Gate for police use-of-force incidents (`raw.police__use_of_force`)."""

from __future__ import annotations

from datetime import date, datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.row_conditions import Column

from expectations.context import SuiteContext, seed_values

# The columns a staged batch must have: the contract's output plus provenance.
COLUMNS = [
    "incident_id",
    "recorded_at",
    "incident_date",
    "incident_time",
    "municipality_reported",
    "municipality_name",
    "force_type",
    "persons_injured",
    "persons_killed",
    "detention_id",
    "_batch_id",
    "_source_file",
    "_source_query",
    "_source_row",
    "_file_sha256",
    "_ingested_at",
    "_extra",
]
FORCE_TYPES = ["física", "arma no letal", "arma de fuego"]
EARLIEST = date(2000, 1, 1)
# More people than this killed or injured in one police incident is a typing error.
MAX_PLAUSIBLE_PERSONS = 50
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
    for column in (
        "incident_id",
        "recorded_at",
        "incident_date",
        "force_type",
        "persons_injured",
        "persons_killed",
    ):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["incident_id", "recorded_at"], severity=critical
        )
    )

    # Dates.
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

    # Plausible values and codes.
    for column in ("persons_injured", "persons_killed"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0, severity=critical)
        )
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=MAX_PLAUSIBLE_PERSONS, severity=warning
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="force_type", value_set=FORCE_TYPES, severity=warning
        )
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

    # Cross-field: only firearms kill in these records; a death by "física" is reviewed.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="force_type",
            value_set=["arma de fuego"],
            row_condition=Column("persons_killed") > 0,
            severity=warning,
        )
    )

    # Distributions: most incidents happen during a detention and kill nobody.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="persons_killed", max_value=0, mostly=0.5, severity=info
        )
    )

    # Volume against history.
    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=max(1, typical // 5), severity=warning)
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=critical))
    return suite
