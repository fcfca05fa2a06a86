"""Gate for injury admissions (`raw.health__hospital_admissions`), as a hospital-statistics
reviewer checks them. ICD-10 codes are judged case- and dot-insensitively, as dbt reads them.
The contract's checks (columns, key, codes, age range, dates never in the future) are generated.
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
from expectations.suites.health__forensic_deaths import EXTERNAL_CAUSE_REGEX

# Chapter XIX, injuries (S00-T98), in any written form.
INJURY_REGEX = r"^[SsTt][0-9]{2}\.?[0-9A-Za-z]?$"
CONDITIONS = ["alta", "traslado", "fallecido"]


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    # Dates: nobody leaves (or dies) before being admitted.
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="discharge_date",
            column_B="admission_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=CRITICAL,
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
