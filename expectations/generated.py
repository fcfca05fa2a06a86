"""The gate's suite for a source entity, generated from its contract.

Everything a contract (`ingestion/contracts/<source>__<entity>.yaml`) already says becomes a
critical expectation on the staged batch: the exact column set (the contract's output
columns, pseudonyms included, then provenance), each column's type, required columns filled,
the primary key unique, codes in `allowed`, values within `min`/`max` and matching
`pattern`, and dates and timestamps never in the future. The loader already quarantines rows
that break the column rules, so on a batch it staged these checks prove the rules held.

A suite module `expectations/suites/<source>__<entity>.py` adds only what a contract cannot
say, in `add_domain_checks(suite, context)`: cross-column rules, reference seeds,
distributions. It may name date columns that legitimately lie ahead in
`DATES_MAY_BE_IN_THE_FUTURE`. A contract with no suite module gets the generated suite alone,
so a new contract file needs no Python. Every batch suite ends with the volume check.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from types import ModuleType

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.common import (
    CRITICAL,
    expect_not_in_future,
    expect_unique_key,
    expect_volume_like_history,
)
from expectations.context import SuiteContext
from ingestion.contract import Column, Contract, load_contract
from ingestion.provenance import PROVENANCE_COLUMNS

SUITES_PACKAGE = "expectations.suites"
# The type GX observes on PostgreSQL (it compares type names there, case-insensitively), by
# the SQL type the loader declared; another type is expected under its own name, upper-cased.
GX_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "numeric": "NUMERIC",
    "date": "DATE",
    "timestamp": "TIMESTAMP WITHOUT TIME ZONE",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
    "time": "TIME WITHOUT TIME ZONE",
    "boolean": "BOOLEAN",
    "text[]": "TEXT[]",
    "jsonb": "JSONB",
}
NUMERIC_TYPES = frozenset({"integer", "bigint", "numeric"})


@dataclass(frozen=True)
class StagedColumn:
    """One column of a staged batch, and the contract column it comes from (None: provenance)."""

    name: str
    sql_type: str
    column: Column | None = None

    @property
    def holds_value_as_read(self) -> bool:
        """True when the staged value is the contract column's value itself (no person action
        turned it into a pseudonym, tokens, a status or a year), so its rules apply as written."""
        return self.column is not None and self.name == self.column.name


def staged_columns(contract: Contract) -> list[StagedColumn]:
    """The columns of a staged batch, in table order, as `ingestion.loader` creates them."""
    columns = [
        StagedColumn(name, sql_type, column)
        for column in contract.columns
        for name, sql_type in column.output_columns()
    ]
    provenance = [StagedColumn(n, t.removesuffix(" not null")) for n, t in PROVENANCE_COLUMNS]
    return columns + provenance


def _valued(columns: list[StagedColumn]) -> Iterator[tuple[StagedColumn, Column]]:
    for staged in columns:
        if staged.holds_value_as_read and staged.column is not None:
            yield staged, staged.column


def add_contract_checks(
    suite: gx.ExpectationSuite,
    contract: Contract,
    context: SuiteContext,
    *,
    dates_may_be_in_the_future: Collection[str] = (),
) -> None:
    """Add, all critical, every check the contract states (see the module docstring)."""
    columns = staged_columns(contract)
    suite.add_expectation(
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[c.name for c in columns], exact_match=True, severity=CRITICAL
        )
    )
    for staged in columns:
        suite.add_expectation(
            gxe.ExpectColumnValuesToBeOfType(
                column=staged.name,
                type_=GX_TYPES.get(staged.sql_type, staged.sql_type.upper()),
                severity=CRITICAL,
            )
        )
    valued = list(_valued(columns))
    for staged, column in valued:
        if column.required:
            suite.add_expectation(
                gxe.ExpectColumnValuesToNotBeNull(column=staged.name, severity=CRITICAL)
            )
    if contract.primary_key:
        expect_unique_key(suite, contract.primary_key)
    for staged, column in valued:
        # `allowed` and `pattern` are about the text as read; for another type they describe
        # its spelling in the export (`S`/`N` for a boolean), not the staged value.
        if column.allowed is not None and staged.sql_type == "text":
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeInSet(
                    column=staged.name, value_set=list(column.allowed), severity=CRITICAL
                )
            )
        if column.pattern is not None and staged.sql_type == "text":
            suite.add_expectation(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=staged.name, regex=column.pattern, severity=CRITICAL
                )
            )
        if column.min is not None or column.max is not None:
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(
                    column=staged.name,
                    min_value=column.min,
                    max_value=column.max,
                    severity=CRITICAL,
                )
            )
    ahead = set(dates_may_be_in_the_future)
    expect_not_in_future(
        suite,
        context,
        dates=[s.name for s, _ in valued if s.sql_type == "date" and s.name not in ahead],
        timestamps=[s.name for s, _ in valued if s.sql_type == "timestamp" and s.name not in ahead],
    )


def domain_module(name: str) -> ModuleType | None:
    """`expectations.suites.<name>`, the source's hand-written domain checks, if it has any."""
    module = f"{SUITES_PACKAGE}.{name}"
    if importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module)


def build_contract_suite(contract: Contract, context: SuiteContext) -> gx.ExpectationSuite:
    """The suite for a staged batch of `contract`: its checks, its module's, then volume."""
    module = domain_module(contract.name)
    suite = gx.ExpectationSuite(name=context.suite_name)
    add_contract_checks(
        suite,
        contract,
        context,
        dates_may_be_in_the_future=getattr(module, "DATES_MAY_BE_IN_THE_FUTURE", ()),
    )
    if module is not None:
        module.add_domain_checks(suite, context)
    # Volume against history: a batch 80 % smaller than usual is suspect; never accept one empty.
    expect_volume_like_history(suite, context)
    return suite


def build_suite(context: SuiteContext) -> gx.ExpectationSuite:
    """The gate's suite for a staged batch of `context.suite_name` (`<source>__<entity>`)."""
    return build_contract_suite(load_contract(context.suite_name), context)
