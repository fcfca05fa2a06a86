"""Gate for forensic deaths (`raw.health__forensic_deaths`), as a mortality statistician would.

Codes are checked the way dbt will read them: ICD-10 written as `X95.0`, `X950` or `x95`
must all fall in the external-cause chapter (V01-Y98) once case and dot are ignored.
"""

from __future__ import annotations

from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext, seed_values

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

COLUMNS = [
    "record_id",
    "death_date",
    "autopsy_date",
    "municipality_code",
    "municipality_name",
    "sex",
    "age",
    "person_national_id_pseudonym",
    "person_national_id_status",
    "person_name_pseudonym",
    "person_name_tokens",
    "icd10_cause_raw",
    "manner_of_death",
    "updated_at",
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

    # Schema and keys.
    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(column_set=COLUMNS, exact_match=True, severity=critical)
    )
    for column in ("record_id", "death_date", "municipality_code", "icd10_cause_raw", "updated_at"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["record_id", "updated_at"], severity=critical
        )
    )

    # Dates: never in the future; a body is examined on or after the day of death.
    for column in ("death_date", "autopsy_date"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=context.today, severity=critical
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="updated_at", max_value=end_of_today, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="autopsy_date",
            column_B="death_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=critical,
        )
    )

    # Plausible values.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="age", min_value=0, max_value=110, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F", "I"], severity=critical)
    )

    # Codes: the underlying cause of a forensic death is an external cause (V01-Y98).
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(
            column="icd10_cause_raw", regex=EXTERNAL_CAUSE_REGEX, severity=critical
        )
    )
    municipalities = sorted(seed_values("ref_municipalities", "municipality_code"))
    if municipalities:
        # The health system sends codes, never names: an unknown code is a broken export,
        # and its deaths would be counted in no municipality.
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="municipality_code", value_set=municipalities, severity=critical
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="manner_of_death", value_set=MANNERS, severity=warning
        )
    )

    # Distributions.
    suite.add_expectation(
        gxe.ExpectColumnValuesToNotMatchRegex(
            column="icd10_cause_raw",
            regex=UNDETERMINED_REGEX,
            mostly=1 - MAX_UNDETERMINED_SHARE,
            severity=warning,
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="sex", value_set=["M", "F"], mostly=0.9, severity=warning
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="person_national_id_status", value_set=["valid"], mostly=0.8, severity=info
        )
    )

    # Volume against history: a pull 80 % smaller than usual is suspect.
    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=max(1, typical // 5), severity=warning)
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=critical))
    return suite
