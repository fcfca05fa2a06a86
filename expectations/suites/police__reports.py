"""Gate for police crime reports (`raw.police__reports`), as a police-data reviewer checks them."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import (
    CRITICAL,
    WARNING,
    expect_in_seed,
    expect_not_in_future,
    expect_person_fields,
    expect_shape,
    expect_volume_like_history,
    staged_columns,
)
from expectations.context import SuiteContext

# The columns a staged batch must have: the contract's output plus provenance.
COLUMNS = staged_columns(
    "report_id",
    "victim_seq",
    "recorded_at",
    "incident_date",
    "incident_time",
    "municipality_reported",
    "municipality_name",
    "offence_code",
    "offence_name",
    "victim_national_id_pseudonym",
    "victim_national_id_status",
    "victim_name_pseudonym",
    "victim_name_tokens",
    "victim_sex",
    "victim_age",
    "victim_birth_year",
    "victim_offender_relationship",
    "weapon",
    "place",
)


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)

    expect_shape(
        suite,
        COLUMNS,
        required=("report_id", "victim_seq", "recorded_at", "incident_date", "offence_code"),
        key=("report_id", "victim_seq", "recorded_at"),
    )

    # Dates: never in the future, and an incident is not recorded before it happened.
    expect_not_in_future(suite, context, dates=("incident_date",), timestamps=("recorded_at",))
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recorded_at",
            column_B="incident_date",
            or_equal=True,
            mostly=0.99,
            severity=WARNING,
        )
    )

    # Plausible values; the contract already bounds them, this proves it held.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="victim_age", min_value=0, max_value=110, severity=CRITICAL
        )
    )

    # Reference lists: unknown national codes are flagged, not rejected (coverage reports them).
    expect_in_seed(
        suite, "offence_code", "ref_national_offences", "national_offence_code", severity=WARNING
    )
    # Clerks type names where codes belong; staging resolves them, but many is suspect.
    expect_in_seed(
        suite,
        "municipality_reported",
        "ref_municipalities",
        "municipality_code",
        severity=WARNING,
        mostly=0.9,
    )

    # Distributions: a jump in unknown sex or missing IDs points at a broken export.
    expect_person_fields(
        suite, sex="victim_sex", id_status="victim_national_id_status", valid_share=0.5
    )

    # Volume against history: a batch 80 % smaller than usual is suspect.
    expect_volume_like_history(suite, context)
    return suite
