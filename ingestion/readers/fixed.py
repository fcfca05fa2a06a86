"""Fixed-width text (`format: fixed_width`): each column at its `start` and `width`.

Lines are read by pyarrow as one column and sliced with Arrow kernels (positions count
characters, after decoding with the detected encoding). A line too short for a column
is quarantined with a reason naming the column and the positions it needed; blank lines
are not records. Rows are numbered from 1 after the skipped (and header) lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.readers.base import TextBatch, arrow_error_reason
from ingestion.readers.delimited import BLOCK_SIZE, _coalesced

# A delimiter no text line holds: the whole line is one field.
_NO_DELIMITER = "\x1f"


class FixedWidthSource:
    def __init__(self, path: Path, contract: Contract, encoding: str) -> None:
        self.path, self.contract, self.encoding = path, contract, encoding
        self.header = [c.source for c in contract.columns]
        self.spans = [
            (c.source, int(c.start or 1) - 1, int(c.start or 1) - 1 + int(c.width or 0))
            for c in contract.columns
        ]
        if any(start < 0 or end <= start for _, start, end in self.spans):
            raise BatchError(f"{path.name}: fixed_width columns need start >= 1 and width >= 1")

    def batches(self) -> Iterator[TextBatch]:
        arrow_encoding = "utf8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        skip = self.contract.skip_rows + (1 if self.contract.header else 0)
        source = pa.input_stream(
            str(self.path), compression="gzip" if self.path.suffix == ".gz" else None
        )
        try:
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(
                    column_names=["line"],
                    skip_rows=skip,
                    block_size=BLOCK_SIZE,
                    encoding=arrow_encoding,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=_NO_DELIMITER, quote_char=False, ignore_empty_lines=True
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={"line": pa.string()}, strings_can_be_null=False
                ),
            )
        except (pa.ArrowException, OSError, UnicodeError) as exc:
            raise BatchError(
                f"{self.path.name}: cannot read the lines ({arrow_error_reason(exc)})"
            ) from exc
        first_row = 1
        with reader:
            try:
                for batch in _coalesced(reader):
                    yield self._sliced(batch.column(0), first_row)
                    first_row += batch.num_rows
            except Exception as exc:
                raise BatchError(
                    f"{self.path.name}: cannot read the lines after row {first_row - 1} "
                    f"({type(exc).__name__}; a line holding the byte 0x1F or a bad byte)"
                ) from exc

    def _sliced(self, lines: pa.Array, first_row: int) -> TextBatch:
        lines = pc.utf8_rtrim(lines, characters="\r")
        n = len(lines)
        arrays = [pc.utf8_slice_codeunits(lines, start, end) for _, start, end in self.spans]
        names = [f"f{i}" for i in range(len(arrays))]
        rows = np.arange(first_row, first_row + n, dtype=np.int64)
        batch = TextBatch(pa.RecordBatch.from_arrays(arrays, names=names), rows)
        lengths = pc.utf8_length(lines)
        needed = max(end for _, _, end in self.spans)
        short = pc.indices_nonzero(pc.less(lengths, needed)).to_pylist()
        for index in short:
            length = lengths[index].as_py()
            name, start, end = next(s for s in self.spans if s[2] > length)
            batch.broken[index] = (
                name,
                f"line too short: {length} characters, column {name} needs "
                f"positions {start + 1}-{end}",
            )
        return batch

    def close(self) -> None:
        return None
