"""Gate for parties to prosecution cases (`raw.justice__parties`): victims and defendants.

Persons arrive pseudonymised (national ID and name as keyed HMACs, birth date as a year).
"""

from __future__ import annotations

from datetime import datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.context import SuiteContext

COLUMNS = [
    "party_id",
    "case_id",
    "role",
    "national_id_pseudonym",
    "national_id_status",
    "full_name_pseudonym",
    "full_name_tokens",
    "sex",
    "birth_year",
    "procedural_status",
    "created_at",
    "updated_at",
    "_batch_id",
    "_source_file",
    "_source_query",
    "_source_row",
    "_file_sha256",
    "_ingested_at",
    "_extra",
]
ROLES = ["victima", "imputado"]
PROCEDURAL_STATUSES = [
    "victima",
    "investigado",
    "sobreseido",
    "salida_alternativa",
    "acusado",
    "condenado",
    "absuelto",
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
    for column in ("party_id", "case_id", "role", "created_at", "updated_at"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    suite.add_expectation(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["party_id", "updated_at"], severity=critical
        )
    )

    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="role", value_set=ROLES, severity=critical)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="procedural_status", value_set=PROCEDURAL_STATUSES, severity=critical
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F"], severity=warning)
    )
    # Plausible birth years: nobody older than 110 or born after the batch was pulled.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="birth_year",
            min_value=context.today.year - 110,
            max_value=context.today.year,
            severity=critical,
        )
    )
    for column in ("created_at", "updated_at"):
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, max_value=end_of_today, severity=critical
            )
        )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="updated_at",
            column_B="created_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=critical,
        )
    )
    # Identification quality: unidentified victims (NN) exist, a flood of them does not.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="national_id_status", value_set=["valid"], mostly=0.8, severity=info
        )
    )

    typical = context.typical_batch_rows
    if typical:
        suite.add_expectation(
            gxe.ExpectTableRowCountToBeBetween(min_value=max(1, typical // 5), severity=warning)
        )
    else:
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=critical))
    return suite
