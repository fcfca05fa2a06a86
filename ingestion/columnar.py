"""Columnar typing of text batches: the loader's fast path for every tabular format.

A reader (`ingestion.readers`: csv, xlsx/xls, dbf/dbc, fixed_width) yields record batches
of strings; footer rows are cut off and wide layouts unpivoted (`readers.shape`). Each
contract column is then prepared (`ingestion.values`: normalise, nulls, maps, decoders,
number styles), checked and typed with Arrow compute kernels, once per distinct value
when a column repeats itself (dates, codes, names); Python touches only what must be
computed per value (HMAC pseudonyms) and the rare values outside the common formats,
which go through the row parser's own checks (`parse._check`). A batch comes out as the
good rows' warehouse columns, ready for COPY, plus the per-cell problems, with the same
values, reasons and row numbers `parse.parse_records` gives row by row.

CSV files the reader cannot split the way `csv` does raise `ColumnarUnsupported`, and
the loader stages them with the row parser. Called by `ingestion.loader`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.cells import (
    HeaderPlan,
    Problem,
    _check,
    _compile,
    _CompiledColumn,
    _shown_value,
    plan_header,
)
from ingestion.columnar_emit import csv_bytes, emit_column
from ingestion.contract import Column, Contract
from ingestion.readers import ColumnarUnsupported, TextSource, open_source
from ingestion.readers.shape import FooterWatch, LongLayout, long_batch, long_layout
from ingestion.values import fixed_layout, prepare_array

__all__ = ["ColumnarBatch", "ColumnarUnsupported", "csv_bytes", "good_columns", "read_batches"]
# Columns whose distinct values are fewer than this share of a batch are typed per value of
# their dictionary (then taken back to rows); others are typed row by row.
DICTIONARY_SHARE = 0.5

OUTPUT_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "integer": pa.int64(),
    "bigint": pa.int64(),
    "numeric": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "time": pa.time64("us"),
    "boolean": pa.bool_(),
    "text[]": pa.string(),
}
_DEFAULT_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%dT%H:%M:%S", "time": "%H:%M"}
# Patterns made of these characters mean the same to RE2 (Arrow) and to Python's `re` on
# any text: no escapes (`\d` is Unicode in Python, ASCII in RE2), no groups' extensions.
_RE2_SAFE = re.compile(r"^[A-Za-z0-9 ^$\[\]\-{}(),|?*+.:/_#@]*$")


# What `str.strip()` strips (every character whose `isspace()` is true); Arrow's own
# notion of whitespace is not the same. A unit test checks the list against Python's.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


@dataclass
class ColumnarBatch:
    """One record batch: its good rows as warehouse columns, and its problems."""

    rows_read: int
    good: pa.Table
    problems: list[Problem]
    rows_quarantined: int


@dataclass
class _ColumnState:
    compiled: _CompiledColumn
    dictionary: bool | None = None
    outputs: list[tuple[str, pa.DataType]] = field(default_factory=list)


def good_columns(contract: Contract) -> list[str]:
    """The staging columns a columnar batch carries, in order (the rest have defaults)."""
    return [*(n for n, _ in contract.output_columns()), "_source_row"]


def read_batches(
    path: Path, contract: Contract, encoding: str, key: bytes
) -> tuple[HeaderPlan, Iterator[ColumnarBatch]]:
    """Open the file with its reader (errors raise BatchError), plan its header, stream batches.

    Raises ColumnarUnsupported, before or during iteration, when the row parser must read
    the (csv) file instead. `plan.footer_rows` counts footer rows once iteration ends.
    """
    source = open_source(path, contract, encoding)
    try:
        layout = long_layout(path, source.header, contract)
        plan = plan_header(path, layout.header if layout else source.header, contract)
    except BaseException:
        source.close()
        raise
    _return_memory_promptly()
    compiled = _compile(contract, plan)
    states = [
        _ColumnState(
            c, outputs=[(n, _output_type(c.column, t)) for n, t in _output_pairs(c.column)]
        )
        for c in compiled
    ]
    shape = _Shape(layout, FooterWatch(contract.footer), contract)
    return plan, _batches(source, key, plan, states, shape)


@dataclass
class _Shape:
    layout: LongLayout | None
    footer: FooterWatch
    contract: Contract


@cache
def _return_memory_promptly() -> None:
    """Arrow's buffers from jemalloc, handed back to the system as soon as they are freed.

    The default allocator (mimalloc) keeps freed pages in each reader thread's heap: with
    a dozen threads that is ~100 MB of resident memory that nothing uses (measured on the
    1M-row bench file: peak RSS 272 MB with mimalloc, 191 MB with this).
    """
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:  # a pyarrow built without jemalloc
        return
    pa.set_memory_pool(pool)


def _output_type(column: Column, sql_type: str) -> pa.DataType:
    # Whole seconds unless the format reads fractions: COPY then reads no ".000000" per cell.
    if sql_type in ("timestamp", "time") and "%f" not in (column.format or ""):
        return pa.timestamp("s") if sql_type == "timestamp" else pa.time32("s")
    return OUTPUT_TYPES[sql_type]


def _output_pairs(column: Column) -> list[tuple[str, str]]:
    return [(n, t.replace(" not null", "")) for n, t in column.output_columns()]


def _batches(
    source: TextSource,
    key: bytes,
    plan: HeaderPlan,
    states: list[_ColumnState],
    shape: _Shape,
) -> Iterator[ColumnarBatch]:
    try:
        for text in source.batches():
            keep = shape.footer.cut(text.columns)
            plan.footer_rows = shape.footer.rows
            if keep == 0:
                continue
            batch, rows = text.columns.slice(0, keep), text.rows[:keep]
            broken = {i: why for i, why in text.broken.items() if i < keep}
            wide: pa.Array | None = None
            if shape.layout is not None:
                width = len(shape.layout.wide)
                batch, rows = long_batch(shape.layout, batch, rows)
                broken = {i * width + j: why for i, why in broken.items() for j in range(width)}
                wide = batch.column(shape.layout.key_position)
            yield _type_batch(batch, rows, plan, states, key, broken, wide, shape)
    finally:
        source.close()


def _type_batch(
    batch: pa.RecordBatch,
    rows: np.ndarray,
    plan: HeaderPlan,
    states: list[_ColumnState],
    key: bytes,
    broken: dict[int, tuple[str | None, str]],
    wide: pa.Array | None,
    shape: _Shape,
) -> ColumnarBatch:
    n = batch.num_rows
    names: list[str] = []
    arrays: list[pa.Array] = []
    bad = pa.repeat(False, n)
    flagged: list[tuple[_ColumnState, pa.Array, pa.Array]] = []
    for state in states:
        position = state.compiled.position
        raw = (
            pc.utf8_trim(batch.column(position), characters=PYTHON_WHITESPACE)
            if position is not None
            else pa.repeat("", n)
        )
        outputs, reasons = _typed_column(state, raw, key)
        for (name, _), array in zip(state.outputs, outputs, strict=True):
            names.append(name)
            arrays.append(array)
        if reasons is not None and reasons.null_count < n:
            flagged.append((state, raw, reasons))
            bad = pc.or_(bad, pc.is_valid(reasons))
    names.append("_source_row")
    arrays.append(pa.array(rows, pa.int64()))
    table = pa.Table.from_arrays(arrays, names=names)
    problems: list[Problem] = []
    quarantined = 0
    if broken:
        flags = np.zeros(n, dtype=bool)
        flags[list(broken)] = True
        bad = pc.or_(bad, pa.array(flags))
    if flagged or broken:
        table = table.filter(pc.invert(bad))
        quarantined = n - table.num_rows
        value_source = shape.contract.unpivot.value if shape.contract.unpivot else None
        problems = _problems(flagged, rows, key, broken, wide, value_source)
    return ColumnarBatch(n, table, problems, quarantined)


def _problems(
    flagged: list[tuple[_ColumnState, pa.Array, pa.Array]],
    rows: np.ndarray,
    key: bytes,
    broken: dict[int, tuple[str | None, str]],
    wide: pa.Array | None,
    value_source: str | None,
) -> list[Problem]:
    """The batch's problems in row order; a bad cell of a wide column names that column."""
    problems: list[tuple[int, int, Problem]] = []
    for index, (column, why) in broken.items():
        problems.append((index, -1, Problem(int(rows[index]), column, why, None)))
    for order, (state, raw, reasons) in enumerate(flagged):
        where = pc.indices_nonzero(pc.is_valid(reasons))
        texts = pc.take(raw, where).to_pylist()
        whys = pc.take(reasons, where).to_pylist()
        source = state.compiled.column.source
        names = (
            pc.take(wide, where).to_pylist()
            if wide is not None and source == value_source
            else [source] * len(texts)
        )
        for index, text, why, name in zip(where.to_pylist(), texts, whys, names, strict=True):
            if index in broken:
                continue
            shown = "" if why == "required value is missing" else None
            if shown is None:
                shown = _shown_value(state.compiled, text, key)
            problems.append((index, order, Problem(int(rows[index]), name, why, shown)))
    problems.sort(key=lambda item: (item[0], item[1]))
    return [p for _, _, p in problems]


# --- one contract column -------------------------------------------------------------


def _typed_column(
    state: _ColumnState, raw: pa.Array, key: bytes
) -> tuple[list[pa.Array], pa.Array | None]:
    """The column's output arrays and its per-row reasons (null where the cell is fine)."""
    if state.dictionary is False:
        return _typed_values(state.compiled, raw, key, state.outputs)
    encoded = pc.dictionary_encode(raw)
    values = encoded.dictionary
    if state.dictionary is None:
        state.dictionary = len(values) < DICTIONARY_SHARE * max(len(raw), 1)
        if not state.dictionary:
            return _typed_values(state.compiled, raw, key, state.outputs)
    outputs, reasons = _typed_values(state.compiled, values, key, state.outputs)
    indices = encoded.indices
    return (
        [pc.take(o, indices) for o in outputs],
        pc.take(reasons, indices) if reasons is not None else None,
    )


@dataclass
class _Work:
    """Typing state of one array of (trimmed) values."""

    values: pa.Array
    empty: pa.Array
    reasons: pa.Array
    slow: pa.Array

    def flag(self, mask: pa.Array, reason: str) -> None:
        """Give `reason` to the non-empty cells in `mask` that have none yet."""
        hit = pc.and_(pc.and_(mask, pc.invert(self.empty)), pc.is_null(self.reasons))
        if pc.any(hit).as_py():
            self.reasons = pc.if_else(hit, reason, self.reasons)

    def pending(self) -> pa.Array:
        """Non-empty cells without a reason yet."""
        return pc.and_(pc.invert(self.empty), pc.is_null(self.reasons))


def _typed_values(
    col: _CompiledColumn,
    values: pa.Array,
    key: bytes,
    outputs: list[tuple[str, pa.DataType]],
) -> tuple[list[pa.Array], pa.Array | None]:
    column = col.column
    n = len(values)
    prepared: pa.Array | None = None
    if col.rules:
        values, prepared = prepare_array(column, values)
    work = _Work(
        values=values,
        empty=pc.equal(pc.binary_length(values), 0),
        reasons=prepared if prepared is not None else pa.nulls(n, pa.string()),
        slow=pa.repeat(False, n),
    )
    if column.required:
        missing = pc.and_(work.empty, pc.is_null(work.reasons))
        work.reasons = pc.if_else(missing, "required value is missing", work.reasons)
    work.flag(pc.match_substring(values, "\x00"), "contains a NUL byte")
    if column.pattern is not None:
        if _RE2_SAFE.match(column.pattern) and "(?" not in column.pattern:
            matched = pc.match_substring_regex(values, f"^(?:{column.pattern})")
            work.flag(pc.invert(matched), f"does not match pattern {column.pattern}")
        else:
            work.slow = work.pending()
    if col.allowed is not None:
        allowed = pc.is_in(values, value_set=pa.array(sorted(col.allowed), pa.string()))
        work.flag(pc.invert(allowed), f"not one of the allowed codes {sorted(col.allowed)}")
    typed, fast = _fast_typed(column, work)
    # Everything not typed in Arrow goes through the row parser's checks, value by value.
    work.slow = pc.or_(work.slow, pc.and_(work.pending(), pc.invert(fast)))
    slow_values: dict[int, list[Any]] = {}
    if pc.any(work.slow).as_py():
        slow_at = pc.indices_nonzero(work.slow).to_pylist()
        texts = pc.take(values, pa.array(slow_at, pa.int64())).to_pylist()
        slow_reasons: list[str | None] = []
        for at, text in zip(slow_at, texts, strict=True):
            value, reason = _check(col, text)
            slow_reasons.append(reason)
            if reason is None:
                slow_values[at] = [value]
        work.reasons = pc.replace_with_mask(
            work.reasons, work.slow, pa.array(slow_reasons, pa.string())
        )
    ok = work.pending()
    if typed is not None:
        typed = pc.if_else(pc.and_(ok, fast), typed, pa.nulls(n, typed.type))
    result = emit_column(col, values, typed, ok, slow_values, key, outputs)
    reasons = work.reasons if work.reasons.null_count < n else None
    return result, reasons


def _fast_typed(column: Column, work: _Work) -> tuple[pa.Array | None, pa.Array]:
    """(typed values, mask of the cells typed here); other pending cells go to Python."""
    values = work.values
    n = len(values)
    nothing = pa.repeat(False, n)
    kind = column.type
    if kind == "text":
        return values, pc.invert(work.empty)
    if kind in ("integer", "bigint"):
        digits = 9 if kind == "integer" else 18
        fast = pc.and_(work.pending(), pc.match_substring_regex(values, f"^[0-9]{{1,{digits}}}$"))
        typed = pc.cast(pc.if_else(fast, values, "0"), pa.int64())
        _bounds(column, work, fast, typed)
        return typed, fast
    if kind in ("date", "timestamp", "time") and column.min is None and column.max is None:
        fmt = column.format or _DEFAULT_FORMATS[kind]
        layout = fixed_layout(fmt)
        if layout is None:
            return None, nothing
        regex, day_at = layout
        fast = pc.and_(work.pending(), pc.match_substring_regex(values, regex))
        if not pc.any(fast).as_py():
            return None, nothing
        parsed = pc.strptime(
            pc.if_else(fast, values, pa.scalar(None, pa.string())),
            format=fmt,
            unit="us",
            error_is_null=True,
        )
        if day_at is not None:
            # Arrow rolls 31/02 over to March; Python refuses it: such cells go to Python.
            day_text = pc.if_else(fast, pc.utf8_slice_codeunits(values, day_at, day_at + 2), "01")
            day = pc.cast(day_text, pa.int64())
            fast = pc.and_(fast, pc.fill_null(pc.equal(pc.day(parsed), day), False))
        else:
            fast = pc.and_(fast, pc.is_valid(parsed))
        if kind == "date":
            return pc.cast(parsed, pa.date32()), fast
        if kind == "time":
            midnight = pc.floor_temporal(parsed, unit="day")
            micros = pc.subtract(pc.cast(parsed, pa.int64()), pc.cast(midnight, pa.int64()))
            return pc.cast(micros, pa.time64("us")), fast
        return parsed, fast
    return None, nothing


def _bounds(column: Column, work: _Work, fast: pa.Array, typed: pa.Array) -> None:
    if column.min is not None:
        work.flag(pc.and_(fast, pc.less(typed, column.min)), f"below the minimum {column.min}")
    if column.max is not None:
        work.flag(pc.and_(fast, pc.greater(typed, column.max)), f"above the maximum {column.max}")
