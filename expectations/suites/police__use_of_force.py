"""Gate for police use-of-force incidents (`raw.police__use_of_force`): the domain checks.

The contract's checks (columns, key, counts never negative, dates never in the future) are
generated.
"""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.common import INFO, WARNING, expect_in_seed
from expectations.context import SuiteContext

FORCE_TYPES = ["física", "arma no letal", "arma de fuego"]
EARLIEST = date(2000, 1, 1)
# More people than this killed or injured in one police incident is a typing error.
MAX_PLAUSIBLE_PERSONS = 50
ONE_REGISTRATION_DAY = (
    "select * from {batch} where cast(recorded_at as date)"
    " <> (select min(cast(recorded_at as date)) from {batch})"
)


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    # Dates.
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

    # Plausible values and codes.
    for column in ("persons_injured", "persons_killed"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=MAX_PLAUSIBLE_PERSONS, severity=WARNING
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="force_type", value_set=FORCE_TYPES, severity=WARNING
        )
    )
    expect_in_seed(
        suite,
        "municipality_reported",
        "ref_municipalities",
        "municipality_code",
        severity=WARNING,
        mostly=0.9,
    )

    # Cross-field: only firearms kill in these records; a death by "física" is reviewed.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="force_type",
            value_set=["arma de fuego"],
            row_condition=Column("persons_killed") > 0,
            severity=WARNING,
        )
    )

    # Distributions: most incidents happen during a detention and kill nobody.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="persons_killed", max_value=0, mostly=0.5, severity=INFO
        )
    )
