"""Gate for injury admissions (`raw.health__hospital_admissions`), as a hospital-statistics
reviewer checks them. ICD-10 codes are judged case- and dot-insensitively, as dbt reads them."""

from __future__ import annotations

from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext, seed_values
from expectations.suites.health__forensic_deaths import EXTERNAL_CAUSE_REGEX

# Chapter XIX, injuries (S00-T98), in any written form.
INJURY_REGEX = r"^[SsTt][0-9]{2}\.?[0-9A-Za-z]?$"
CONDITIONS = ["alta", "traslado", "fallecido"]

COLUMNS = [
    "admission_id",
    "facility_code",
    "admission_date",
    "discharge_date",
    "municipality_code",
    "municipality_name",
    "sex",
    "age",
    "person_national_id_pseudonym",
    "person_national_id_status",
    "person_name_pseudonym",
    "person_name_tokens",
    "diagnosis_icd10_raw",
    "external_cause_icd10_raw",
    "discharge_condition",
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
    for column in (
        "admission_id",
        "admission_date",
        "municipality_code",
        "external_cause_icd10_raw",
        "updated_at",
    ):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["admission_id", "updated_at"], severity=critical
        )
    )

    # Dates: never in the future; nobody leaves (or dies) before being admitted.
    for column in ("admission_date", "discharge_date"):
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
            column_A="discharge_date",
            column_B="admission_date",
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

    # Codes: the external cause is V01-Y98; the diagnosis an injury (S/T).
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(
            column="external_cause_icd10_raw", regex=EXTERNAL_CAUSE_REGEX, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(
            column="diagnosis_icd10_raw", regex=INJURY_REGEX, severity=warning
        )
    )
    municipalities = sorted(seed_values("ref_municipalities", "municipality_code"))
    if municipalities:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeInSet(
                column="municipality_code", value_set=municipalities, severity=critical
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="discharge_condition", value_set=CONDITIONS, severity=warning
        )
    )

    # Distributions: unknown sex (unidentified patients) should stay rare.
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
