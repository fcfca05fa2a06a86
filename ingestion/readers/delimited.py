"""Delimited text (csv, optionally .gz): pyarrow's multi-threaded reader, in batches.

Files the reader cannot split the way Python's `csv` does (a ragged row, an unterminated
quote, a line break inside a header name, bytes the encoding cannot decode, a corrupt
gzip) raise `ColumnarUnsupported`, and the loader reads them with the row parser, which
quarantines or rejects exactly as it always did.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ingestion.contract import Contract
from ingestion.readers.base import (
    ROWS_PER_BATCH,
    ColumnarUnsupported,
    TextBatch,
    arrow_error_reason,
)

# The reader parses up to ~40 blocks ahead on its threads, so its memory is about 40 blocks:
# small blocks keep it flat, and they are typed together, ROWS_PER_BATCH at a time.
BLOCK_SIZE = 1 << 19
# ... or fewer when rows are wide: a batch's text stops growing at this many bytes, so long
# free-text fields (narratives of ~1 KB a row) do not multiply the memory of every copy a
# batch goes through (typed columns, the CSV for COPY).
BYTES_PER_BATCH = 8 << 20
_ARROW_ERRORS = (pa.ArrowException, OSError, EOFError, UnicodeError, ValueError)


class DelimitedSource:
    def __init__(self, path: Path, contract: Contract, encoding: str) -> None:
        from ingestion.cells import _text_stream
        from ingestion.parse import _header_fields

        self.path, self.contract, self.encoding = path, contract, encoding
        with _text_stream(path, encoding) as stream:
            reader = csv.reader(stream, delimiter=contract.delimiter, quotechar='"', strict=False)
            self.header = _header_fields(path, reader, contract.skip_rows)
        if any("\r" in h or "\n" in h for h in self.header):
            raise ColumnarUnsupported("a header name holds a line break")

    def batches(self) -> Iterator[TextBatch]:
        try:
            reader = _open_reader(self.path, self.contract, self.encoding, len(self.header))
        except _ARROW_ERRORS as exc:
            raise ColumnarUnsupported(arrow_error_reason(exc)) from exc
        first_row = 1
        with reader:
            for batch in _coalesced(reader):
                rows = np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
                yield TextBatch(batch, rows)
                first_row += batch.num_rows

    def close(self) -> None:
        return None


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
            skip_rows=contract.skip_rows + 1,
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
        except _ARROW_ERRORS as exc:
            raise ColumnarUnsupported(arrow_error_reason(exc)) from exc
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
