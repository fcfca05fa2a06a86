"""Readers and shapes: the columnar path and the row parser read a layout the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingestion.cells import Footer, Record
from ingestion.columnar import read_batches
from ingestion.contract import load_contract, parse_contract
from ingestion.parse import parse_records
from ingestion.readers.spreadsheet import cell_ref, cell_text
from tests.fixtures.layouts import make_fixtures as fx

KEY = b"k" * 32


def _by_rows(path: Path, contract: Any, encoding: str) -> tuple[list[Any], list[Any], int]:
    _plan, items = parse_records(path, contract, encoding, KEY)
    good, bad, footer = [], [], 0
    for item in items:
        if isinstance(item, Record):
            good.append((item.row, *item.values))
        elif isinstance(item, Footer):
            footer += 1
        else:
            bad.extend((p.row, p.column, p.reason) for p in item)
    return good, bad, footer


def _by_columns(path: Path, contract: Any, encoding: str) -> tuple[list[Any], list[Any], int]:
    plan, batches = read_batches(path, contract, encoding, KEY)
    good, bad = [], []
    for batch in batches:
        names = [n for n, _ in contract.output_columns()]
        table = batch.good.to_pydict()
        for i, row in enumerate(table["_source_row"]):
            good.append((row, *(table[n][i] for n in names)))
        bad.extend((p.row, p.column, p.reason) for p in batch.problems)
    return good, bad, plan.footer_rows


def test_wide_csv_reads_the_same_column_wise_and_row_wise(tmp_path):
    contract = load_contract("snic__departments")
    rows = [list(r) for r in fx.SNIC_ROWS]
    rows[1][10] = "-1"  # cantidad_victimas_fem below zero
    rows[2][12] = "1.46"  # tasa_hechos in the wrong style
    path = tmp_path / "snic-departamentos-anual.csv"
    path.write_bytes(fx.snic_csv(fx.SNIC_HEADER, rows))
    by_rows = _by_rows(path, contract, "utf-8")
    by_columns = _by_columns(path, contract, "utf-8")
    as_text = [tuple(map(str, r)) for r in by_rows[0]]
    assert [tuple(map(str, r)) for r in by_columns[0]] == as_text
    assert by_columns[1] == by_rows[1]
    assert [(r, c) for r, c, _ in by_rows[1]] == [
        (2, "cantidad_victimas_fem"),
        (3, "tasa_hechos"),
        (3, "tasa_hechos"),
        (3, "tasa_hechos"),
    ]
    assert len(by_rows[0]) == 9 - 4


def test_csv_footer_rows_are_counted_not_loaded(tmp_path):
    contract = parse_contract(
        {
            "source": "t",
            "entity": "e",
            "skip_rows": 2,
            "footer": "^(Fuente|Nota)",
            "columns": [{"name": "a", "type": "text"}, {"name": "n", "type": "integer"}],
        }
    )
    path = tmp_path / "f.csv"
    path.write_text("Informe anual\n\na,n\nx,1\ny,2\nFuente: ministerio\nNota: preliminar,\n")
    good, bad, footer = _by_rows(path, contract, "utf-8")
    assert (good, bad, footer) == ([(1, "x", 1), (2, "y", 2)], [], 2)


def test_cells_as_text():
    from datetime import date, datetime

    assert [cell_text(v) for v in (1.0, 2.5, 5088000.0, True, None)] == [
        "1",
        "2.5",
        "5088000",
        "true",
        "",
    ]
    assert cell_text(datetime(2023, 1, 2)) == "2023-01-02"
    assert cell_text(datetime(2023, 1, 2, 7, 5)) == "2023-01-02T07:05:00"
    assert cell_text(date(2023, 1, 2)) == "2023-01-02"
    assert (cell_ref(0, 0), cell_ref(9, 6), cell_ref(0, 27)) == ("A1", "G10", "AB1")


def test_a_gzipped_dbf_is_unpacked_and_read(tmp_path):
    import gzip
    import shutil

    from ingestion.readers.containers import materialise
    from tests.integration.layout_loading import LAYOUTS

    packed = tmp_path / "DOBR2023.dbf.gz"
    with (
        (LAYOUTS / "brazil_sim" / "DOBR2023.dbf").open("rb") as src,
        gzip.open(packed, "wb") as dst,
    ):
        shutil.copyfileobj(src, dst)
    contract = load_contract("sim__deaths_dbf")
    work = tmp_path / "work"
    work.mkdir()
    inner = materialise(packed, contract, work)
    assert inner.name == "DOBR2023.dbf"
    good, bad, footer = _by_columns(inner, contract, "latin-1")
    assert [r[0] for r in good] == [1, 2, 3, 4, 5] and bad == [] and footer == 0


def _block_rows(blocks: Any) -> dict[int, list[str]]:
    """Cell blocks back as rows of text (0-based row -> cells), for comparison."""
    out: dict[int, list[str]] = {}
    for block in blocks:
        for row, column, text in zip(
            block.rows.tolist(), block.cols.tolist(), block.text.to_pylist(), strict=True
        ):
            cells = out.setdefault(row, [])
            cells.extend([""] * (column + 1 - len(cells)))
            cells[column] = text
    return out


def test_streamed_xlsx_rows_match_calamine(tmp_path):
    import zipfile

    from python_calamine import CalamineWorkbook

    from ingestion.readers.xlsx import XlsxBook

    path = fx.write_workbook(
        tmp_path / "h.xlsx",
        fx.SIEDCO_HEADER,
        [*fx.SIEDCO_ROWS, ["X", None, 2.5, True, None, "", "ADULTOS", 7]],
        fx.SIEDCO_NOTES,
    )
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    expected = [[cell_text(c) for c in row] for row in sheet.iter_rows()]
    with zipfile.ZipFile(path) as archive:
        book = XlsxBook(archive)
        ((name, member),) = book.sheets
        streamed = _block_rows(book.blocks(member))
        merged = book.merged(member)
    assert name == "Hoja1" and merged == [(0, 0, 2, 7)]
    for i, row in enumerate(expected):
        got = streamed.get(i, [])
        assert got + [""] * (len(row) - len(got)) == row, i


def _reference_rows(path: Path, skip: int) -> tuple[list[str], list[tuple[int, list[str]]], dict]:
    """What a sheet should read as, row by row from calamine: the header, then each non-blank
    row (1-based) padded or cut to the header's width, and the rows with a value beyond it."""
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    rows = [[cell_text(c) for c in row] for row in sheet.iter_rows()]
    header = [c.strip() for c in rows[skip]]
    while header and header[-1] == "":
        header.pop()
    width, out, beyond = len(header), [], {}
    for index, cells in enumerate(rows[skip + 1 :], start=skip + 1):
        if not "".join(cells).strip():
            continue
        extra = [j for j in range(width, len(cells)) if cells[j].strip()]
        if extra:
            beyond[index + 1] = cell_ref(index, extra[0])
        out.append((index + 1, (cells + [""] * width)[:width]))
    return header, out, beyond


@pytest.mark.parametrize("chunk", [2 << 20, 4096])
def test_xlsx_batches_match_a_row_by_row_reading(tmp_path, monkeypatch, chunk):
    """Column-wise tokenising and batching read every cell shape as calamine does: shared
    and inline strings, entities, numbers, dates, booleans, formulas, gaps, blank rows and
    values right of the header; with small chunks (4 KB), chunks read column-wise and the
    one holding a formula (read cell by cell) follow each other, and rows are read ahead
    past the prefetch bound."""
    from datetime import datetime

    import xlsxwriter

    from ingestion.readers import spreadsheet, xlsx
    from ingestion.readers.spreadsheet import SpreadsheetSource

    monkeypatch.setattr(xlsx, "_CHUNK", chunk)
    monkeypatch.setattr(spreadsheet, "PREFETCH_CELLS", 500)

    header = ["codigo", "fecha", "valor", "activo", "nota"]
    for name, options in (("shared.xlsx", {}), ("inline.xlsx", {"constant_memory": True})):
        path = tmp_path / name
        book = xlsxwriter.Workbook(str(path), options)
        day = book.add_format({"num_format": "dd/mm/yyyy"})
        stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
        ws = book.add_worksheet("datos")
        ws.write(0, 0, "LOGO")
        ws.write_row(2, 0, header)
        for r in range(3, 3000):
            if r % 97 == 0:
                continue  # a blank row
            ws.write(r, 0, f"{r:05d}" if r % 5 else r)
            if r % 7:
                ws.write_datetime(r, 1, datetime(2023, 1 + r % 12, 1 + r % 28), day)
            else:
                ws.write_datetime(r, 1, datetime(2023, 1, 1, r % 24, 30), stamp)
            if r % 11:
                ws.write(r, 2, r / 8 if r % 3 else -r)
            ws.write_boolean(r, 3, r % 2 == 0)
            ws.write(r, 4, "a < b & c" if r % 13 == 0 else (" " if r % 17 == 0 else "ok"))
            if r % 101 == 0:
                ws.write(r, 6, "fuera")  # right of the header's last column
        ws.write_formula(5, 2, "=1+2", None, 3)
        book.close()
        want_header, want_rows, want_beyond = _reference_rows(path, 2)
        contract = parse_contract(
            {"source": "t", "entity": "x", "format": "xlsx", "skip_rows": 2,
             "columns": [{"name": h, "type": "text"} for h in header]},
            "test",
        )  # fmt: skip
        source = SpreadsheetSource(path, contract)
        try:
            got_rows: list[tuple[int, list[str]]] = []
            got_beyond: dict[int, str] = {}
            for batch in source.batches():
                table = batch.columns.to_pylist()
                for i, (row, cells) in enumerate(zip(batch.rows.tolist(), table, strict=True)):
                    got_rows.append((row, [cells[f"f{j}"] for j in range(len(header))]))
                    if i in batch.broken:
                        got_beyond[row] = batch.broken[i][1].split()[4].rstrip(",")
        finally:
            source.close()
        assert source.header == want_header == header
        assert got_rows == want_rows, name
        assert got_beyond == want_beyond, name


def test_a_merged_header_is_refused_even_when_rows_were_read_ahead(tmp_path, monkeypatch):
    from ingestion.errors import BatchError
    from ingestion.readers import spreadsheet, xlsx
    from ingestion.readers.spreadsheet import SpreadsheetSource

    monkeypatch.setattr(xlsx, "_CHUNK", 1024)
    monkeypatch.setattr(spreadsheet, "PREFETCH_CELLS", 1)
    rows = fx.SIEDCO_ROWS * 50
    path = fx.write_workbook(
        tmp_path / "h.xlsx", fx.SIEDCO_HEADER, rows, fx.SIEDCO_NOTES, merge_header=True
    )
    contract = load_contract("siedco__homicides")
    with pytest.raises(BatchError) as error:
        SpreadsheetSource(path, contract)
    assert "sheet 'Hoja1': merged cells G10:H10 in the header row 10" in str(error.value)
