"""Writers for the delivered files: CSV (UTF-8 with a BOM, CRLF), XLSX and Parquet.

Every text cell a spreadsheet would evaluate is neutralised (no formula injection), numbers
stay numbers, and Excel's limits fail loudly instead of truncating. `sha256_file` and
`file_entry` describe a written file for the manifest and the audit; `staging_folder` and
`swap_in` publish a delivery folder whole, in place of an earlier delivery of the same period.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from observatorio.delivery.errors import ExtractError, SpreadsheetError

# Excel's hard limits (https://support.microsoft.com: "Excel specifications and limits").
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
EXCEL_MAX_SHEET_NAME = 31
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


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


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """UTF-8 with BOM and CRLF, so Excel opens it; every text cell neutralised. Returns rows."""
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([_cell(h) for h in header])
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
            count += 1
    return count


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


def write_xlsx(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]],
    max_rows: int = EXCEL_MAX_ROWS,
    max_cell_chars: int = EXCEL_MAX_CELL_CHARS,
) -> dict[str, int]:
    """One sheet per (name, header, rows), split into `name (2)`, ... beyond Excel's row limit.

    Returns the data rows written per sheet. A text cell longer than Excel allows fails the
    delivery naming sheet, row and column: truncating it would change the data silently.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils.exceptions import IllegalCharacterError

    if max_rows < 2:
        raise SpreadsheetError(f"max_rows must leave room for the header, got {max_rows}")
    workbook = Workbook(write_only=True)
    written: dict[str, int] = {}
    taken: set[str] = set()
    per_sheet = max_rows - 1
    for name, header, rows in sheets:
        chunks = [rows[i : i + per_sheet] for i in range(0, len(rows), per_sheet)] or [[]]
        for part, chunk in enumerate(chunks, start=1):
            title = _sheet_name(name, part, taken)
            sheet = workbook.create_sheet(title)
            sheet.append([_cell(h) for h in header])
            for offset, row in enumerate(chunk):
                cells = []
                for column, value in zip(header, row, strict=True):
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
