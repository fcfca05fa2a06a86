"""Safe spreadsheets: no formula injection, real numbers untouched, Excel's limits respected."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from observatorio.delivery.errors import SpreadsheetError
from observatorio.delivery.writers import (
    EXCEL_MAX_CELL_CHARS,
    EXCEL_MAX_ROWS,
    FORMULA_PREFIXES,
    NUMBER,
    neutralise,
    write_csv,
    write_xlsx,
)

ATTACKS = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_formula_prefixes_are_neutralised(attack):
    assert neutralise(attack) == "'" + attack


@pytest.mark.parametrize("number", ["-12", "-12.5", "+3", "-0.001", "-1e5", "7"])
def test_text_that_is_a_number_is_left_alone(number):
    assert neutralise(number) == number


def test_plain_text_is_unchanged():
    assert neutralise("San José") == "San José"
    assert neutralise("Homicidio - agravado") == "Homicidio - agravado"


@given(st.text(max_size=40))
def test_property_neutralised_text_never_starts_a_formula(text):
    safe = neutralise(text)
    assert not safe.startswith(FORMULA_PREFIXES) or NUMBER.match(safe)
    assert safe.endswith(text)


def test_csv_neutralises_text_and_keeps_numbers(tmp_path):
    path = tmp_path / "x.csv"
    write_csv(path, ["nombre", "valor"], [[attack, -5] for attack in ATTACKS] + [["-7", -2.5]])
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert [r[0] for r in rows[:-1]] == ["'" + a for a in ATTACKS]
    assert rows[-1] == ["-7", "-2.5"]
    assert {r[1] for r in rows[:-1]} == {"-5"}


def test_xlsx_cells_are_text_never_formulas_and_negative_numbers_stay_numbers(tmp_path):
    path = tmp_path / "x.xlsx"
    rows = [[attack, -5, -1.25] for attack in ATTACKS]
    write_xlsx(path, [("datos", ["texto", "entero", "decimal"], rows)])
    sheet = load_workbook(path)["datos"]
    for excel_row, attack in zip(sheet.iter_rows(min_row=2), ATTACKS, strict=True):
        text, integer, decimal = excel_row
        # XML stores a carriage return as a line feed; what matters is the leading quote.
        assert text.data_type == "s" and text.value == ("'" + attack).replace("\r", "\n")
        assert integer.data_type == "n" and integer.value == -5
        assert decimal.data_type == "n" and decimal.value == -1.25


def test_rows_beyond_the_sheet_limit_go_to_continuation_sheets(tmp_path):
    path = tmp_path / "x.xlsx"
    rows = [[n] for n in range(10)]
    written = write_xlsx(path, [("victimas", ["n"], rows)], max_rows=4)  # header + 3 rows
    assert written == {"victimas": 3, "victimas (2)": 3, "victimas (3)": 3, "victimas (4)": 1}
    book = load_workbook(path)
    values = [c.value for name in book.sheetnames for (c,) in book[name].iter_rows(min_row=2)]
    assert values == list(range(10))
    assert all(book[name]["A1"].value == "n" for name in book.sheetnames)


def test_excel_limits_are_the_documented_ones():
    assert EXCEL_MAX_ROWS == 1_048_576
    assert EXCEL_MAX_CELL_CHARS == 32_767


def test_an_overlong_cell_fails_naming_sheet_row_and_column(tmp_path):
    rows = [["ok"], ["x" * (EXCEL_MAX_CELL_CHARS + 1)]]
    with pytest.raises(SpreadsheetError) as error:
        write_xlsx(tmp_path / "x.xlsx", [("datos", ["descripcion"], rows)])
    message = str(error.value)
    assert "sheet 'datos', row 3, column 'descripcion'" in message
    assert "32,768 characters" in message and "csv or parquet" in message


def test_a_cell_at_the_limit_is_written(tmp_path):
    path = tmp_path / "x.xlsx"
    write_xlsx(path, [("datos", ["d"], [["y" * EXCEL_MAX_CELL_CHARS]])])
    assert len(load_workbook(path)["datos"]["A2"].value) == EXCEL_MAX_CELL_CHARS


def test_sheet_names_are_made_valid_and_unique(tmp_path):
    path = tmp_path / "x.xlsx"
    long = "víctimas/por:municipio?y*mes[2025]" * 2
    write_xlsx(path, [(long, ["n"], [[1]]), (long, ["n"], [[2]])])
    names = load_workbook(path).sheetnames
    assert len(names) == 2 and len(set(names)) == 2
    assert all(len(n) <= 31 and not set("[]:*?/\\") & set(n) for n in names)
