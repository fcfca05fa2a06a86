"""The bulletin's numbers: the indicator mart's rows for a 12-month window, under disclosure
control, and national series aggregated from municipalities when the mart has no national rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from observatorio.delivery.disclosure import DEFAULT_MARKER, DisclosureRule, protect_rows

WINDOW_MONTHS = 12
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


@dataclass
class Series:
    """One national line: month → value, with the months whose value is suppressed."""

    label: str
    points: dict[str, float | None]
    suppressed: set[str] = field(default_factory=set)


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
    conn: psycopg.Connection, period: str, table: str = INDICATORS_TABLE
) -> list[dict[str, Any]]:
    """The mart's rows for the window of 12 months ending at `period` (none if not built)."""
    if not table_exists(conn, table):
        return []
    schema, name = table.split(".")
    query = sql.SQL("select {} from {}.{} where month > %s and month <= %s").format(
        sql.SQL(", ").join(map(sql.Identifier, INDICATOR_COLUMNS)),
        sql.Identifier(schema),
        sql.Identifier(name),
    )
    with conn.cursor() as cursor:
        cursor.execute(query, (month_shift(period, -WINDOW_MONTHS), period))
        return [dict(zip(INDICATOR_COLUMNS, r, strict=True)) for r in cursor.fetchall()]


@dataclass
class Indicators:
    """The window's indicators after disclosure control, with national aggregation."""

    rows: list[dict[str, Any]]
    suppressed: set[int]
    hidden_totals: set[tuple[Any, ...]]
    marker: str

    def codes(self) -> list[str]:
        return sorted({r["indicator_code"] for r in self.rows})

    def national(self, code: str) -> list[Series]:
        """One series per source: national rows if the mart has them, else aggregated."""
        out = []
        by_source: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(self.rows):
            if r["indicator_code"] == code and r["sex"] == "all" and r["age_group"] == "all":
                by_source[str(r["source"] or "")].append(i)
        for source, members in sorted(by_source.items()):
            label = code if not source else f"{code} ({source})"
            national = [
                i for i in members if str(self.rows[i]["municipality_code"]) in NATIONAL_CODES
            ]
            series = Series(label, {})
            if national:
                for i in national:
                    month = str(self.rows[i]["month"])
                    hidden = i in self.suppressed
                    series.points[month] = None if hidden else number(self.rows[i]["value"])
                    if hidden:
                        series.suppressed.add(month)
            else:
                aggregate = _aggregator([self.rows[i] for i in members])
                months: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for i in members:
                    months[str(self.rows[i]["month"])].append(self.rows[i])
                for month, rows in sorted(months.items()):
                    key = (code, source or None, "all", "all", None, month)
                    if key in self.hidden_totals or aggregate is None:
                        series.points[month] = None
                        if aggregate is not None:
                            series.suppressed.add(month)
                        continue
                    series.points[month] = aggregate(rows)
            if any(v is not None for v in series.points.values()) or series.suppressed:
                out.append(series)
        return out

    def sources(self, code: str) -> list[Any]:
        return sorted({r["source"] for r in self.rows if r["indicator_code"] == code}, key=str)

    def by_municipality(self, code: str, source: Any) -> list[tuple[str, float | None, bool]]:
        """Window totals per municipality (numerators and denominators summed)."""
        rows: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(self.rows):
            if (
                r["indicator_code"] == code
                and r["source"] == source
                and r["sex"] == "all"
                and r["age_group"] == "all"
                and str(r["municipality_code"]) not in NATIONAL_CODES
            ):
                rows[str(r["municipality_code"])].append(i)
        out = []
        for municipality, members in rows.items():
            group = [self.rows[i] for i in members]
            hidden = (code, source, "all", "all", municipality, None) in self.hidden_totals
            aggregate = _aggregator(group)
            value = None if hidden or aggregate is None else aggregate(group)
            out.append((municipality, value, hidden))
        return out


def _aggregator(
    rows: Sequence[dict[str, Any]],
) -> Callable[[Sequence[dict[str, Any]]], float] | None:
    """How municipal rows add up to a national figure, learnt from the rows themselves.

    Counts (no denominator, value = numerator) add up. Rates and shares are affine in
    numerator/denominator (value = a + b x n/d: rates per 100k have a = 0, the dark figure
    a = 1, b = -1), so the national value is a + b x sum n/sum d. Anything else (medians) does not
    aggregate and is only drawn from national rows.
    """
    points = [(number(r["numerator"]), number(r["denominator"]), number(r["value"])) for r in rows]
    if all(d is None for _, d, _ in points):
        if all(v is None or n is None or abs(v - n) < 1e-6 for n, _, v in points):
            return lambda group: float(sum(number(r["numerator"]) or 0 for r in group))
        return None
    pairs = [(n / d, v) for n, d, v in points if n is not None and d and v is not None]
    if not pairs:
        return None
    xs = {round(x, 12) for x, _ in pairs}
    if len(xs) == 1:
        x0, v0 = pairs[0]
        a, b = (0.0, v0 / x0) if x0 else (v0, 0.0)
    else:
        (x1, v1), (x2, v2) = sorted(pairs)[0], sorted(pairs)[-1]
        b = (v2 - v1) / (x2 - x1)
        a = v1 - b * x1
    if any(abs(a + b * x - v) > 1e-6 * max(1.0, abs(v)) for x, v in pairs):
        return None

    def combine(group: Sequence[dict[str, Any]]) -> float:
        num = sum(number(r["numerator"]) or 0 for r in group)
        den = sum(number(r["denominator"]) or 0 for r in group)
        return a + b * num / den if den else float("nan")

    return combine


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
