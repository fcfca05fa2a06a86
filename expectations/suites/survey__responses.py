"""Gate for the victimisation survey (`raw.survey__responses`), as its statistician checks it.

A survey file is a weighted sample: one broken stratum biases every estimate, so most
checks are critical. The crime types come from the questionnaire (`CRIME_TYPES`). The
contract's checks (columns, key, required answers, ranges) are generated.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.common import CRITICAL, INFO, WARNING, expect_in_seed
from expectations.context import SuiteContext

# Crime types the questionnaire asks about (every type with person victims but homicide).
CRIME_TYPES = [
    "attempted_homicide",
    "assault",
    "sexual_violence",
    "intrafamily_violence",
    "robbery",
    "burglary",
    "theft",
    "vehicle_theft",
    "extortion",
    "kidnapping",
    "threats",
    "fraud",
    "property_damage",
]
# Five-year groups from 15 (the survey's population is 15 and over).
AGE_GROUPS = [f"{a:02d}-{a + 4:02d}" for a in range(15, 80, 5)] + ["80+"]
# Respondents are spread over both sexes by design: a share outside this band is a broken file.
MIN_SHARE_PER_SEX = 0.3
# Taylor linearisation needs at least two primary sampling units per stratum, and a unit is
# a segment of one municipality, drawn in that municipality's department.
STRATA_WITHOUT_TWO_PSUS = (
    "select stratum from {batch} group by stratum having count(distinct psu) < 2"
)
PSU_OUTSIDE_ITS_MUNICIPALITY = "select * from {batch} where left(psu, 5) <> municipality_code"
PSU_IN_TWO_STRATA = "select psu from {batch} group by psu having count(distinct stratum) > 1"
ID_MATCHES_YEAR = (
    "select * from {batch} where cast(left(respondent_id, 4) as integer) <> survey_year"
)


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    # One survey year per file, never a future one, and ids numbered within that year.
    suite.add_expectation(
        gxe.ExpectColumnUniqueValueCountToBeBetween(
            column="survey_year", min_value=1, max_value=1, severity=CRITICAL
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="survey_year", max_value=context.today.year, severity=CRITICAL
        )
    )
    suite.add_expectation(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=ID_MATCHES_YEAR,
            description="A respondent id starts with the survey year (`YYYY-NNNNNN`).",
            severity=WARNING,
        )
    )

    # Strata: municipality, sex and age group are the weighting cells; all must be known.
    expect_in_seed(
        suite, "municipality_code", "ref_municipalities", "municipality_code", severity=CRITICAL
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F"], severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="age_group", value_set=AGE_GROUPS, severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="weight", min_value=0, strict_min=True, severity=CRITICAL
        )
    )

    # The design: every stratum can carry a variance; every unit sits in one stratum and one
    # municipality.
    for query, description in (
        (STRATA_WITHOUT_TWO_PSUS, "Every stratum has at least two primary sampling units."),
        (PSU_IN_TWO_STRATA, "Every primary sampling unit belongs to one stratum."),
        (
            PSU_OUTSIDE_ITS_MUNICIPALITY,
            "A primary sampling unit is a segment of the "
            "respondent's municipality (`<municipality>-<segment>`).",
        ),
    ):
        suite.add_expectation(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=query, description=description, severity=CRITICAL
            )
        )

    # Cross-field: "reported to the police" is asked only of victims, and always of them.
    for crime_type in CRIME_TYPES:
        victim, reported = f"victim_{crime_type}", f"reported_{crime_type}"
        not_victim, was_victim = (Column(victim) == answer for answer in (False, True))
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeNull(
                column=reported,
                row_condition=not_victim,
                severity=CRITICAL,
            )
        )
        suite.add_expectation(
            gxe.ExpectColumnValuesToNotBeNull(
                column=reported,
                row_condition=was_victim,
                severity=CRITICAL,
            )
        )

    # Distributions: both sexes well represented; most people were not robbed this year.
    for sex in ("M", "F"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="sex", value_set=[sex], mostly=MIN_SHARE_PER_SEX, severity=WARNING
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="victim_robbery", value_set=[False], mostly=0.5, severity=INFO
        )
    )
