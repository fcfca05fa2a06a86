"""The checkpoint on the key marts after dbt (`build_warehouse`'s `check_marts` task).

Runs `expectations.suites.marts__indicators` inside PostgreSQL: the indicator mart itself,
its totals against the facts, and its completeness against the municipality-month spine.
Results go to `ops.validation_results` (batch_id null, suite `marts__indicators…`); a
critical failure raises MartCheckFailed naming the expectations, so nothing is delivered.
"""

from __future__ import annotations

from expectations.context import SuiteContext
from expectations.gate import GateOutcome, GateTarget, validate_tables
from observatorio.core.settings import Settings, get_settings

SUITE = "marts__indicators"


class MartCheckFailed(RuntimeError):
    """A critical expectation on the marts failed."""


def check_marts(settings: Settings | None = None) -> list[GateOutcome]:
    from expectations.suites import marts__indicators as checks

    settings = settings or get_settings()
    context = SuiteContext(suite_name=SUITE)
    targets = [
        GateTarget(
            build_suite=lambda: checks.build_suite(context),
            suite_name=SUITE,
            schema="marts",
            table="mart_indicators_monthly",
            index_column=None,
        ),
        GateTarget(
            build_suite=lambda: checks.build_totals_suite(context),
            suite_name=f"{SUITE}__totals",
            schema="marts",
            table="indicator_totals",
            index_column=None,
            query=checks.TOTALS_QUERY,
        ),
        GateTarget(
            build_suite=lambda: checks.build_completeness_suite(context),
            suite_name=f"{SUITE}__completeness",
            schema="marts",
            table="indicator_completeness",
            index_column=None,
            query=checks.COMPLETENESS_QUERY,
        ),
    ]
    outcomes = validate_tables(targets, settings)
    failed = [o for o in outcomes if o.rejects]
    if failed:
        raise MartCheckFailed("; ".join(f"{o.suite_name}: {o.summary()}" for o in failed))
    return outcomes
