"""Bad national files through the real loader: a clear error, and nothing lost.

Each case goes through `stage_file` and `publish_batch` against PostgreSQL and checks
that the ledger adds up (rows read = loaded + quarantined + footer rows), that the
message or quarantine reason names the file, the row (or sheet and cell) and the column,
and that no cell's content appears in it.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.layouts import make_fixtures as fx
from tests.fixtures.layouts.dbase import write_dbf
from tests.integration.layout_loading import (
    LAYOUTS,
    catalog_variant,
    ledger_row,
    load,
    quarantine,
    write_contract,
)


def adds_up(db: Any, batch_id: str) -> tuple[Any, ...]:
    status, read, loaded, quarantined, footer, _count, error = ledger_row(db, batch_id)
    if status == "loaded":
        assert read == loaded + quarantined + footer
    else:
        assert loaded == 0
    return status, read, loaded, quarantined, footer, error


def rejected_with(result: Any, db: Any, *parts: str, secrets: tuple[str, ...] = ()) -> None:
    assert result.status == "rejected", result
    status, read, loaded, quarantined, footer, error = adds_up(db, result.batch_id)
    assert (status, read, loaded, quarantined, footer) == ("rejected", 0, 0, 0, 0)
    for part in (result.file, *parts):
        assert part in result.message and part in error, (part, result.message)
    for secret in secrets:
        assert secret not in result.message


# --- structure: the whole file is refused, naming what is wrong ------------------------


@pytest.mark.parametrize(("declared", "holds"), [(7, 5), (3, 5)])
def test_dbf_whose_header_lies_about_its_record_count(
    clean_warehouse, tmp_path, settings, declared, holds
):
    path = write_dbf(
        tmp_path / "DOBR2023.dbf", fx.SIM_FIELDS, fx.SIM_ROWS, declared_records=declared
    )
    result = load("sim__deaths_dbf", path, settings)
    rejected_with(
        result, clean_warehouse, f"declares {declared} records", f"holds {holds}",
        secrets=("X954", "01032023"),
    )  # fmt: skip


def test_dbc_that_is_a_plain_dbf_renamed(clean_warehouse, tmp_path, settings):
    path = tmp_path / "DOBR2023.dbc"
    shutil.copy(LAYOUTS / "brazil_sim" / "DOBR2023.dbf", path)
    result = load("sim__deaths", path, settings)
    rejected_with(result, clean_warehouse, "not compressed", "format: dbf")


def test_dbc_that_is_not_a_dbc_at_all(clean_warehouse, tmp_path, settings):
    path = tmp_path / "DOBR2023.dbc"
    dbc = (LAYOUTS / "brazil_sim" / "DOBR2023.dbc").read_bytes()
    path.write_bytes(dbc[:-40])  # the compressed stream cut short
    result = load("sim__deaths", path, settings)
    assert result.status == "rejected" and result.file in result.message, result
    adds_up(clean_warehouse, result.batch_id)


def test_xlsx_with_merged_header_cells(clean_warehouse, tmp_path, settings):
    path = fx.write_workbook(
        tmp_path / "homicidios_2023.xlsx",
        fx.SIEDCO_HEADER,
        fx.SIEDCO_ROWS,
        fx.SIEDCO_NOTES,
        merge_header=True,
    )
    result = load("siedco__homicides", path, settings)
    rejected_with(result, clean_warehouse, "sheet 'Hoja1'", "G10:H10", "header row 10")


def test_xlsx_without_the_named_sheet(clean_warehouse, catalog, tmp_path, settings):
    name = catalog_variant(catalog, "siedco__homicides", "test__named_sheet", sheet="Homicidios")
    path = fx.write_siedco(tmp_path)
    result = load(name, path, settings)
    rejected_with(result, clean_warehouse, "no sheet named 'Homicidios'", "'Hoja1'")


@pytest.mark.parametrize("members", [["notas.txt"], ["enero.csv", "febrero.csv"]])
def test_zip_with_zero_or_two_matching_members(clean_warehouse, tmp_path, settings, members):
    path = tmp_path / "Municipal-Delitos.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            archive.writestr(member, fx.sesnsp_csv())
    result = load("sesnsp__municipal_incidence", path, settings)
    found = len([m for m in members if m.endswith(".csv")])
    rejected_with(result, clean_warehouse, "'*.csv'", f"found {found}")


def _sesnsp_zip(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(fx.SESNSP_MEMBER, fx.sesnsp_csv(header, rows))
    path.write_bytes(buffer.getvalue())
    return path


def test_wide_file_missing_one_month_column(clean_warehouse, tmp_path, settings):
    drop = fx.SESNSP_HEADER.index("Marzo")
    header = [h for i, h in enumerate(fx.SESNSP_HEADER) if i != drop]
    rows = [[v for i, v in enumerate(row) if i != drop] for row in fx.SESNSP_ROWS]
    path = _sesnsp_zip(tmp_path / "Municipal-Delitos.zip", header, rows)
    result = load("sesnsp__municipal_incidence", path, settings)
    rejected_with(result, clean_warehouse, "'Marzo'", "missing from the header")


# --- cells: the record is quarantined with its row and column, the rest loads ----------


def test_counts_negative_or_not_integer_are_quarantined(
    clean_warehouse, catalog, tmp_path, settings
):
    name = catalog_variant(
        catalog, "sesnsp__municipal_incidence", "test__counts", quarantine_threshold=0.5
    )
    rows = [list(r) for r in fx.SESNSP_ROWS]
    rows[0][9 + 3] = "-2"  # Abril of row 1
    rows[1][9 + 6] = "2.5"  # Julio of row 2
    rows[2][9 + 0] = "1,234"  # Enero of row 3: not a plain integer either
    path = _sesnsp_zip(tmp_path / "Municipal-Delitos.zip", fx.SESNSP_HEADER, rows)
    result = load(name, path, settings)
    db = clean_warehouse
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 36, 33), result
    assert adds_up(db, result.batch_id)[:5] == ("loaded", 36, 33, 3, 0)
    problems = quarantine(db, result.batch_id)
    assert [(r, c) for r, c, _ in problems] == [(1, "Abril"), (2, "Julio"), (3, "Enero")]
    assert "below the minimum 0" in problems[0][2]
    assert all("expected a integer" in why for _, _, why in problems[1:])
    for _, _, why in problems:
        assert not any(bad in why for bad in ("-2", "2.5", "1,234"))
    total = sum(int(v) for row in fx.SESNSP_ROWS for v in row[9:] if v)
    assert result.count_loaded == total - 2 - 2 - 12


NUMBERS = [
    # (cell, under '1.234,5', under '1,234.5', with no style)
    ("1.234,5", Decimal("1234.5"), None, None),
    ("1,234.5", None, Decimal("1234.5"), None),
    ("1,234", None, Decimal("1234"), None),  # ambiguous under '1.234,5': quarantined
    ("1.234", Decimal("1234"), None, Decimal("1.234")),  # ambiguous under '1,234.5'
    ("12,5", Decimal("12.5"), None, None),
    ("1234", Decimal("1234"), Decimal("1234"), Decimal("1234")),
]


def _numbers_contract(catalog: Path, name: str, numeric: dict[str, Any] | None) -> str:
    column: dict[str, Any] = {"name": "amount", "source": "valor", "type": "numeric"}
    if numeric is not None:
        column["numeric"] = numeric
    return write_contract(
        catalog,
        name,
        {
            "format": "csv",
            "delimiter": ";",
            "quarantine_threshold": 1.0,
            "columns": [{"name": "line", "source": "linea", "type": "integer"}, column],
        },
    )


@pytest.mark.parametrize(
    ("style", "position"),
    [({"thousands": ".", "decimal": ","}, 1), ({"thousands": ",", "decimal": "."}, 2), (None, 3)],
)
def test_numbers_never_read_in_another_style(
    clean_warehouse, catalog, tmp_path, settings, style, position
):
    name = _numbers_contract(catalog, f"test__numbers{position}", style)
    path = tmp_path / "valores.csv"
    lines = ["linea;valor", *(f"{i};{case[0]}" for i, case in enumerate(NUMBERS, start=1))]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    result = load(name, path, settings)
    db = clean_warehouse
    expected = {i: case[position] for i, case in enumerate(NUMBERS, start=1)}
    loaded = dict(db.execute(f"select line, amount from raw.{name}").fetchall())
    assert loaded == {i: v for i, v in expected.items() if v is not None}
    bad = [(i, "valor") for i, v in expected.items() if v is None]
    assert [(r, c) for r, c, _ in quarantine(db, result.batch_id)] == bad
    for _, _, why in quarantine(db, result.batch_id):
        assert not any(case[0] in why for case in NUMBERS)
    adds_up(db, result.batch_id)


def test_dates_of_the_wrong_length_are_quarantined(clean_warehouse, catalog, tmp_path, settings):
    name = write_contract(
        catalog,
        "test__dates",
        {
            "format": "fixed_width",
            "quarantine_threshold": 1.0,
            "columns": [
                {"name": "code", "type": "text", "start": 1, "width": 5, "required": True},
                {"name": "day", "type": "date", "format": "%d%m%Y", "start": 6, "width": 8},
                {"name": "n", "type": "integer", "start": 14, "width": 3, "count": True},
            ],
        },
    )
    path = tmp_path / "registros.txt"
    lines = [
        "0500101012020  3",
        "05002 1012020  1",  # ddmmyyyy that lost its leading zero: not 2020-01-10
        "0500331122019 12",
        "05004",  # a line too short
        "0500529022020  2",
    ]
    path.write_text("\n".join(lines) + "\n", "latin-1")
    result = load(name, path, settings)
    db = clean_warehouse
    assert adds_up(db, result.batch_id)[:5] == ("loaded", 5, 3, 2, 0)
    assert db.execute(f"select code, day, n from raw.{name} order by _source_row").fetchall() == [
        ("05001", date(2020, 1, 1), 3),
        ("05003", date(2019, 12, 31), 12),
        ("05005", date(2020, 2, 29), 2),
    ]
    problems = quarantine(db, result.batch_id)
    assert [(r, c) for r, c, _ in problems] == [(2, "day"), (4, "day")]
    assert "expected a date in format %d%m%Y" in problems[0][2]
    assert "line too short: 5 characters, column day needs positions 6-13" in problems[1][2]
    assert "1012020" not in problems[0][2]
    assert result.count_loaded == 17
