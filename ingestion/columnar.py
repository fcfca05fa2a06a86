"""Columnar parsing of delimited exports: the loader's fast path for CSV contracts.

pyarrow's multi-threaded CSV reader cuts the file into record batches of strings. Each
contract column is then checked and typed with Arrow compute kernels, once per distinct
value when a column repeats itself (dates, codes, names); Python touches only what must be
computed per value (HMAC pseudonyms) and the rare values outside the common formats, which
go through the row parser's own checks (`parse._check`, `parse._emit`). A batch comes out
as the good rows' warehouse columns, ready for COPY, plus the per-cell problems, with the
same values, reasons and row numbers `parse.parse_records` gives row by row.

Files the reader cannot split into columns the way `csv` does (a ragged or partial row, an
unterminated quote, a line break inside a header name, bytes the encoding cannot decode, a
corrupt gzip) raise `ColumnarUnsupported`, and the loader stages them with the row parser,
which quarantines or rejects exactly as it always did. Called by `ingestion.loader`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingestion.contract import Column, Contract
from ingestion.parse import (
    HeaderPlan,
    Problem,
    _check,
    _compile,
    _CompiledColumn,
    _shown_value,
    read_header,
)
from ingestion.pseudonymise import (
    NATIONAL_ID_DIGITS,
    hmac_hex_many,
    pseudonymise_name,
    pseudonymise_national_id,
)

# The reader parses up to ~40 blocks ahead on its threads, so its memory is about 40 blocks:
# small blocks keep it flat, and they are typed together, ROWS_PER_BATCH at a time (enough
# rows for the kernels and for few distinct values per row).
BLOCK_SIZE = 1 << 19
ROWS_PER_BATCH = 32_768
# ... or fewer when rows are wide: a batch's text stops growing at this many bytes, so long
# free-text fields (narratives of ~1 KB a row) do not multiply the memory of every copy a
# batch goes through (typed columns, the CSV for COPY).
BYTES_PER_BATCH = 8 << 20
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
# Fixed-width strptime directives (what `datetime.strptime` accepts in their zero-padded
# form) as ASCII regexes; formats made only of these and plain literals are typed in Arrow.
_DIRECTIVES: dict[str, tuple[str, int]] = {
    "%d": ("(?:0[1-9]|[12][0-9]|3[01])", 2),
    "%m": ("(?:0[1-9]|1[0-2])", 2),
    "%Y": ("[1-9][0-9]{3}", 4),
    "%H": ("(?:[01][0-9]|2[0-3])", 2),
    "%M": ("[0-5][0-9]", 2),
    "%S": ("[0-5][0-9]", 2),
}
_DEFAULT_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%dT%H:%M:%S", "time": "%H:%M"}
# Patterns made of these characters mean the same to RE2 (Arrow) and to Python's `re` on
# any text: no escapes (`\d` is Unicode in Python, ASCII in RE2), no groups' extensions.
_RE2_SAFE = re.compile(r"^[A-Za-z0-9 ^$\[\]\-{}(),|?*+.:/_#@]*$")
_NATIONAL_ID_FAST = f"^[0-9]{{{NATIONAL_ID_DIGITS}}}-?[0-9Kk]$"


class ColumnarUnsupported(Exception):
    """The file cannot be read column-wise exactly like the row parser reads it."""


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
    return [*(n for n, _ in contract.output_columns()), "_source_row", "_extra"]


def read_batches(
    path: Path, contract: Contract, encoding: str, key: bytes
) -> tuple[HeaderPlan, Iterator[ColumnarBatch]]:
    """Read the header (errors raise BatchError as in the row parser) and stream batches.

    Raises ColumnarUnsupported, before or during iteration, when the row parser must read
    the file instead.
    """
    if contract.format != "csv":
        raise ColumnarUnsupported(f"format {contract.format}")
    plan, header = read_header(path, contract, encoding)
    if any("\r" in h or "\n" in h for h in header):
        raise ColumnarUnsupported("a header name holds a line break")
    _return_memory_promptly()
    compiled = _compile(contract, plan)
    states = [
        _ColumnState(
            c, outputs=[(n, _output_type(c.column, t)) for n, t in _output_pairs(c.column)]
        )
        for c in compiled
    ]
    return plan, _batches(path, contract, encoding, key, plan, states)


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


def _open_reader(path: Path, contract: Contract, encoding: str, width: int) -> Any:
    names = [f"f{i}" for i in range(width)]
    # UTF-8 is read as is (a BOM goes with the skipped header line); other encodings are
    # transcoded by pyarrow with Python's codec, as the row parser decodes them.
    arrow_encoding = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    source = pa.input_stream(str(path), compression="gzip" if path.suffix == ".gz" else None)
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(
            column_names=names,
            skip_rows=1,
            block_size=BLOCK_SIZE,
            encoding=arrow_encoding,
            use_threads=True,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=contract.delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _batches(
    path: Path,
    contract: Contract,
    encoding: str,
    key: bytes,
    plan: HeaderPlan,
    states: list[_ColumnState],
) -> Iterator[ColumnarBatch]:
    try:
        reader = _open_reader(path, contract, encoding, plan.width)
    except (pa.ArrowException, OSError, EOFError, UnicodeError, ValueError) as exc:
        raise ColumnarUnsupported(str(exc)) from exc
    first_row = 1
    with reader:
        for batch in _coalesced(reader):
            yield _type_batch(batch, first_row, plan, states, key)
            first_row += batch.num_rows


def _coalesced(reader: Any) -> Iterator[pa.RecordBatch]:
    """The reader's small record batches, joined into batches of about ROWS_PER_BATCH rows
    (or BYTES_PER_BATCH bytes, whichever comes first)."""
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowException, OSError, EOFError, UnicodeError, ValueError) as exc:
            raise ColumnarUnsupported(str(exc)) from exc
        if batch.num_rows:
            pending.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
        if rows >= ROWS_PER_BATCH or size >= BYTES_PER_BATCH:
            yield _joined(pending)
            pending, rows, size = [], 0, 0
    if pending:
        yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _type_batch(
    batch: pa.RecordBatch,
    first_row: int,
    plan: HeaderPlan,
    states: list[_ColumnState],
    key: bytes,
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
    arrays.append(pa.array(np.arange(first_row, first_row + n, dtype=np.int64)))
    names.append("_extra")
    arrays.append(_extra_json(batch, plan, n))
    table = pa.Table.from_arrays(arrays, names=names)
    problems: list[Problem] = []
    quarantined = 0
    if flagged:
        good_mask = pc.invert(bad)
        table = table.filter(good_mask)
        quarantined = n - table.num_rows
        problems = _problems(flagged, first_row, key)
    return ColumnarBatch(n, table, problems, quarantined)


def _problems(
    flagged: list[tuple[_ColumnState, pa.Array, pa.Array]], first_row: int, key: bytes
) -> list[Problem]:
    problems: list[tuple[int, int, Problem]] = []
    for order, (state, raw, reasons) in enumerate(flagged):
        where = pc.indices_nonzero(pc.is_valid(reasons))
        texts = pc.take(raw, where).to_pylist()
        whys = pc.take(reasons, where).to_pylist()
        for index, text, why in zip(where.to_pylist(), texts, whys, strict=True):
            shown = "" if why == "required value is missing" else None
            if shown is None:
                shown = _shown_value(state.compiled, text, key)
            row = first_row + index
            source = state.compiled.column.source
            problems.append((row, order, Problem(row, source, why, shown)))
    problems.sort(key=lambda item: (item[0], item[1]))
    return [p for _, _, p in problems]


def _extra_json(batch: pa.RecordBatch, plan: HeaderPlan, n: int) -> pa.Array:
    """`_extra` as JSON text: the unexpected columns' raw values, as the row parser keeps them."""
    if not plan.extra:
        return pa.nulls(n, pa.string())
    parts: list[Any] = []
    control = pa.repeat(False, n)
    for i, (name, position) in enumerate(plan.extra.items()):
        value = batch.column(position)
        control = pc.or_(control, pc.match_substring_regex(value, "[\\x00-\\x1f]"))
        escaped = pc.replace_substring(pc.replace_substring(value, "\\", "\\\\"), '"', '\\"')
        prefix = "{" if i == 0 else ", "
        parts.extend([f'{prefix}{json.dumps(name, ensure_ascii=False)}: "', escaped, '"'])
    parts.append("}")
    joined = pc.binary_join_element_wise(*parts, "")
    if pc.any(control).as_py():
        # Control characters need JSON's \u escapes: those few rows go through json.dumps.
        where = pc.indices_nonzero(control).to_pylist()
        exact = [
            json.dumps(
                {name: batch.column(p)[i].as_py() for name, p in plan.extra.items()},
                ensure_ascii=False,
            )
            for i in where
        ]
        joined = pc.replace_with_mask(joined, control, pa.array(exact, pa.string()))
    return joined


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
    work = _Work(
        values=values,
        empty=pc.equal(pc.binary_length(values), 0),
        reasons=pa.nulls(n, pa.string()),
        slow=pa.repeat(False, n),
    )
    if column.required:
        work.reasons = pc.if_else(work.empty, "required value is missing", work.reasons)
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
    result = _emit_column(col, values, typed, ok, slow_values, key, outputs)
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
        layout = _fixed_layout(fmt)
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


@cache
def _fixed_layout(fmt: str) -> tuple[str, int | None] | None:
    """An anchored regex for the zero-padded form of `fmt`, and where its day sits."""
    parts: list[str] = []
    position = 0
    day_at: int | None = None
    i = 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if fmt[i] == "%":
            if token not in _DIRECTIVES:
                return None
            pattern, width = _DIRECTIVES[token]
            if token == "%d":
                day_at = position
            parts.append(pattern)
            position += width
            i += 2
            continue
        if fmt[i] != " " and (fmt[i].isspace() or not fmt[i].isascii()):
            return None
        # A space in a strptime format matches any run of whitespace; one space is the
        # zero-padded form (others go to Python).
        parts.append(" " if fmt[i] == " " else re.escape(fmt[i]))
        position += 1
        i += 1
    return "^" + "".join(parts) + "$", day_at


# --- what a column becomes in the warehouse ---------------------------------------------


def _emit_column(
    col: _CompiledColumn,
    values: pa.Array,
    typed: pa.Array | None,
    ok: pa.Array,
    slow_values: dict[int, list[Any]],
    key: bytes,
    outputs: list[tuple[str, pa.DataType]],
) -> list[pa.Array]:
    """`parse._emit` for a whole column: typed values, or what a person column becomes."""
    rule = col.column.person
    n = len(values)
    if rule is None or rule.action == "keep":
        out_type = outputs[0][1]
        plain = pa.nulls(n, out_type) if typed is None else _as_output(typed, out_type)
        return [_with_slow(plain, slow_values, _plain_value)]
    if rule.action == "drop":
        return []
    if rule.action == "year":
        years = pa.nulls(n, pa.int64())
        if typed is not None and col.column.type in ("date", "timestamp"):
            years = pc.cast(pc.year(typed), pa.int64())
        return [_with_slow(years, slow_values, _year_of)]
    if rule.kind == "national_id":
        return _national_ids(values, ok, key)
    if rule.kind == "name":
        return _name_outputs(values, ok, key)
    return [_other_outputs(values, ok, key)]


def _with_slow(
    array: pa.Array, slow_values: dict[int, list[Any]], convert: Callable[[Any], Any]
) -> pa.Array:
    """Put the values typed in Python (cells outside the Arrow fast path) in their rows."""
    if not slow_values:
        return array
    flags = np.zeros(len(array), dtype=bool)
    flags[list(slow_values)] = True
    replacement = [convert(slow_values[i][0]) for i in sorted(slow_values)]
    return pc.replace_with_mask(array, pa.array(flags), pa.array(replacement, array.type))


def _as_output(typed: pa.Array, out_type: pa.DataType) -> pa.Array:
    return typed if typed.type == out_type else pc.cast(typed, out_type)


def _plain_value(value: Any) -> Any:
    # numeric goes to COPY as the Decimal's text, as psycopg writes it.
    return str(value) if isinstance(value, Decimal) else value


def _year_of(value: Any) -> int | None:
    return value.year if isinstance(value, (date, datetime)) else None


def _hmac_array(key: bytes, domain: str, values: pa.Array) -> pa.Array:
    texts = values.to_pylist()
    return pa.array(hmac_hex_many(key, domain, texts), pa.string())


def _national_ids(values: pa.Array, ok: pa.Array, key: bytes) -> list[pa.Array]:
    """(pseudonym, status) per cell, as `pseudonymise_national_id` gives them.

    `ok` marks the non-empty cells without a problem; empty cells are `missing`, and rows
    with a problem are dropped whatever they hold here.
    """
    n = len(values)
    fast = pc.and_(ok, pc.match_substring_regex(values, _NATIONAL_ID_FAST))
    pseudonyms = pa.nulls(n, pa.string())
    status = pa.repeat(pa.scalar("missing"), n)
    if pc.any(fast).as_py():
        normal = pc.utf8_upper(pc.replace_substring(pc.filter(values, fast), "-", ""))
        valid = _check_digit_ok(normal)
        status = pc.replace_with_mask(
            status, fast, pc.if_else(valid, "valid", "invalid_check_digit")
        )
        valid_rows = pc.replace_with_mask(pa.repeat(False, n), fast, valid)
        hashed = _hmac_array(key, "national_id", pc.filter(normal, valid))
        pseudonyms = pc.replace_with_mask(pseudonyms, valid_rows, hashed)
    rest = pc.and_(ok, pc.invert(fast))
    if pc.any(rest).as_py():
        pairs = [pseudonymise_national_id(key, v) for v in pc.filter(values, rest).to_pylist()]
        pseudonyms = pc.replace_with_mask(
            pseudonyms, rest, pa.array([p for p, _ in pairs], pa.string())
        )
        status = pc.replace_with_mask(status, rest, pa.array([s for _, s in pairs], pa.string()))
    return [pseudonyms, status]


def _check_digit_ok(normal: pa.Array) -> pa.Array:
    """Mod-11 check over nine ASCII digits and a check character, for 10-character values."""
    count = len(normal)
    width = NATIONAL_ID_DIGITS + 1
    offsets = np.frombuffer(normal.buffers()[1], dtype=np.int32)
    starts = offsets[normal.offset : normal.offset + count]
    data = np.frombuffer(normal.buffers()[2], dtype=np.uint8)
    chars = data[starts[:, None] + np.arange(width)].astype(np.int64)
    weights = np.array([2 + (NATIONAL_ID_DIGITS - 1 - j) % 6 for j in range(NATIONAL_ID_DIGITS)])
    total = (chars[:, :NATIONAL_ID_DIGITS] - ord("0")) @ weights
    digit = 11 - total % 11
    expected = np.where(digit == 11, ord("0"), np.where(digit == 10, ord("K"), ord("0") + digit))
    return pa.array(chars[:, NATIONAL_ID_DIGITS] == expected)


def _name_outputs(values: pa.Array, ok: pa.Array, key: bytes) -> list[pa.Array]:
    """(pseudonym, tokens as a text[] literal) per cell, as `pseudonymise_name` gives them."""
    n = len(values)
    pseudonyms = pa.nulls(n, pa.string())
    tokens = pa.repeat(pa.scalar("{}"), n)
    if pc.any(ok).as_py():
        pairs = [pseudonymise_name(key, v) for v in pc.filter(values, ok).to_pylist()]
        named = pa.array([p for p, _ in pairs], pa.string())
        pseudonyms = pc.replace_with_mask(pseudonyms, ok, named)
        literals = pa.array(["{" + ",".join(t) + "}" for _, t in pairs], pa.string())
        tokens = pc.replace_with_mask(tokens, ok, literals)
    return [pseudonyms, tokens]


def _other_outputs(values: pa.Array, ok: pa.Array, key: bytes) -> pa.Array:
    pseudonyms = pa.nulls(len(values), pa.string())
    if pc.any(ok).as_py():
        hashed = _hmac_array(key, "value", pc.filter(values, ok))
        pseudonyms = pc.replace_with_mask(pseudonyms, ok, hashed)
    return pseudonyms


def csv_bytes(table: pa.Table) -> pa.Buffer:
    """The table as CSV for `COPY ... (format csv)`: nulls unquoted, strings quoted."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()
