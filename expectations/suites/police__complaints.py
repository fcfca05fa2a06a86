"""Gate for complaints against the police (`raw.police__complaints`): the domain checks.

The contract's checks (columns, key, patterns, dates never in the future) are generated.
"""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import INFO, WARNING, expect_in_seed
from expectations.context import SuiteContext

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


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    # Dates: not absurdly old, and a complaint is not filed before what it complains about.
    suite.add_expectation(
        gxe.ExpectColumnMinToBeBetween(column="incident_date", min_value=EARLIEST, severity=WARNING)
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recorded_at",
            column_B="incident_date",
            or_equal=True,
            severity=WARNING,
        )
    )
    suite.add_expectation(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=ONE_REGISTRATION_DAY,
            description="Every row of a daily file is registered on the same day.",
            severity=WARNING,
        )
    )

    # Codes.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="complaint_type", value_set=COMPLAINT_TYPES, severity=WARNING
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES, severity=INFO)
    )
    expect_in_seed(
        suite,
        "municipality_reported",
        "ref_municipalities",
        "municipality_code",
        severity=WARNING,
        mostly=0.9,
    )

    # Distributions: most complaints follow a detention; a drop means the link was lost.
    # (Complaints are rare: most days have none or one, which the volume check allows for.)
    suite.add_expectation(
        gxe.ExpectColumnValuesToNotBeNull(column="detention_id", mostly=0.5, severity=INFO)
    )
