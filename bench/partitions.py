"""Month partitioning against an unpartitioned table, on a built warehouse (`bench.e2e`).

For the raw police reports and their fact table it makes, in a scratch schema, three copies
of the same rows: a plain heap (what the project has), the heap with a B-tree index on the
incident date, and a table partitioned by month of incident date (PostgreSQL declarative
partitioning, one partition per month). On each it times, best of three:

- `month_rebuild`: what an incremental rebuild of one municipality-month reads, the rows of
  one month aggregated by municipality and offence;
- `month_replace`: deleting that month's rows (rolled back), the write side of a rebuild;
- `bi_year`: one year counted by municipality and month (a dashboard over a year).

    python -m bench.partitions URL
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import psycopg

TABLES = {
    "raw": ("raw.police__reports", "incident_date", "municipality_reported", "offence_code"),
    "fact": (
        "marts.fct_crime_reports",
        "incident_date",
        "municipality_code",
        "national_offence_code",
    ),
}
SCHEMA = "bench_partitions"


def _best_ms(conn: psycopg.Connection, query: str, params: tuple[Any, ...] = ()) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with conn.transaction(force_rollback=True):
            conn.execute(query, params)
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def _copies(conn: psycopg.Connection, kind: str, table: str, date_col: str) -> dict[str, str]:
    plain, indexed, monthly = (f"{SCHEMA}.{kind}_{v}" for v in ("plain", "indexed", "monthly"))
    conn.execute(f"drop table if exists {plain}, {indexed}, {monthly} cascade")
    conn.execute(f"create table {plain} as select * from {table}")
    conn.execute(f"create table {indexed} as select * from {table}")
    conn.execute(f"create index on {indexed} ({date_col})")
    conn.execute(f"create table {monthly} (like {table}) partition by range ({date_col})")
    months = conn.execute(
        f"select distinct date_trunc('month', {date_col})::date from {table}"
        f" where {date_col} is not null order by 1"
    ).fetchall()
    for (month,) in months:
        conn.execute(
            f"create table {monthly}_{month:%Y%m} partition of {monthly}"
            f" for values from ('{month}') to ('{month}'::date + interval '1 month')"
        )
    conn.execute(f"create table {monthly}_other partition of {monthly} default")
    conn.execute(f"insert into {monthly} select * from {table}")
    for name in (plain, indexed, monthly):
        conn.execute(f"analyze {name}")
    return {"plain": plain, "indexed": indexed, "monthly": monthly}


def compare(url: str) -> dict[str, Any]:
    """Timings per table kind and layout; see the module docstring."""
    results: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create schema if not exists {SCHEMA}")
        for kind, (table, date_col, muni, offence) in TABLES.items():
            copies = _copies(conn, kind, table, date_col)
            month, year = conn.execute(
                f"select date_trunc('month', max({date_col}))::date,"
                f" extract(year from max({date_col}))::int from {table}"
            ).fetchone() or (None, None)
            if month is None:
                continue
            figures: dict[str, Any] = {
                "rows": conn.execute(f"select count(*) from {table}").fetchone()[0],  # type: ignore[index]
                "month": f"{month:%Y-%m}",
            }
            for layout, name in copies.items():
                in_month = f"{date_col} >= %s::date and {date_col} < %s::date + interval '1 month'"
                in_year = (
                    f"{date_col} >= make_date(%s, 1, 1) and {date_col} < make_date(%s + 1, 1, 1)"
                )
                figures[layout] = {
                    "month_rebuild_ms": _best_ms(
                        conn,
                        f"select {muni}, {offence}, count(*) from {name}"
                        f" where {in_month} group by 1, 2",
                        (month, month),
                    ),
                    "month_replace_ms": _best_ms(
                        conn, f"delete from {name} where {in_month}", (month, month)
                    ),
                    "bi_year_ms": _best_ms(
                        conn,
                        f"select {muni}, date_trunc('month', {date_col}), count(*) from {name}"
                        f" where {in_year} group by 1, 2",
                        (year, year),
                    ),
                    "bytes": conn.execute(
                        "select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint"
                        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                        " where n.nspname = %s and c.relname like %s and c.relkind = 'r'",
                        (SCHEMA, name.split(".")[1] + "%"),
                    ).fetchone()[0],  # type: ignore[index]
                }
            results[kind] = figures
        conn.execute(f"drop schema {SCHEMA} cascade")
    return results


if __name__ == "__main__":
    print(json.dumps(compare(sys.argv[1]), indent=2))
