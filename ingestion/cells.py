"""Typing and checking of one record's cells: shared by the row parser (CSV, `parse`; JSON,
`parse_json`) and the columnar path (`columnar`, `columnar_emit`).

The encoding check (`detect_encoding`), the header plan (which column is where), the
per-cell converters and checks (`_check`, `_emit`: strict numbers and dates, value rules,
pseudonyms), and the typed record or the problems that quarantine it. Quarantine reasons name
the column and what was expected, never the cell's content.
"""

import codecs
import csv
import gzip
import io
import re
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from ingestion.contract import Column, Contract
from ingestion.errors import BatchError
from ingestion.pseudonymise import (
    pseudonymise_name,
    pseudonymise_national_id,
    pseudonymise_value,
)
from ingestion.readers.shape import fold_header
from ingestion.values import has_rules, plain_decimal, plain_integer, prepare, strict_date_pattern

CHUNK = 1 << 20


# csv's default field limit (128 KiB) is far above any legitimate cell; keep it as a guard.
csv.field_size_limit(1 << 17)


@dataclass(frozen=True)
class Problem:
    """Why one record (row) or one cell of it cannot be loaded."""

    row: int
    column: str | None
    reason: str
    value: str | None


@dataclass
class HeaderPlan:
    """Where each contract column sits in the file, and which undeclared columns it dropped."""

    indices: dict[str, int]
    width: int
    warnings: list[str] = field(default_factory=list)
    # Header names the contract does not declare (`unknown_columns: drop`): never read.
    dropped: list[str] = field(default_factory=list)
    # Footer rows seen so far (the columnar path counts them as it reads).
    footer_rows: int = 0


def _open_bytes(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


@lru_cache(maxsize=32)
def _undecodable_bytes(encoding: str) -> tuple[bytes, ...] | None:
    """The bytes a single-byte table encoding (cp1252, ISO-8859-x) maps to nothing, or None
    for an encoding that is not one (UTF-8): in such a file, these bytes are all that can fail."""
    decoder = codecs.lookup(encoding).incrementaldecoder
    table = getattr(sys.modules.get(decoder.__module__), "decoding_table", None)
    if not isinstance(table, str) or len(table) != 256:
        return None
    return tuple(bytes([i]) for i, char in enumerate(table) if char == "\ufffe")


def _undecodable_at(
    chunk: bytes, decoder: codecs.IncrementalDecoder, undecodable: tuple[bytes, ...] | None
) -> int | None:
    """Where in `chunk` the first byte that cannot be decoded is: searched for when the
    encoding is a table one (`undecodable`), else found by decoding."""
    if undecodable is not None:
        found = [at for byte in undecodable if (at := chunk.find(byte)) >= 0]
        return min(found) if found else None
    try:
        decoder.decode(chunk)
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def _first_undecodable(path: Path, encoding: str) -> int | None:
    """The byte offset of the first byte `encoding` cannot decode in the file, or None.

    A table encoding's file is searched for the bytes it cannot decode, a few searches per
    chunk instead of decoding it (cp1252, the 1.7 GB file of 10M rows: 0.4 s against 2.8 s)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    undecodable = _undecodable_bytes(encoding)
    offset = 0
    try:
        with _open_bytes(path) as handle:
            while chunk := handle.read(CHUNK):
                at = _undecodable_at(chunk, decoder, undecodable)
                if at is not None:
                    return offset + at
                offset += len(chunk)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                return offset + exc.start
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BatchError(f"{path.name}: the gzip stream is truncated or corrupt ({exc})") from exc
    return None


def detect_encoding(path: Path, encodings: tuple[str, ...]) -> str:
    """UTF-8 with BOM, then UTF-8, then cp1252, then latin-1, restricted to the contract's list.

    The whole file is checked against the encoding chosen, so a byte it cannot decode ends
    the batch here with its offset, never as a bare decoding error halfway through a COPY.
    """
    try:
        with _open_bytes(path) as handle:
            has_bom = handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BatchError(f"{path.name}: the gzip stream is truncated or corrupt ({exc})") from exc
    candidates = ("utf-8-sig", "utf-8") if has_bom else ("utf-8", "cp1252", "latin-1")
    # `utf-8-sig` is UTF-8 whose BOM may be there: a contract naming it reads a file without
    # one as UTF-8, never as the single-byte encoding listed after it (which would turn
    # "Jesús María" into "JesÃºs MarÃ\xada" without a complaint).
    allowed = {*encodings, *(("utf-8",) if "utf-8-sig" in encodings else ())}
    first_bad: dict[str, int] = {}
    for encoding in candidates:
        if encoding not in allowed:
            continue
        offset = _first_undecodable(path, encoding)
        if offset is None:
            return encoding
        first_bad[encoding] = offset
    if not first_bad:
        raise BatchError(
            f"{path.name}: {'UTF-8 with BOM' if has_bom else 'not valid UTF-8'} and the "
            f"contract allows only {encodings}"
        )
    detail = ", ".join(f"{enc} fails at byte {offset}" for enc, offset in first_bad.items())
    raise BatchError(f"{path.name}: undecodable bytes ({detail}); allowed: {encodings}")


_fold_header = fold_header


def plan_header(path: Path, header: list[str], contract: Contract) -> HeaderPlan:
    """Map the file's header to the contract, applying the schema-drift policy."""
    if not header or header == [""]:
        raise BatchError(f"{path.name}: the header row is empty")
    folded = [_fold_header(h) for h in header]
    seen: dict[str, int] = {}
    for position, name in enumerate(folded):
        if name in seen:
            raise BatchError(
                f"{path.name}: duplicate header name {header[position]!r} "
                f"in columns {seen[name] + 1} and {position + 1}"
            )
        seen[name] = position
    indices: dict[str, int] = {}
    for column in contract.columns:
        found = seen.get(_fold_header(column.source))
        if found is None:
            if column.required:
                raise BatchError(
                    f"{path.name}: required column {column.source!r} is missing from the header"
                )
            continue
        indices[column.name] = found
    known = set(indices.values())
    undeclared = [header[i] for i in range(len(header)) if i not in known]
    plan = HeaderPlan(indices=indices, width=len(header))
    if undeclared:
        undeclared_columns(path, contract, undeclared, plan)
    return plan


def undeclared_columns(path: Path, contract: Contract, names: list[str], plan: HeaderPlan) -> None:
    """Apply the schema-drift policy to columns (or JSON keys) the contract does not declare.

    Only their names are ever reported (cut to 60 characters), never a value: `reject` ends
    the batch, `drop` records a warning (it goes to the batch's ledger row) and the values
    are never read.
    """
    new = [name for name in names if name not in plan.dropped]
    if not new:
        return
    shown = ", ".join(repr(name[:60]) for name in new)
    if contract.unknown_columns == "drop":
        plan.dropped.extend(new)
        plan.warnings.append(
            f"{path.name}: undeclared columns {shown} dropped (unknown_columns: drop)"
        )
        return
    raise BatchError(
        f"{path.name}: undeclared columns {shown} (contract {contract.name} has "
        "unknown_columns: reject; declare them, or set unknown_columns: drop)"
    )


Converter = Callable[[str], Any]


def _converter(column: Column) -> Converter:
    kind = column.type
    if kind == "text":
        return str
    if kind in ("integer", "bigint"):
        # A value outside the column's range would fail the whole COPY: refuse it per cell.
        bits = 31 if kind == "integer" else 63
        return lambda v: _in_range(_strict_int(v), bits)
    if kind == "numeric":
        # Plain `1234.5` only: `1,234` is never read as 1.234 (declare a `numeric` style).
        return lambda v: Decimal(v) if plain_decimal(v) else _refuse(v)
    # strptime is the slowest step of a row, and a year of exports has few distinct dates:
    # each converter remembers what it parsed (invalid values still raise every time).
    if kind == "date":
        fmt = column.format or "%Y-%m-%d"
        return lru_cache(maxsize=1 << 16)(lambda v: datetime.strptime(v, fmt).date())
    if kind == "timestamp":
        fmt = column.format or "%Y-%m-%dT%H:%M:%S"
        return lru_cache(maxsize=1 << 16)(lambda v: datetime.strptime(v, fmt))
    if kind == "time":
        fmt = column.format or "%H:%M"
        return lru_cache(maxsize=1 << 12)(lambda v: datetime.strptime(v, fmt).time())
    if kind == "boolean":
        truth = {
            "1": True,
            "true": True,
            "si": True,
            "sí": True,
            "s": True,
            "yes": True,
            "0": False,
            "false": False,
            "no": False,
            "n": False,
        }
        return lambda v: truth[v.strip().lower()]
    raise AssertionError(kind)


def _strict_int(value: str) -> int:
    if not plain_integer(value):
        raise ValueError(value)
    return int(value)


def _refuse(value: str) -> Any:
    raise ValueError(value)


def _in_range(value: int, bits: int) -> int:
    if not -(1 << bits) <= value < (1 << bits):
        raise ValueError(value)
    return value


@dataclass
class _CompiledColumn:
    column: Column
    position: int | None
    convert: Converter
    pattern: re.Pattern[str] | None
    allowed: frozenset[str] | None
    shape: re.Pattern[str] | None = None
    rules: bool = False


def _expected(column: Column) -> str:
    if column.format:
        return f"a {column.type} in format {column.format}"
    return f"a {column.type}"


def _check(col: _CompiledColumn, raw: str) -> tuple[Any, str | None]:
    """(typed value, None) or (None, reason)."""
    column = col.column
    if "\x00" in raw:
        return None, "contains a NUL byte"
    if col.pattern is not None and not col.pattern.match(raw):
        return None, f"does not match pattern {column.pattern}"
    if col.allowed is not None and raw not in col.allowed:
        return None, f"not one of the allowed codes {sorted(col.allowed)}"
    if col.shape is not None and not col.shape.match(raw):
        # A date that lost a leading zero (`1012020` for 01/01/2020) has the wrong shape.
        return None, f"expected {_expected(column)}"
    try:
        value = col.convert(raw)
    except (ValueError, KeyError, InvalidOperation):
        return None, f"expected {_expected(column)}"
    if column.min is not None and value < column.min:
        return None, f"below the minimum {column.min}"
    if column.max is not None and value > column.max:
        return None, f"above the maximum {column.max}"
    return value, None


def _emit(col: _CompiledColumn, value: Any, raw: str, key: bytes) -> list[Any]:
    rule = col.column.person
    if rule is None or rule.action == "keep":
        return [value]
    if rule.action == "drop":
        return []
    if rule.action == "year":
        return [value.year if isinstance(value, (date, datetime)) else None]
    if rule.kind == "name":
        pseudonym, tokens = pseudonymise_name(key, raw) if raw else (None, [])
        return [pseudonym, tokens]
    if rule.kind == "national_id":
        return list(pseudonymise_national_id(key, raw))
    return [pseudonymise_value(key, raw) if raw else None]


def _shown_value(col: _CompiledColumn, raw: str, key: bytes) -> str:
    # A quarantined cell that identifies a person is stored as a pseudonym, never raw.
    if col.column.person is not None and col.column.person.action != "keep":
        return "hmac:" + pseudonymise_value(key, raw)[:16]
    return raw.replace("\x00", "\\0")[:200]


@dataclass(frozen=True)
class Record:
    row: int
    values: list[Any]


def _text_stream(path: Path, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(_open_bytes(path), encoding=encoding, newline="")


def _compile(contract: Contract, plan: HeaderPlan) -> list[_CompiledColumn]:
    return [
        _CompiledColumn(
            column=c,
            position=plan.indices.get(c.name),
            convert=_converter(c),
            pattern=re.compile(c.pattern) if c.pattern else None,
            allowed=frozenset(c.allowed) if c.allowed is not None else None,
            shape=_date_shape(c),
            rules=has_rules(c),
        )
        for c in contract.columns
    ]


_DEFAULT_FORMATS = {"date": "%Y-%m-%d", "timestamp": "%Y-%m-%dT%H:%M:%S", "time": "%H:%M"}


def _date_shape(column: Column) -> re.Pattern[str] | None:
    if column.type not in _DEFAULT_FORMATS:
        return None
    return strict_date_pattern(column.format or _DEFAULT_FORMATS[column.type])


@dataclass(frozen=True)
class Footer:
    """A footer row (notes, sources): counted, never loaded."""

    row: int


def _shown_record(fields: list[str], key: bytes) -> str:
    # A ragged record cannot be split into its columns reliably, so any of its fields may be
    # a person's ID or name, declared or not: the record is shown only as a pseudonym.
    return "hmac:" + pseudonymise_value(key, "|".join(fields))[:16]


def _typed_record(
    row: int,
    fields: list[str],
    plan: HeaderPlan,
    compiled: list[_CompiledColumn],
    key: bytes,
) -> Record | list[Problem]:
    values: list[Any] = []
    problems: list[Problem] = []
    for col in compiled:
        raw = fields[col.position].strip() if col.position is not None else ""
        original = raw
        if col.rules:
            raw, why = prepare(col.column, raw)
            if why is not None:
                problems.append(
                    Problem(row, col.column.source, why, _shown_value(col, original, key))
                )
                continue
        if raw == "":
            if col.column.required:
                problems.append(Problem(row, col.column.source, "required value is missing", ""))
            values.extend(_emit(col, None, "", key))
            continue
        value, reason = _check(col, raw)
        if reason is not None:
            shown = _shown_value(col, original, key)
            problems.append(Problem(row, col.column.source, reason, shown))
            continue
        values.extend(_emit(col, value, raw, key))
    if problems:
        return problems
    return Record(row=row, values=values)
