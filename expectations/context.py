"""What a suite may need to know beyond the batch itself: reference lists and recent history.

Kept free of Great Expectations imports so suite parameters can be computed and tested
cheaply; `expectations.gate` gathers them before building a suite.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import psycopg

from observatorio.core.settings import PROJECT_DIR

SEEDS_DIR = PROJECT_DIR / "dbt_project" / "seeds"


@dataclass(frozen=True)
class SuiteContext:
    """Parameters a suite is built with; defaults make a suite buildable without a database."""

    suite_name: str
    today: date = field(default_factory=date.today)
    recent_batch_rows: tuple[int, ...] = ()

    @property
    def typical_batch_rows(self) -> int | None:
        """Median rows of the last loaded batches, once there are enough to mean something."""
        if len(self.recent_batch_rows) < 3:
            return None
        return int(statistics.median(self.recent_batch_rows))


@cache
def seed_values(seed: str, column: str) -> frozenset[str]:
    """The values of one column of a reference seed (empty if the seed is not there yet)."""
    path = SEEDS_DIR / f"{seed}.csv"
    if not path.is_file():
        return frozenset()
    with path.open(encoding="utf-8", newline="") as handle:
        return frozenset(row[column] for row in csv.DictReader(handle) if row.get(column))


def recent_batch_rows(conn: psycopg.Connection, source: str, limit: int = 10) -> tuple[int, ...]:
    rows = conn.execute(
        "select rows_read from ops.batch_ledger where source = %s and status = 'loaded'"
        " order by finished_at desc limit %s",
        (source, limit),
    ).fetchall()
    return tuple(int(r[0]) for r in rows)


def seeds_dir() -> Path:
    return SEEDS_DIR
