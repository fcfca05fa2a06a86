"""Checks on the published marts, after every dbt build (the `check_marts` task).

Three questions a reviewer asks of the indicator mart before anything leaves: do its totals
reconcile with the facts they count, is any rate or count negative, and is every
municipality-month present for every indicator.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.common import expect_unique_key
from expectations.context import SuiteContext

# Indicator numerators that must equal a count over one fact table.
RECONCILED_TOTALS = {
    "homicide_count_police": "select count(*) from marts.fct_crime_reports"
    " where is_intentional_homicide",
    "femicide_count": "select count(*) from marts.fct_crime_reports where is_femicide",
    # Every health source's deaths (the canonical interface), the forensic ones among them.
    "homicide_count_health": "select count(*) from intermediate.int_violent_deaths_classified"
    " where is_homicide",
    "detentions_count": "select count(distinct detention_id) from marts.fct_detentions",
}

TOTALS_QUERY = " union all ".join(
    f"select '{code}' as indicator_code,"
    f" (select coalesce(sum(numerator), 0) from marts.mart_indicators_monthly"
    f" where indicator_code = '{code}' and sex = 'all' and age_group = 'all') as mart_total,"
    f" ({fact_count}) as fact_total"
    for code, fact_count in RECONCILED_TOTALS.items()
)

# Cells per indicator (and source: a `by_source` indicator has one set per source label)
# against the spine (every municipality-month of the period).
COMPLETENESS_QUERY = """
select
    indicator_code,
    source,
    count(*) as cells,
    (select count(*) from intermediate.int_indicator_spine) as expected_cells
from marts.mart_indicators_monthly
where sex = 'all' and age_group = 'all'
group by indicator_code, source
"""


def build_totals_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=f"{context.suite_name}__totals")
    suite.add_expectation(
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="mart_total", column_B="fact_total", severity=FailureSeverity.CRITICAL
        )
    )
    return suite


def build_completeness_suite(context: SuiteContext) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=f"{context.suite_name}__completeness")
    suite.add_expectation(
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="cells", column_B="expected_cells", severity=FailureSeverity.CRITICAL
        )
    )
    return suite


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    """The mart itself: keys present, no negative value, codes from the definitions seed."""
    suite = gx.ExpectationSuite(name=context.suite_name)
    critical = FailureSeverity.CRITICAL
    for column in ("indicator_code", "municipality_code", "month", "sex", "age_group", "numerator"):
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column, severity=critical))
    expect_unique_key(
        suite, ("indicator_code", "municipality_code", "month", "sex", "age_group", "source")
    )
    suite.add_expectation(
        gxe.ExpectColumnMinToBeBetween(column="value", min_value=0, severity=critical)
    )
    suite.add_expectation(
        gxe.ExpectColumnMinToBeBetween(column="numerator", min_value=0, severity=critical)
    )
    suite.add_expectation(
        gxe.ExpectColumnValuesToMatchRegex(
            column="month", regex=r"^\d{4}-(0[1-9]|1[0-2])$", severity=critical
        )
    )
    return suite
