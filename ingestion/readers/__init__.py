"""Readers: one module per container, each turning a file into batches of text.

Every reader yields `TextBatch`es, Arrow record batches of strings (`f0`, `f1`, … in
the file's column order, never null), with the source row number of each row, so the
columnar path (`ingestion.columnar`) types, checks, pseudonymises and COPYs every format
the same way. `open_source` picks the reader from the contract's `format`; archives
(`container: zip`, or `gz` around a binary format) are unpacked first by
`containers.materialise`. Called by `ingestion.columnar.read_batches`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa

from ingestion.contract import Contract

# Rows a reader puts in one batch: enough for the kernels, few enough to stay flat.
ROWS_PER_BATCH = 32_768


class ColumnarUnsupported(Exception):
    """The file cannot be read column-wise exactly like the row parser reads it."""


@dataclass
class TextBatch:
    """Rows of text as the file holds them, and where each came from."""

    columns: pa.RecordBatch
    rows: np.ndarray
    # Rows the reader could not split into columns: index in the batch -> (column, reason).
    broken: dict[int, tuple[str | None, str]] = field(default_factory=dict)


class TextSource(Protocol):
    """A file opened by a reader: its header and its batches."""

    header: list[str]

    def batches(self) -> Iterator[TextBatch]: ...

    def close(self) -> None: ...


def text_batch(columns: list[list[str]], rows: list[int] | np.ndarray) -> TextBatch:
    """A batch from Python lists of cells, one list per column."""
    arrays = [pa.array(values, pa.string()) for values in columns]
    names = [f"f{i}" for i in range(len(arrays))]
    return TextBatch(pa.RecordBatch.from_arrays(arrays, names=names), np.asarray(rows, np.int64))


def open_source(path: Path, contract: Contract, encoding: str) -> TextSource:
    """The reader for the contract's format, opened on `path` (already unpacked)."""
    if contract.format == "csv":
        from ingestion.readers.delimited import DelimitedSource

        return DelimitedSource(path, contract, encoding)
    if contract.format in ("xlsx", "xls"):
        from ingestion.readers.spreadsheet import SpreadsheetSource

        return SpreadsheetSource(path, contract)
    if contract.format in ("dbf", "dbc"):
        from ingestion.readers.dbf import open_dbf

        return open_dbf(path, contract, encoding)
    if contract.format == "fixed_width":
        from ingestion.readers.fixed import FixedWidthSource

        return FixedWidthSource(path, contract, encoding)
    raise ColumnarUnsupported(f"format {contract.format}")
