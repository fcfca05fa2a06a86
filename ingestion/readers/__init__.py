"""Readers: one module per container, each turning a file into batches of text.

Every reader yields `TextBatch`es, Arrow record batches of strings (`f0`, `f1`, … in
the file's column order, never null), with the source row number of each row, so the
columnar path (`ingestion.columnar`) types, checks, pseudonymises and COPYs every format
the same way. `open_source` picks the reader from the contract's `format`; archives
(`container: zip`, or `gz` around a binary format) are unpacked first by
`containers.materialise`. Called by `ingestion.columnar.read_batches`.
"""

from __future__ import annotations

from pathlib import Path

from ingestion.contract import Contract
from ingestion.readers.base import (
    ROWS_PER_BATCH,
    ColumnarUnsupported,
    TextBatch,
    TextSource,
    text_batch,
)

__all__ = [
    "ROWS_PER_BATCH",
    "ColumnarUnsupported",
    "TextBatch",
    "TextSource",
    "open_source",
    "text_batch",
]


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
