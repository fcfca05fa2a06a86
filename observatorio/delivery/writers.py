"""Writers for the delivered files: CSV (in the spec's dialect: delimiter, decimal mark,
encoding, byte-order mark; CRLF), XLSX and Parquet.

Every text cell a spreadsheet would evaluate is neutralised (no formula injection), numbers
stay numbers, and Excel's limits fail loudly instead of truncating. A workbook opens ready to
read: each column as wide as its content, the header row frozen, numbers formatted by unit,
and a sheet with no rows says why on its first line. `sha256_file` and
`file_entry` describe a written file for the manifest and the audit; `staging_folder` and
`swap_in` publish a delivery folder whole, in place of an earlier delivery of the same period.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from observatorio.delivery.errors import ExtractError, SpreadsheetError
from observatorio.delivery.specs import CsvDialect

# Excel's hard limits (https://support.microsoft.com: "Excel specifications and limits").
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
EXCEL_MAX_SHEET_NAME = 31
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_WIDTH = 60  # characters: longer text wraps to the column's width in the spreadsheet


def neutralise(value: str) -> str:
    """Defuse spreadsheet formula injection: prefix `'` to text a spreadsheet would evaluate.

    Text that is just a number ("-12.5") is left alone: it is data, not a formula.
    """
    if value.startswith(FORMULA_PREFIXES) and not NUMBER.match(value):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: numbers stay numbers, text is neutralised."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return neutralise(str(value))


def _csv_cell(value: Any, decimal: str) -> Any:
    cell = _cell(value)
    if decimal != "." and isinstance(cell, float):
        return repr(cell).replace(".", decimal)
    return cell


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    dialect: CsvDialect | None = None,
) -> int:
    """In the spec's dialect (by default UTF-8 with a BOM, `,` and a decimal point), CRLF,
    every text cell neutralised. Returns rows. A character the encoding cannot hold fails
    naming the file, row and column: it is never replaced silently."""
    dialect = dialect or CsvDialect()
    encoding = "utf-8-sig" if dialect.bom and dialect.encoding == "utf-8" else dialect.encoding
    count = 0
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=dialect.delimiter, lineterminator="\r\n")
        for number, row in enumerate(itertools.chain([header], rows), start=1):
            cells = ["" if v is None else _csv_cell(v, dialect.decimal) for v in row]
            try:
                writer.writerow(cells)
            except UnicodeEncodeError as exc:
                column, cell = next(
                    (h, c)
                    for h, c in zip(header, cells, strict=True)
                    if not _encodes(str(c), dialect.encoding)
                )
                raise ExtractError(
                    f"{path.name}: row {number}, column {column!r}: {cell!r} cannot be "
                    f"written in {dialect.encoding} ({exc.reason}); deliver it in utf-8"
                ) from None
            count += 1
    return count - 1


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _sheet_name(name: str, part: int, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", "_", name).strip() or "datos"
    suffix = f" ({part})" if part > 1 else ""
    candidate = base[: EXCEL_MAX_SHEET_NAME - len(suffix)] + suffix
    n = 2
    while candidate.lower() in taken:
        tail = f" ~{n}"
        candidate = base[: EXCEL_MAX_SHEET_NAME - len(tail)] + tail
        n += 1
    taken.add(candidate.lower())
    return candidate


@dataclass(frozen=True)
class Sheet:
    """One dataset as a worksheet: header, rows, the number format of each column (None for
    text) and the line shown when it has no rows."""

    name: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    number_formats: Sequence[str | None] = ()
    empty_note: str = "Sin filas."


def number_format(decimals: int) -> str:
    """Thousands separated, `decimals` places: the spreadsheet shows them in its locale."""
    return "#,##0" + ("." + "0" * decimals if decimals > 0 else "")


def _width(values: Iterable[Any]) -> float:
    longest = max((len(str(v)) for v in values if v is not None), default=0)
    return float(min(max(longest, 6) + 2, MAX_WIDTH))


def write_xlsx(
    path: Path,
    sheets: Sequence[Sheet | tuple[str, Sequence[str], Sequence[Sequence[Any]]]],
    max_rows: int = EXCEL_MAX_ROWS,
    max_cell_chars: int = EXCEL_MAX_CELL_CHARS,
) -> dict[str, int]:
    """One sheet per dataset, split into `name (2)`, ... beyond Excel's row limit.

    Returns the data rows written per sheet. Columns are as wide as their content (up to
    `MAX_WIDTH`), the header row is frozen and bold (and repeated on every printed page, which
    is landscape and one page wide), numbers carry their unit's format, and a sheet without
    rows holds its `empty_note` under the header. A text cell longer than
    Excel allows fails the delivery naming sheet, row and column: truncating it would change
    the data silently.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.utils.exceptions import IllegalCharacterError

    if max_rows < 2:
        raise SpreadsheetError(f"max_rows must leave room for the header, got {max_rows}")
    workbook = Workbook(write_only=True)
    written: dict[str, int] = {}
    taken: set[str] = set()
    per_sheet = max_rows - 1
    bold = Font(bold=True)
    right = Alignment(horizontal="right")
    for given in sheets:
        spec = given if isinstance(given, Sheet) else Sheet(*given)
        header, rows = spec.header, spec.rows
        formats = list(spec.number_formats) or [None] * len(header)
        chunks = [rows[i : i + per_sheet] for i in range(0, len(rows), per_sheet)] or [[]]
        for part, chunk in enumerate(chunks, start=1):
            title = _sheet_name(spec.name, part, taken)
            sheet = workbook.create_sheet(title)
            for n, column in enumerate(header):
                values = [column, *(row[n] for row in chunk[:5000])]
                sheet.column_dimensions[get_column_letter(n + 1)].width = _width(values)
            sheet.freeze_panes = "A2"
            # Printed: landscape, every column on the page's width, the header on each page.
            sheet.page_setup.orientation = "landscape"
            sheet.page_setup.fitToWidth = 1
            sheet.page_setup.fitToHeight = 0
            sheet.sheet_properties.pageSetUpPr.fitToPage = True
            sheet.print_title_rows = "1:1"
            heading = []
            for h in header:
                cell = WriteOnlyCell(sheet, value=_cell(h))
                cell.font = bold
                heading.append(cell)
            sheet.append(heading)
            if not chunk:
                sheet.append([_cell(spec.empty_note)])
            for offset, row in enumerate(chunk):
                cells = []
                for column, value, fmt in zip(header, row, formats, strict=True):
                    safe = _cell(value)
                    if isinstance(safe, str) and len(safe) > max_cell_chars:
                        raise SpreadsheetError(
                            f"{path.name}: sheet {title!r}, row {offset + 2}, column {column!r}: "
                            f"{len(safe):,} characters, more than Excel's {max_cell_chars:,} "
                            "per cell; deliver this dataset as csv or parquet instead"
                        )
                    try:
                        cell = WriteOnlyCell(sheet, value=safe)
                    except IllegalCharacterError as exc:
                        raise SpreadsheetError(
                            f"{path.name}: sheet {title!r}, row {offset + 2}, column "
                            f"{column!r}: a control character Excel cannot store"
                        ) from exc
                    if isinstance(safe, str):
                        cell.data_type = "s"  # text, never a formula
                        if fmt is not None:  # the suppression marker, aligned as numbers are
                            cell.alignment = right
                    elif fmt is not None and isinstance(safe, int | float):
                        cell.number_format = fmt
                    cells.append(cell)
                sheet.append(cells)
            written[title] = len(chunk)
    workbook.save(path)
    return written


def write_parquet(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [row[n] for row in rows] for n, name in enumerate(header)}
    arrays = {}
    for name, values in columns.items():
        clean = [
            (int(v) if v == v.to_integral_value() else float(v)) if isinstance(v, Decimal) else v
            for v in values
        ]
        try:
            arrays[name] = pa.array(clean)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ExtractError(f"{path.name}: column {name!r} has mixed types: {exc}") from exc
    pq.write_table(pa.table(arrays), path)
    return len(rows)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(path: Path, rows: int) -> dict[str, Any]:
    """A written file as the manifest and the audit list it: name, rows, bytes, SHA-256."""
    return {
        "file": path.name,
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def staging_folder(final: Path) -> Path:
    """A new, hidden folder beside `final` to write a delivery into before `swap_in`."""
    folder = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.partial")
    folder.mkdir(parents=True)
    return folder


def swap_in(staged: Path, final: Path) -> None:
    """Publish a complete folder as `final`, replacing an earlier delivery of it whole.

    Readers of the outbox see the old folder or the new one, never a mix of their files.
    """
    previous = None
    if final.exists():
        previous = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.replaced")
        final.rename(previous)
    staged.rename(final)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
