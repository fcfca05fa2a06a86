"""Spreadsheets (`format: xlsx` or `xls`), read with python-calamine.

The contract names the sheet (`sheet`: name or 0-based index) and the rows above the
header (`skip_rows`: logos, titles). Rows are numbered as the spreadsheet shows them
(1-based sheet rows), so a quarantined cell is found at its row and column. A merged cell
in the header row or a missing sheet rejects the batch, naming the sheet and the cells.
Fully empty rows are not records. calamine holds the sheet's cells in memory while it is
read (the xlsx format keeps shared strings apart from the rows); batches are built from
its rows ROWS_PER_BATCH at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.readers import ROWS_PER_BATCH, TextBatch, text_batch


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


class SpreadsheetSource:
    def __init__(self, path: Path, contract: Contract) -> None:
        from python_calamine import CalamineWorkbook

        self.path = path
        try:
            book = CalamineWorkbook.from_path(str(path))
        except Exception as exc:  # calamine's errors name no file
            raise BatchError(
                f"{path.name}: not a readable {contract.format} workbook ({type(exc).__name__})"
            ) from exc
        self.sheet = self._sheet(book, contract)
        self.sheet_name = self.sheet.name
        self.skip = contract.skip_rows
        self.first_row = int(self.sheet.start[0]) if self.sheet.start else 0
        self.first_col = int(self.sheet.start[1]) if self.sheet.start else 0
        self._check_merged_header()
        self._rows = enumerate(self.sheet.iter_rows(), start=self.first_row)
        self.header = self._read_header()

    def _sheet(self, book: Any, contract: Contract) -> Any:
        wanted = contract.sheet if contract.sheet is not None else 0
        names = list(book.sheet_names)
        if isinstance(wanted, int):
            if not 0 <= wanted < len(names):
                raise BatchError(
                    f"{self.path.name}: no sheet at index {wanted} (it has {len(names)} sheets: "
                    f"{', '.join(map(repr, names))})"
                )
            return book.get_sheet_by_index(wanted)
        if wanted not in names:
            raise BatchError(
                f"{self.path.name}: no sheet named {wanted!r} (sheets: "
                f"{', '.join(map(repr, names))})"
            )
        return book.get_sheet_by_name(wanted)

    def _check_merged_header(self) -> None:
        for (r0, c0), (r1, c1) in self.sheet.merged_cell_ranges or ():
            if r0 <= self.skip <= r1:
                raise BatchError(
                    f"{self.path.name}: sheet {self.sheet_name!r}: merged cells "
                    f"{cell_ref(r0, c0)}:{cell_ref(r1, c1)} in the header row {self.skip + 1}; "
                    "each column needs its own header cell"
                )

    def _read_header(self) -> list[str]:
        for index, cells in self._rows:
            if index < self.skip:
                continue
            header = [cell_text(c).strip() for c in cells]
            while header and header[-1] == "":
                header.pop()
            if not header:
                break
            self.width = len(header)
            return header
        raise BatchError(
            f"{self.path.name}: sheet {self.sheet_name!r}: no header at row {self.skip + 1}"
        )

    def batches(self) -> Iterator[TextBatch]:
        width = self.width
        columns: list[list[str]] = [[] for _ in range(width)]
        rows: list[int] = []
        broken: dict[int, tuple[str | None, str]] = {}
        for index, cells in self._rows:
            texts = [cell_text(c) for c in cells]
            if not any(t.strip() for t in texts):
                continue
            beyond = next((j for j in range(width, len(texts)) if texts[j].strip()), None)
            if beyond is not None:
                broken[len(rows)] = (
                    None,
                    f"a value in cell {cell_ref(index, beyond + self.first_col)}, right of "
                    "the header's last column",
                )
            texts += [""] * (width - len(texts))
            for j in range(width):
                columns[j].append(texts[j])
            rows.append(index + 1)
            if len(rows) >= ROWS_PER_BATCH:
                yield self._batch(columns, rows, broken)
                columns, rows, broken = [[] for _ in range(width)], [], {}
        if rows:
            yield self._batch(columns, rows, broken)

    @staticmethod
    def _batch(
        columns: list[list[str]], rows: list[int], broken: dict[int, tuple[str | None, str]]
    ) -> TextBatch:
        batch = text_batch(columns, rows)
        batch.broken = broken
        return batch

    def close(self) -> None:
        return None
