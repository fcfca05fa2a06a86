"""Gate for injury admissions (`raw.health__hospital_admissions`), as a hospital-statistics
reviewer checks them. ICD-10 codes are judged case- and dot-insensitively, as dbt reads them."""

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
from expectations.suites.health__forensic_deaths import EXTERNAL_CAUSE_REGEX

# Chapter XIX, injuries (S00-T98), in any written form.
INJURY_REGEX = r"^[SsTt][0-9]{2}\.?[0-9A-Za-z]?$"
CONDITIONS = ["alta", "traslado", "fallecido"]

COLUMNS = staged_columns(
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
)


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=context.suite_name)

    # Schema and keys.
    expect_shape(
        suite,
        COLUMNS,
        required=(
            "admission_id",
            "admission_date",
            "municipality_code",
            "external_cause_icd10_raw",
            "updated_at",
        ),
        key=("admission_id", "updated_at"),
    )

    # Dates: never in the future; nobody leaves (or dies) before being admitted.
    expect_not_in_future(
        suite, context, dates=("admission_date", "discharge_date"), timestamps=("updated_at",)
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="discharge_date",
            column_B="admission_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=CRITICAL,
        )
    )

    # Plausible values.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="age", min_value=0, max_value=110, severity=CRITICAL
        )
    )

    # Codes: the external cause is V01-Y98; the diagnosis an injury (S/T).
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(
            column="external_cause_icd10_raw", regex=EXTERNAL_CAUSE_REGEX, severity=CRITICAL
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(
            column="diagnosis_icd10_raw", regex=INJURY_REGEX, severity=WARNING
        )
    )
    expect_in_seed(
        suite, "municipality_code", "ref_municipalities", "municipality_code", severity=CRITICAL
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="discharge_condition", value_set=CONDITIONS, severity=WARNING
        )
    )

    # Distributions: unknown sex (unidentified patients) should stay rare.
    expect_person_fields(suite, sex="sex", id_status="person_national_id_status", valid_share=0.8)

    # Volume against history: a pull 80 % smaller than usual is suspect.
    expect_volume_like_history(suite, context)
    return suite
