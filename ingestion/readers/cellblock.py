"""Cells of whole sheet rows, column-wise: what the spreadsheet readers hand over.

A `CellBlock` holds the non-empty cells of some whole rows as three columns (0-based sheet
row, 0-based column, the cell as text), so a sheet of a million rows is never a million
Python lists. `cell_text` is the one text form of a cell (dates in ISO form, whole numbers
without `.0`); `rows_block` turns rows read cell by cell into a block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pyarrow as pa


@dataclass
class CellBlock:
    """Cells of whole rows, in sheet order: 0-based row and column (int32), the cell as text."""

    rows: np.ndarray
    cols: np.ndarray
    text: pa.Array


def cell_ref(row: int, column: int) -> str:
    """`B7` for the 0-based (6, 1)."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{row + 1}"


def cell_text(value: Any) -> str:
    """A cell as the text the typed converters read (dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep="T", timespec="seconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def rows_block(rows: Iterable[tuple[int, list[Any]]]) -> CellBlock:
    """The block of rows read cell by cell ((0-based row, cell values) each)."""
    row_of: list[int] = []
    col_of: list[int] = []
    texts: list[str] = []
    for index, cells in rows:
        for column, value in enumerate(cells):
            if value is None or value == "":
                continue
            row_of.append(index)
            col_of.append(column)
            texts.append(value if value.__class__ is str else cell_text(value))
    return CellBlock(
        np.asarray(row_of, np.int32), np.asarray(col_of, np.int32), pa.array(texts, pa.string())
    )
