"""Streaming, typed parsing of delimited (and, via `parse_json`, JSON) exports, row by row.

Reads a text file (plain or gzip) once to detect its encoding, then once more as a stream
of records: memory stays flat whatever the file size. Each record comes out either as a
tuple of typed warehouse values (persons already pseudonymised), as the list of problems
that send it to quarantine, or as a footer row. The per-cell checks here (`_check`,
`_emit`) are shared with the columnar path; the loader's staging consumes `parse_records`
for JSON and for CSV files the columnar reader cannot split the way `csv` does.
"""

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.cells import (
    Footer,
    HeaderPlan,
    Problem,
    Record,
    _compile,
    _CompiledColumn,
    _shown_record,
    _text_stream,
    _typed_record,
    plan_header,
)
from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.readers.shape import FooterWatch, LongLayout, long_layout, long_rows


def parse_records(
    path: Path, contract: Contract, encoding: str, key: bytes
) -> tuple[HeaderPlan, Iterator[Record | list[Problem] | Footer]]:
    """Read the header (errors raise BatchError) and return an iterator over the records.

    Delimited files: records are numbered from 1 after the header; a record may span several
    physical lines when a quoted field holds line breaks. JSON (`format: jsonl`, one object a
    line, or `format: json`, a list at `records_path`): records are numbered from 1 in order.
    """
    if contract.format in ("jsonl", "json"):
        from ingestion.parse_json import parse_json

        return parse_json(path, contract, encoding, key)
    if contract.format != "csv":
        raise BatchError(f"{path.name}: the row parser reads csv, jsonl and json only")
    stream = _text_stream(path, encoding)
    reader = csv.reader(stream, delimiter=contract.delimiter, quotechar='"', strict=False)
    try:
        header = _header_fields(path, reader, contract.skip_rows)
        layout = long_layout(path, header, contract)
        plan = plan_header(path, layout.header if layout else header, contract)
    except BatchError:
        stream.close()
        raise
    shape = _RowShape(layout, FooterWatch(contract.footer), contract)
    return plan, _records(path, stream, reader, plan, _compile(contract, plan), key, shape)


@dataclass
class _RowShape:
    layout: LongLayout | None
    footer: FooterWatch
    contract: Contract


def _header_fields(path: Path, reader: Any, skip_rows: int = 0) -> list[str]:
    try:
        for _ in range(skip_rows):
            next(reader, None)
        header = next(reader, None)
    except (EOFError, zlib.error, gzip.BadGzipFile, csv.Error) as exc:
        raise BatchError(f"{path.name}: cannot read the header: {exc}") from exc
    if header is None:
        raise BatchError(f"{path.name}: the file is empty (no header row)")
    return list(header)


def read_header(path: Path, contract: Contract, encoding: str) -> tuple[HeaderPlan, list[str]]:
    """The header plan of a delimited file and its raw header fields (for the columnar path)."""
    with _text_stream(path, encoding) as stream:
        reader = csv.reader(stream, delimiter=contract.delimiter, quotechar='"', strict=False)
        header = _header_fields(path, reader, contract.skip_rows)
    layout = long_layout(path, header, contract)
    return plan_header(path, layout.header if layout else header, contract), header


def _records(
    path: Path,
    stream: io.TextIOWrapper,
    reader: Any,
    plan: HeaderPlan,
    compiled: list[_CompiledColumn],
    key: bytes,
    shape: _RowShape,
) -> Iterator[Record | list[Problem] | Footer]:
    row = 0
    layout = shape.layout
    width = plan.width if layout is None else len(layout.fixed) + len(layout.wide)
    with stream:
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise BatchError(
                    f"{path.name}: the gzip stream is truncated or corrupt after record {row} "
                    f"({exc})"
                ) from exc
            except csv.Error as exc:
                row += 1
                yield [Problem(row, None, f"unreadable record: {exc}", None)]
                continue
            row += 1
            if not fields:
                # A blank physical line is not a record; csv yields [] for it.
                row -= 1
                continue
            if shape.footer.row_is_footer(fields):
                yield Footer(row)
                continue
            if len(fields) != width:
                yield [
                    Problem(
                        row,
                        None,
                        f"wrong field count: expected {width}, got {len(fields)}",
                        _shown_record(fields, key),
                    )
                ]
                continue
            if layout is None:
                yield _typed_record(row, fields, plan, compiled, key)
                continue
            value_source = shape.contract.unpivot.value if shape.contract.unpivot else ""
            for long in long_rows(layout, fields):
                item = _typed_record(row, long, plan, compiled, key)
                if isinstance(item, list):
                    # A bad cell of a wide column is named by that column's header.
                    wide_name = long[layout.key_position]
                    item = [
                        Problem(p.row, wide_name, p.reason, p.value)
                        if p.column == value_source
                        else p
                        for p in item
                    ]
                yield item
