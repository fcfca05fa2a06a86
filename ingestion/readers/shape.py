"""Shapes every reader shares: the header after `unpivot`, footer rows, wide rows to long.

A reader yields text rows as the file holds them; these helpers turn a wide layout
(`Enero` … `Diciembre` in columns) into one row per (row, column) and find where the
footer (notes, sources) begins. The row parser uses the per-row forms, the columnar path
the per-batch forms, so both read a file the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.pseudonymise import normalise_name


def fold_header(name: str) -> str:
    """A header name compared without case, accents or surrounding spaces."""
    return normalise_name(name).replace(" ", "_").lower()


@dataclass(frozen=True)
class LongLayout:
    """Where the wide columns sit, and the header the long rows carry."""

    fixed: list[int]
    wide: list[int]
    wide_names: list[str]
    header: list[str]

    @property
    def key_position(self) -> int:
        return len(self.fixed)


def long_layout(path: Path, header: list[str], contract: Contract) -> LongLayout | None:
    """The long header of an unpivoted file (None when the contract has no unpivot).

    Every declared wide column must be in the header: a month missing from a wide file
    rejects the batch, naming the column.
    """
    spec = contract.unpivot
    if spec is None:
        return None
    folded = {fold_header(h): i for i, h in enumerate(header)}
    wide: list[int] = []
    for name in spec.columns:
        position = folded.get(fold_header(name))
        if position is None:
            raise BatchError(
                f"{path.name}: the wide column {name!r} (one of unpivot.columns) is missing "
                "from the header"
            )
        wide.append(position)
    taken = set(wide)
    fixed = [i for i in range(len(header)) if i not in taken]
    return LongLayout(
        fixed=fixed,
        wide=wide,
        wide_names=[header[i] for i in wide],
        header=[*(header[i] for i in fixed), spec.key, spec.value],
    )


def long_rows(layout: LongLayout, fields: list[str]) -> list[list[str]]:
    """One wide row as its long rows: the fixed fields, the wide column's header, its cell."""
    fixed = [fields[i] for i in layout.fixed]
    return [
        [*fixed, name, fields[i]] for name, i in zip(layout.wide_names, layout.wide, strict=True)
    ]


def long_batch(
    layout: LongLayout, batch: pa.RecordBatch, rows: np.ndarray
) -> tuple[pa.RecordBatch, np.ndarray]:
    """A batch of wide rows as long rows, row-major (row 1's months, then row 2's)."""
    n = batch.num_rows
    width = len(layout.wide)
    order = np.repeat(np.arange(n, dtype=np.int64), width)
    take = pa.array(order)
    arrays = [pc.take(batch.column(i), take) for i in layout.fixed]
    arrays.append(pa.array(np.tile(np.array(layout.wide_names, dtype=object), n), pa.string()))
    stacked = np.empty(n * width, dtype=object)
    for j, i in enumerate(layout.wide):
        stacked[j::width] = batch.column(i).to_numpy(zero_copy_only=False)
    arrays.append(pa.array(stacked, pa.string()))
    names = [f"f{i}" for i in range(len(arrays))]
    return pa.RecordBatch.from_arrays(arrays, names=names), rows[order]


class FooterWatch:
    """Finds the first footer row; it and every row after it are footer rows."""

    def __init__(self, pattern: str | None) -> None:
        self._regex = re.compile(pattern) if pattern else None
        self.started = False
        self.rows = 0

    def row_is_footer(self, fields: list[str]) -> bool:
        if self._regex is not None and not self.started:
            first = next((f.strip() for f in fields if f.strip()), "")
            self.started = bool(first) and bool(self._regex.search(first))
        if self.started:
            self.rows += 1
        return self.started

    def cut(self, batch: pa.RecordBatch) -> int:
        """How many leading rows of `batch` are data; counts the rest as footer rows."""
        n = int(batch.num_rows)
        if self.started:
            self.rows += n
            return 0
        if self._regex is None or n == 0:
            return n
        first = pa.nulls(n, pa.string())
        for column in batch.columns:
            trimmed = pc.utf8_trim_whitespace(column)
            first = pc.coalesce(first, pc.if_else(pc.equal(trimmed, ""), None, trimmed))
        hits = pc.fill_null(pc.match_substring_regex(first, self._regex.pattern), False)
        where = pc.indices_nonzero(hits)
        if len(where) == 0:
            return n
        at = int(where[0].as_py())
        self.started = True
        self.rows += n - at
        return at
