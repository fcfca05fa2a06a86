"""Gate for police crime reports (`raw.police__reports`), as a police-data reviewer checks them."""

from __future__ import annotations

from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext, seed_values

# The columns a staged batch must have: the contract's output plus provenance.
COLUMNS = [
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
    "_batch_id",
    "_source_file",
    "_source_query",
    "_source_row",
    "_file_sha256",
    "_ingested_at",
    "_extra",
]


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)
    critical, warning, info = (
        FailureSeverity.CRITICAL,
        FailureSeverity.WARNING,
        FailureSeverity.INFO,
    )
    end_of_today = datetime.combine(context.today, time.max)

    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS, exact_match=True, severity=critical)
    )
    for column in ("report_id", "victim_seq", "recorded_at", "incident_date", "offence_code"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["report_id", "victim_seq", "recorded_at"], severity=critical
        )
    )

    # Dates: never in the future, and an incident is not recorded before it happened.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="incident_date", max_value=context.today, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="recorded_at",
            max_value=end_of_today,
            severity=critical,
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="recorded_at",
            column_B="incident_date",
            or_equal=True,
            mostly=0.99,
            severity=warning,
        )
    )

    # Plausible values; the contract already bounds them, this proves it held.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="victim_age", min_value=0, max_value=110, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="victim_sex", value_set=["M", "F", "I"], severity=critical
        )
    )

    # Reference lists: unknown national codes are flagged, not rejected (coverage reports them).
    offences = sorted(seed_values("ref_national_offences", "national_offence_code"))
    if offences:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="offence_code", value_set=offences, severity=warning
            )
        )
    municipalities = sorted(seed_values("ref_municipalities", "municipality_code"))
    if municipalities:
        # Clerks type names where codes belong; staging resolves them, but many is suspect.
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="municipality_reported",
                value_set=municipalities,
                mostly=0.9,
                severity=warning,
            )
        )

    # Distributions: a jump in unknown sex or missing IDs points at a broken export.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="victim_sex", value_set=["M", "F"], mostly=0.9, severity=warning
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="victim_national_id_status", value_set=["valid"], mostly=0.5, severity=info
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
