"""Gate for police crime reports (`raw.police__reports`), as a police-data reviewer checks them."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import WARNING, expect_in_seed, expect_person_fields
from expectations.context import SuiteContext


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    """What the contract cannot say; its columns, key, codes, ranges and dates are generated."""
    # An incident is not recorded before it happened.
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recorded_at",
            column_B="incident_date",
            or_equal=True,
            mostly=0.99,
            severity=WARNING,
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
