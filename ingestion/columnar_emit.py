"""What a typed column becomes in the warehouse: values, or a person's pseudonyms.

`parse._emit` for a whole column at a time: HMAC pseudonyms in bulk, national-id check
digits in numpy, names through `pseudonymise_name`. Also the CSV text a batch is COPYed
as. Called by `ingestion.columnar`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingestion.cells import _CompiledColumn
from ingestion.pseudonymise import (
    NATIONAL_ID_DIGITS,
    hmac_hex_many,
    pseudonymise_name,
    pseudonymise_national_id,
)

_NATIONAL_ID_FAST = f"^[0-9]{{{NATIONAL_ID_DIGITS}}}-?[0-9Kk]$"


def emit_column(
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
