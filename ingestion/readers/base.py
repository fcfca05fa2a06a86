"""What every reader shares: the batch of text it yields (`TextBatch`), the protocol of an
opened file (`TextSource`) and the batch size. Readers import this module, never the package
`__init__` (which picks a reader, so it imports them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa

# Rows a reader puts in one batch: enough for the kernels, few enough to stay flat.
ROWS_PER_BATCH = 32_768


class ColumnarUnsupported(Exception):
    """The file cannot be read column-wise exactly like the row parser reads it."""


# Arrow's CSV errors end with the offending row's text (`Expected 5 columns, got 6: <row>`):
# only the shape before that text is ever reported or logged.
_ARROW_SHAPE = re.compile(r"(?:Row #\d+: )?Expected \d+ columns?, got \d+")


def arrow_error_reason(exc: BaseException) -> str:
    """What Arrow could not read, without any cell or row text (logs never hold a value)."""
    shape = _ARROW_SHAPE.search(str(exc))
    return f"{type(exc).__name__}: {shape.group(0)}" if shape else type(exc).__name__


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
