"""The bulletin's inputs: the indicator mart's rows for the months it shows, under disclosure
control (`observatorio.delivery.disclosure`); `series` turns them into published numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from observatorio.delivery.disclosure import DEFAULT_MARKER, DisclosureRule, protect_rows

WINDOW_MONTHS = 12
# Thirteen months: this month against the previous one and the same month a year ago.
LOADED_MONTHS = WINDOW_MONTHS + 1
INDICATORS_TABLE = "marts.mart_indicators_monthly"
INDICATOR_COLUMNS = (
    "indicator_code",
    "municipality_code",
    "month",
    "sex",
    "age_group",
    "numerator",
    "denominator",
    "value",
    "source",
)
# Rows the mart may carry for the whole country; otherwise national figures are aggregated.
NATIONAL_CODES = {"all", "00000", "national", "nacional"}


def number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | int | float) else None


def month_shift(month: str, delta: int) -> str:
    year, mon = map(int, month.split("-"))
    total = year * 12 + (mon - 1) + delta
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (name,)).fetchone()
    return bool(row and row[0])


def default_period(conn: psycopg.Connection, indicators: str = INDICATORS_TABLE) -> str:
    """The latest month with data (indicators first, then police reports), else last month."""
    for table in (indicators, "marts.mart_crime_reports_monthly"):
        if table_exists(conn, table):
            row = conn.execute(f"select max(month) from {table}").fetchone()
            if row and row[0]:
                return str(row[0])
    today = date.today()
    return month_shift(f"{today.year:04d}-{today.month:02d}", -1)


def load_indicators(
    conn: psycopg.Connection,
    period: str,
    table: str = INDICATORS_TABLE,
    months: int = LOADED_MONTHS,
) -> list[dict[str, Any]]:
    """The mart's total rows (sex and age group `all`) for the `months` ending at `period`
    (none if not built): the bulletin shows totals, not the breakdowns."""
    if not table_exists(conn, table):
        return []
    schema, name = table.split(".")
    query = sql.SQL(
        "select {} from {}.{} where month > %s and month <= %s"
        " and sex = 'all' and age_group = 'all'"
    ).format(
        sql.SQL(", ").join(map(sql.Identifier, INDICATOR_COLUMNS)),
        sql.Identifier(schema),
        sql.Identifier(name),
    )
    with conn.cursor() as cursor:
        cursor.execute(query, (month_shift(period, -months), period))
        return [dict(zip(INDICATOR_COLUMNS, r, strict=True)) for r in cursor.fetchall()]


@dataclass
class Indicators:
    """The window's indicators after disclosure control, with national aggregation."""

    rows: list[dict[str, Any]]
    suppressed: set[int]
    hidden_totals: set[tuple[Any, ...]]
    marker: str
    _by_code: dict[str, list[dict[str, Any]]] | None = field(default=None, repr=False)

    def codes(self) -> list[str]:
        return sorted({r["indicator_code"] for r in self.rows})

    def of(self, code: str) -> list[dict[str, Any]]:
        """The rows of one indicator (indexed once: panels ask for each code repeatedly)."""
        if self._by_code is None:
            index: dict[str, list[dict[str, Any]]] = {}
            for r in self.rows:
                index.setdefault(str(r["indicator_code"]), []).append(r)
            self._by_code = index
        return self._by_code.get(code, [])

    def months(self) -> list[str]:
        return sorted({str(r["month"]) for r in self.rows})


def protect_indicators(rows: list[dict[str, Any]], threshold: int) -> Indicators:
    """Disclosure control on the indicators: municipality x month tables per indicator.

    Numerators are the counts (1..threshold-1 suppressed, with complementary cells so
    neither national monthly totals nor municipal 12-month totals give them away), and a
    value whose numerator is hidden is hidden too.
    """
    clean = [
        {**r, "numerator": max(0, int(number(r["numerator"]) or 0))}
        for r in rows
        if str(r["municipality_code"]) not in NATIONAL_CODES
    ]
    national = [r for r in rows if str(r["municipality_code"]) in NATIONAL_CODES]
    rule = DisclosureRule(
        counts=("numerator",),
        rows="municipality_code",
        columns="month",
        by=("indicator_code", "source", "sex", "age_group"),
        threshold=threshold,
        rates={"value": "numerator"},
    )
    protected, _ = protect_rows(clean, rule)
    # Restore the true numerators (ints were only for the tables) and add national rows,
    # whose own small numerators are hidden as primary cells.
    out = protected.rows
    suppressed = set(protected.suppressed["value"])
    for r in national:
        n = number(r["numerator"])
        if n is not None and 1 <= n < threshold:
            suppressed.add(len(out))
        out.append(dict(r))
    return Indicators(out, suppressed, protected.hidden_totals["numerator"], DEFAULT_MARKER)
