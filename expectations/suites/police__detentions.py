"""Gate for police detentions (`raw.police__detentions`), as a police-data reviewer checks them.

The contract's checks (columns, key, codes, age and hours ranges, dates never in the future)
are generated (`expectations.generated`); these are the ones it cannot say.
"""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.common import (
    INFO,
    WARNING,
    expect_in_seed,
    expect_person_fields,
)
from expectations.context import SuiteContext

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


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    # Dates: not absurdly old, and not recorded before they happened.
    suite.add_expectation(
        gxe.ExpectColumnMinToBeBetween(
            column="detention_date", min_value=EARLIEST, severity=WARNING
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recorded_at",
            column_B="detention_date",
            or_equal=True,
            mostly=0.99,
            severity=WARNING,
        )
    )
    # A daily drop holds the detentions registered on one day: the batch window.
    suite.add_expectation(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=ONE_REGISTRATION_DAY,
            description="Every row of a daily file is registered on the same day.",
            severity=WARNING,
        )
    )

    # Plausible values beyond the contract's bounds.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="hours_held", max_value=MAX_PLAUSIBLE_HOURS, severity=WARNING
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="legal_basis", value_set=LEGAL_BASES, severity=WARNING
        )
    )

    # Cross-field: a detention in flagrante follows a crime, so it names the offence.
    suite.add_expectation(
        gxe.ExpectColumnValuesToNotBeNull(
            column="offence_code",
            row_condition=Column("legal_basis") == "flagrancia",
            severity=WARNING,
        )
    )

    # Reference lists.
    expect_in_seed(
        suite, "offence_code", "ref_national_offences", "national_offence_code", severity=WARNING
    )
    # Clerks type names where codes belong; the fact resolves them, but many is suspect.
    expect_in_seed(
        suite,
        "municipality_reported",
        "ref_municipalities",
        "municipality_code",
        severity=WARNING,
        mostly=0.9,
    )

    # Distributions: unknown sex, missing IDs and long detentions point at a broken export.
    expect_person_fields(
        suite, sex="detainee_sex", id_status="detainee_national_id_status", valid_share=0.8
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="hours_held", max_value=LEGAL_HOURS_LIMIT, mostly=0.8, severity=INFO
        )
    )
