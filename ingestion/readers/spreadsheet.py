"""Spreadsheets (`format: xlsx` or `xls`): xlsx streamed (`readers.xlsx`), xls by calamine.

The contract names the sheet (`sheet`: name or 0-based index) and the rows above the
header (`skip_rows`: logos, titles). Rows are numbered as the spreadsheet shows them
(1-based sheet rows), so a quarantined cell is found at its row and column. A merged cell
in the header row or a missing sheet rejects the batch, naming the sheet and the cells.
Fully empty rows are not records. An xlsx sheet streams in constant memory; python-calamine
holds an xls sheet's cells in memory while it is read. Batches are built from the rows
ROWS_PER_BATCH at a time.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.readers.base import ROWS_PER_BATCH, TextBatch, text_batch
from ingestion.readers.xlsx import XlsxError


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
        self.path = path
        self.skip = contract.skip_rows
        self.first_col = 0
        self._close: list[Any] = []
        try:
            if contract.format == "xlsx":
                names, merged, rows = self._open_xlsx(contract)
            else:
                names, merged, rows = self._open_calamine(contract)
        except BatchError:
            self.close()
            raise
        except (XlsxError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            self.close()
            raise BatchError(
                f"{path.name}: not a readable {contract.format} workbook ({type(exc).__name__})"
            ) from exc
        del names
        for r0, c0, r1, c1 in merged:
            if r0 <= self.skip <= r1:
                self.close()
                raise BatchError(
                    f"{self.path.name}: sheet {self.sheet_name!r}: merged cells "
                    f"{cell_ref(r0, c0)}:{cell_ref(r1, c1)} in the header row {self.skip + 1}; "
                    "each column needs its own header cell"
                )
        self._rows = rows
        self.header = self._read_header()

    def _pick(self, names: list[str], contract: Contract) -> int:
        wanted = contract.sheet if contract.sheet is not None else 0
        if isinstance(wanted, int):
            if not 0 <= wanted < len(names):
                raise BatchError(
                    f"{self.path.name}: no sheet at index {wanted} (it has {len(names)} sheets: "
                    f"{', '.join(map(repr, names))})"
                )
            return wanted
        if wanted not in names:
            raise BatchError(
                f"{self.path.name}: no sheet named {wanted!r} (sheets: "
                f"{', '.join(map(repr, names))})"
            )
        return names.index(wanted)

    def _open_xlsx(self, contract: Contract) -> tuple[list[str], list[Any], Iterator[Any]]:
        from ingestion.readers.xlsx import XlsxBook

        archive = zipfile.ZipFile(self.path)
        self._close.append(archive)
        book = XlsxBook(archive)
        names = [name for name, _ in book.sheets]
        index = self._pick(names, contract)
        self.sheet_name, member = book.sheets[index]
        return names, book.merged(member), book.rows(member)

    def _open_calamine(self, contract: Contract) -> tuple[list[str], list[Any], Iterator[Any]]:
        from python_calamine import CalamineWorkbook

        try:
            book = CalamineWorkbook.from_path(str(self.path))
        except Exception as exc:  # calamine's errors name no file
            raise XlsxError(type(exc).__name__) from exc
        names = list(book.sheet_names)
        sheet = book.get_sheet_by_index(self._pick(names, contract))
        self.sheet_name = sheet.name
        first_row = int(sheet.start[0]) if sheet.start else 0
        self.first_col = int(sheet.start[1]) if sheet.start else 0
        merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or ())]
        return names, merged, enumerate(sheet.iter_rows(), start=first_row)

    def _read_header(self) -> list[str]:
        for index, cells in self._rows:
            if index < self.skip:
                continue
            if index > self.skip:
                break
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
        try:
            yield from self._batches(self.width)
        except (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError, IndexError) as exc:
            # ElementTree's ParseError is a SyntaxError; a bad shared-string index an IndexError.
            raise BatchError(
                f"{self.path.name}: sheet {self.sheet_name!r} is corrupt ({type(exc).__name__})"
            ) from exc

    def _batches(self, width: int) -> Iterator[TextBatch]:
        pending: list[list[str]] = []
        rows: list[int] = []
        broken: dict[int, tuple[str | None, str]] = {}
        for index, cells in self._rows:
            texts = [c if c.__class__ is str else cell_text(c) for c in cells]
            if not "".join(texts).strip():
                continue
            if len(texts) > width:
                beyond = next((j for j in range(width, len(texts)) if texts[j].strip()), None)
                if beyond is not None:
                    broken[len(rows)] = (
                        None,
                        f"a value in cell {cell_ref(index, beyond + self.first_col)}, right "
                        "of the header's last column",
                    )
                texts = texts[:width]
            elif len(texts) < width:
                texts += [""] * (width - len(texts))
            pending.append(texts)
            rows.append(index + 1)
            if len(rows) >= ROWS_PER_BATCH:
                yield self._batch(pending, rows, broken)
                pending, rows, broken = [], [], {}
        if rows:
            yield self._batch(pending, rows, broken)

    @staticmethod
    def _batch(
        pending: list[list[str]], rows: list[int], broken: dict[int, tuple[str | None, str]]
    ) -> TextBatch:
        batch = text_batch([list(column) for column in zip(*pending, strict=True)], rows)
        batch.broken = broken
        return batch

    def close(self) -> None:
        for handle in self._close:
            handle.close()
        self._close = []
