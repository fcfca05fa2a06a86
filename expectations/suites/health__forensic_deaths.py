"""Gate for forensic deaths (`raw.health__forensic_deaths`), as a mortality statistician would.

Codes are checked the way dbt will read them: ICD-10 written as `X95.0`, `X950` or `x95`
must all fall in the external-cause chapter (V01-Y98) once case and dot are ignored. The
contract's checks (columns, key, codes, age range, dates never in the future) are generated.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import (
    CRITICAL,
    WARNING,
    expect_in_seed,
    expect_person_fields,
)
from expectations.context import SuiteContext

# V01-Y98 in any written form (case-insensitive, optional dot, optional 4th character):
# the same test as "normalise, then compare with the range" (PostgreSQL regex, run in-db).
EXTERNAL_CAUSE_REGEX = (
    r"^([Vv](0[1-9]|[1-9][0-9])|[WwXx][0-9]{2}|[Yy]([0-8][0-9]|9[0-8]))\.?[0-9A-Za-z]?$"
)
# Y10-Y34, events of undetermined intent.
UNDETERMINED_REGEX = r"^[Yy]([12][0-9]|3[0-4])"
# More than this share of undetermined-intent deaths points at poor certification (or a
# coding change upstream) and hides homicides: flag the batch.
MAX_UNDETERMINED_SHARE = 0.15
MANNERS = ["homicidio", "indeterminada", "suicidio", "accidente", "intervención legal"]


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    # Dates: a body is examined on or after the day of death.
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="autopsy_date",
            column_B="death_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=CRITICAL,
        )
    )

    # Codes: the underlying cause of a forensic death is an external cause (V01-Y98).
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(
            column="icd10_cause_raw", regex=EXTERNAL_CAUSE_REGEX, severity=CRITICAL
        )
    )
    # The health system sends codes, never names: an unknown code is a broken export,
    # and its deaths would be counted in no municipality.
    expect_in_seed(
        suite, "municipality_code", "ref_municipalities", "municipality_code", severity=CRITICAL
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="manner_of_death", value_set=MANNERS, severity=WARNING
        )
    )

    # Distributions.
    suite.add_expectation(
        gxe.ExpectColumnValuesToNotMatchRegex(
            column="icd10_cause_raw",
            regex=UNDETERMINED_REGEX,
            mostly=1 - MAX_UNDETERMINED_SHARE,
            severity=WARNING,
        )
    )
    expect_person_fields(suite, sex="sex", id_status="person_national_id_status", valid_share=0.8)
