"""Gate for parties to prosecution cases (`raw.justice__parties`): victims and defendants.

Persons arrive pseudonymised (national ID and name as keyed HMACs, birth date as a year);
the generated checks expect those columns from the contract's person rules.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import CRITICAL, INFO, WARNING
from expectations.context import SuiteContext

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


def add_domain_checks(suite: gx.ExpectationSuite, context: SuiteContext) -> None:
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="role", value_set=ROLES, severity=CRITICAL)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="procedural_status", value_set=PROCEDURAL_STATUSES, severity=CRITICAL
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F"], severity=WARNING)
    )
    # Plausible birth years: nobody older than 110 or born after the batch was pulled.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeBetween(
            column="birth_year",
            min_value=context.today.year - 110,
            max_value=context.today.year,
            severity=CRITICAL,
        )
    )
    suite.add_expectation(
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="updated_at",
            column_B="created_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            severity=CRITICAL,
        )
    )
    # Identification quality: unidentified victims (NN) exist, a flood of them does not.
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(
            column="national_id_status", value_set=["valid"], mostly=0.8, severity=INFO
        )
    )
