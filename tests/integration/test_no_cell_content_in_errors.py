"""Parse errors name the file, the row (or sheet and cell) and the column, never a cell.

A canary national ID and full name are planted in the malformed rows of a file of every
format the loader reads (CSV through Arrow and the row parser, JSON lines, a JSON document,
XLSX, DBF, fixed width), each loaded for real (`stage_file`, `publish_batch`) into
PostgreSQL. The canary must be absent from the captured logs (caplog and stderr), the
ledger's error and warnings, `ops.quarantine` (every column), the result's message and any
exception's text, and from every row of every relation of the warehouse.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.layouts import make_fixtures as fx
from tests.fixtures.layouts.dbase import Field, write_dbf
from tests.integration.layout_loading import load, write_contract
from tests.pii_search import (
    CANARY_ID,
    CANARY_ID_DIGITS,
    CANARY_NAME,
    admin_connection,
    text_hits,
    warehouse_hits,
)

GOOD = [
    (f"{1000000000 + i}", f"Persona Prueba {i}", f"2024-01-{i:02d}", str(i)) for i in range(1, 21)
]
# The ID fails its pattern, the date and the count their types: three quarantined cells.
BAD = (CANARY_ID, CANARY_NAME, "2024-13-45", "x")
# A valid row of the canary: loaded, with its ID and name as pseudonyms only.
KNOWN = (CANARY_ID_DIGITS, CANARY_NAME, "2024-02-01", "1")
COLUMNS = [
    {"name": "national_id", "source": "cedula", "type": "text", "pattern": "^[0-9]{10}$",
     "person": {"action": "pseudonymise", "kind": "national_id"}},
    {"name": "full_name", "source": "nombre", "type": "text",
     "person": {"action": "pseudonymise", "kind": "name"}},
    {"name": "event_date", "source": "fecha", "type": "date", "format": "%Y-%m-%d",
     "required": True},
    {"name": "event_count", "source": "cantidad", "type": "integer"},
]  # fmt: skip
SOURCES = [c["source"] for c in COLUMNS]
WIDTHS = [17, 24, 10, 4]


def _csv(path: Path) -> tuple[Path, dict[str, Any]]:
    lines = [";".join(SOURCES), *(";".join(r) for r in [*GOOD, KNOWN, BAD])]
    # A ragged record: Arrow's error would quote it; the row parser quarantines it.
    lines.append(";".join([CANARY_ID_DIGITS, CANARY_NAME, "2024-01-05", "1", CANARY_ID]))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path, {"format": "csv", "delimiter": ";"}


def _jsonl(path: Path) -> tuple[Path, dict[str, Any]]:
    lines = [json.dumps(dict(zip(SOURCES, r, strict=True))) for r in [*GOOD, KNOWN, BAD]]
    lines.append(json.dumps(dict(zip(SOURCES, KNOWN, strict=True)))[:-8])  # a cut-off line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, {"format": "jsonl"}


def _json(path: Path) -> tuple[Path, dict[str, Any]]:
    records: list[Any] = [dict(zip(SOURCES, r, strict=True)) for r in [*GOOD, KNOWN, BAD]]
    records.append(f"{CANARY_ID} {CANARY_NAME}")  # not an object
    path.write_text(json.dumps({"data": records}, ensure_ascii=False), encoding="utf-8")
    return path, {"format": "json", "records_path": "data"}


def _xlsx(path: Path) -> tuple[Path, dict[str, Any]]:
    rows: list[list[object]] = [list(r) for r in [*GOOD, KNOWN, BAD]]
    rows.append([*KNOWN, CANARY_NAME])  # a value right of the header's last column
    fx.write_workbook(path, SOURCES, rows, ["Fuente: prueba"])
    return path, {"format": "xlsx", "skip_rows": fx.SIEDCO_SKIP, "footer": "^Fuente"}


def _dbf(path: Path) -> tuple[Path, dict[str, Any]]:
    fields = [Field(s.upper(), "C", w) for s, w in zip(SOURCES, WIDTHS, strict=True)]
    write_dbf(path, fields, [list(r) for r in [*GOOD, KNOWN, BAD]], encoding="latin-1")
    return path, {"format": "dbf", "encoding": "latin-1", "sources": [f.name for f in fields]}


def _fixed(path: Path) -> tuple[Path, dict[str, Any]]:
    lines = [
        "".join(v.ljust(w) for v, w in zip(r, WIDTHS, strict=True)) for r in [*GOOD, KNOWN, BAD]
    ]
    lines.append(f"{CANARY_ID_DIGITS.ljust(17)}{CANARY_NAME}")  # too short for its columns
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    starts = [1 + sum(WIDTHS[:i]) for i in range(len(WIDTHS))]
    return path, {"format": "fixed_width", "header": False, "starts": starts}


WRITERS: dict[str, tuple[str, Callable[[Path], tuple[Path, dict[str, Any]]]]] = {
    "csv": ("registros.csv", _csv),
    "jsonl": ("registros.jsonl", _jsonl),
    "json": ("registros.json", _json),
    "xlsx": ("registros.xlsx", _xlsx),
    "dbf": ("REGISTROS.dbf", _dbf),
    "fixed_width": ("registros.txt", _fixed),
}


def _contract(catalog: Path, fmt: str, options: dict[str, Any]) -> str:
    sources = options.pop("sources", SOURCES)
    starts = options.pop("starts", None)
    columns = []
    for i, column in enumerate(COLUMNS):
        declared = {**column, "source": sources[i]}
        if starts is not None:
            declared.update(start=starts[i], width=WIDTHS[i])
        columns.append(declared)
    return write_contract(
        catalog,
        f"test__canary_{fmt}",
        {"description": "canary", "columns": columns, "quarantine_threshold": 0.9, **options},
    )


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_a_malformed_row_of_every_format_leaves_no_cell_in_errors_or_logs(
    clean_warehouse, catalog, tmp_path, settings, caplog, capfd, fmt
):
    name, writer = WRITERS[fmt]
    path, options = writer(tmp_path / name)
    source = _contract(catalog, fmt, options)
    caplog.set_level(logging.DEBUG)
    try:
        result = load(source, path, settings)
    except Exception as exc:  # the test fails below, but only after checking the text
        assert not text_hits(str(exc)), "the exception quotes the canary"
        raise
    assert result.status == "loaded", result.message
    db = clean_warehouse
    status, error, warnings, quarantined = db.execute(
        "select status, error, warnings, rows_quarantined from ops.batch_ledger"
        " where batch_id = %s",
        (result.batch_id,),
    ).fetchone()
    entries = db.execute(
        "select source_row, column_name, reason, offending_value from ops.quarantine"
        " where batch_id = %s order by quarantine_id",
        (result.batch_id,),
    ).fetchall()
    # The bad row is named by its row and its columns; the ragged one by its row.
    assert quarantined == (1 if fmt == "dbf" else 2)
    assert {str(e[1]).lower() for e in entries if e[1]} >= {"cedula", "fecha", "cantidad"}
    texts = {
        "result": result.message or "",
        "ledger": f"{status} {error} {warnings}",
        "quarantine": repr(entries),
        "logs": caplog.text,
        "stderr": capfd.readouterr().err,
    }
    assert {where: text_hits(text) for where, text in texts.items() if text_hits(text)} == {}
    with admin_connection(settings) as admin:
        assert warehouse_hits(admin) == []


def test_the_canary_file_is_read_as_written(tmp_path):
    # Guard against a vacuous pass: the planted canary is in each file, as bytes.
    for name, writer in WRITERS.values():
        path, _ = writer(tmp_path / name)
        if path.suffix == ".xlsx":
            import zipfile

            with zipfile.ZipFile(path) as book:
                data = b"".join(book.read(m) for m in book.namelist())
        else:
            data = path.read_bytes()
        assert CANARY_ID_DIGITS.encode() in data and b"Canaria" in data, name
