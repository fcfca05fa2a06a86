"""Readers and shapes: the columnar path and the row parser read a layout the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
