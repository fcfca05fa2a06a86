"""Spreadsheets (`format: xlsx` or `xls`): xlsx streamed (`readers.xlsx`), xls by calamine.

The contract names the sheet (`sheet`: name or 0-based index) and the rows above the
header (`skip_rows`: logos, titles). Rows are numbered as the spreadsheet shows them
(1-based sheet rows), so a quarantined cell is found at its row and column. A merged cell
in the header row or a missing sheet rejects the batch, naming the sheet and the cells.
Fully empty rows are not records. Readers hand over cells column-wise (`CellBlock`s), and
batches are built from whole rows, ROWS_PER_BATCH or a few more at a time, without a
Python object per cell. An xlsx sheet streams in bounded memory: its merged ranges are
scanned by a thread while the first rows are read into a buffer of at most
PREFETCH_CELLS cells, and no row leaves before the header is checked. python-calamine
holds an xls sheet's cells in memory while it is read.
"""

from __future__ import annotations

import threading
import zipfile
import zlib
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract import Contract
from ingestion.errors import BatchError
from ingestion.readers.base import ROWS_PER_BATCH, TextBatch
from ingestion.readers.cellblock import CellBlock, cell_ref, cell_text, rows_block
from ingestion.readers.xlsx import XlsxError

__all__ = ["SpreadsheetSource", "cell_ref", "cell_text"]
# Cells read ahead (a few MB of Arrow) while the merged-cells scan runs.
PREFETCH_CELLS = 1_000_000


class SpreadsheetSource:
    def __init__(self, path: Path, contract: Contract) -> None:
        self.path = path
        self.skip = contract.skip_rows
        self.first_col = 0
        self._close: list[Any] = []
        self._threads: list[threading.Thread] = []
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
        self._rows = rows
        self._buffer: list[CellBlock] = []
        self._stopped: BaseException | None = None
        try:
            header: list[str] | None = self._read_header()
            failed: BatchError | None = None
        except BatchError as exc:
            header, failed = None, exc
        try:
            self._check_merges(self._prefetch(merged))
        except BaseException:
            self.close()
            raise
        if failed is not None:
            self.close()
            raise failed
        assert header is not None
        self.header = header

    def _prefetch(self, merged: Any) -> list[tuple[int, int, int, int]]:
        """The merged ranges, found by a thread scanning the sheet (xlsx) while the first
        rows are read into a bounded buffer: no row leaves before the header is checked."""
        if not isinstance(merged, threading.Thread):
            ranges: list[tuple[int, int, int, int]] = merged
            return ranges
        cells = 0
        try:
            while merged.is_alive() and cells < PREFETCH_CELLS:
                block = next(self._rows, None)
                if block is None:
                    break
                self._buffer.append(block)
                cells += len(block.rows)
        except (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError, IndexError) as exc:
            self._stopped = exc
        merged.join()
        outcome = self._merged_outcome
        if isinstance(outcome, BaseException):
            raise BatchError(
                f"{self.path.name}: not a readable xlsx workbook ({type(outcome).__name__})"
            ) from outcome
        found: list[tuple[int, int, int, int]] = outcome
        return found

    def _check_merges(self, merged: list[tuple[int, int, int, int]]) -> None:
        for r0, c0, r1, c1 in merged:
            if r0 <= self.skip <= r1:
                raise BatchError(
                    f"{self.path.name}: sheet {self.sheet_name!r}: merged cells "
                    f"{cell_ref(r0, c0)}:{cell_ref(r1, c1)} in the header row {self.skip + 1}; "
                    "each column needs its own header cell"
                )

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

    def _open_xlsx(self, contract: Contract) -> tuple[list[str], Any, Iterator[Any]]:
        from ingestion.readers.xlsx import XlsxBook

        archive = zipfile.ZipFile(self.path)
        self._close.append(archive)
        book = XlsxBook(archive)
        names = [name for name, _ in book.sheets]
        index = self._pick(names, contract)
        self.sheet_name, member = book.sheets[index]
        archive.getinfo(member)  # a missing sheet part fails here, not in the thread

        def scan() -> None:
            try:
                self._merged_outcome: Any = book.merged(member)
            except Exception as exc:  # handed to the reading thread by _prefetch
                self._merged_outcome = exc

        thread = threading.Thread(target=scan, name="xlsx-merged-cells", daemon=True)
        thread.start()
        self._threads.append(thread)
        return names, thread, book.blocks(member)

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
        return names, merged, _row_blocks(enumerate(sheet.iter_rows(), start=first_row))

    def _read_header(self) -> list[str]:
        """The header row's cells; the rest of its block is kept for the first batch."""
        self._first: CellBlock | None = None
        for block in self._rows:
            if not len(block.rows) or block.rows[-1] < self.skip:
                continue
            at = int(np.searchsorted(block.rows, self.skip))
            end = int(np.searchsorted(block.rows, self.skip, side="right"))
            self._first = CellBlock(block.rows[end:], block.cols[end:], block.text[end:])
            header: list[str] = []
            for column, text in zip(
                block.cols[at:end].tolist(), block.text[at:end].to_pylist(), strict=True
            ):
                header.extend([""] * (column + 1 - len(header)))
                header[column] = (text or "").strip()
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

    def _blocks(self) -> Iterator[CellBlock]:
        if self._first is not None:
            yield self._first
        buffered, self._buffer = self._buffer, []
        yield from buffered
        if self._stopped is not None:
            raise self._stopped
        yield from self._rows

    def _batches(self, width: int) -> Iterator[TextBatch]:
        """Whole rows, ROWS_PER_BATCH or a few more at a time, as a batch of `width` columns."""
        pending: list[CellBlock] = []
        count = 0
        for block in self._blocks():
            if not len(block.rows):
                continue
            pending.append(block)
            count += int(np.count_nonzero(np.diff(block.rows))) + 1
            if count >= ROWS_PER_BATCH:
                yield self._batch(pending, width)
                pending, count = [], 0
        if pending:
            yield self._batch(pending, width)

    def _batch(self, blocks: list[CellBlock], width: int) -> TextBatch:
        rows = np.concatenate([b.rows for b in blocks])
        cols = np.concatenate([b.cols for b in blocks])
        text = pa.concat_arrays([b.text.cast(pa.string()) for b in blocks])
        # Fully empty rows (every cell blank) are not records.
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0)
        filled = ~blank.to_numpy(zero_copy_only=False)
        candidates = rows[filled]  # in sheet order: blocks hold rows in order
        kept = (
            candidates[np.r_[True, candidates[1:] != candidates[:-1]]] if filled.any() else rows[:0]
        )
        position = np.searchsorted(kept, rows)
        inside = (position < len(kept)) & (kept[np.minimum(position, len(kept) - 1)] == rows)
        broken: dict[int, tuple[str | None, str]] = {}
        beyond = inside & filled & (cols >= width)
        if beyond.any():
            for at, column in zip(position[beyond].tolist(), cols[beyond].tolist(), strict=True):
                if at not in broken:
                    broken[at] = (
                        None,
                        f"a value in cell {cell_ref(int(kept[at]), column + self.first_col)}, "
                        "right of the header's last column",
                    )
        columns: list[pa.Array] = []
        if (
            len(rows) == len(kept) * width
            and (cols.reshape(-1, width) == np.arange(width)).all()
            and (rows.reshape(-1, width) == kept[:, None]).all()
        ):
            # Every row holds each of the header's columns once, in order: no gaps to fill.
            columns = [text[column::width] for column in range(width)]
        for column in range(width if not columns else 0):
            mine = inside & (cols == column)
            index = np.full(len(kept), -1, np.int64)
            index[position[mine]] = np.flatnonzero(mine)
            picked = pc.take(text, pa.array(index, mask=index < 0))
            columns.append(pc.fill_null(picked, ""))
        names = [f"f{i}" for i in range(width)]
        batch = TextBatch(
            pa.RecordBatch.from_arrays(columns, names=names), kept.astype(np.int64) + 1
        )
        batch.broken = broken
        return batch

    def close(self) -> None:
        for thread in self._threads:
            thread.join()
        self._threads = []
        for handle in self._close:
            handle.close()
        self._close = []


def _row_blocks(rows: Iterator[tuple[int, list[Any]]]) -> Iterator[CellBlock]:
    while batch := list(islice(rows, 4096)):
        yield rows_block(batch)
