"""A legacy `.xls` workbook (BIFF8, read by python-calamine) through a contract alone.

The fixture (`colombia_siedco/homicidios_2023.xls`, written by
`tests/fixtures/layouts/xls_workbook.py`) is the SIEDCO yearly layout: logo and title rows
above the header, source notes below the rows. Each case goes through the real loader
against PostgreSQL with the shipped SIEDCO contract read as `format: xls`.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.integration.layout_loading import LAYOUTS, catalog_variant, ledger_row, load

FIXTURE = LAYOUTS / "colombia_siedco" / "homicidios_2023.xls"


def _xls_contract(catalog: Path, name: str, **overrides: object) -> str:
    return catalog_variant(
        catalog, "siedco__homicides", name, format="xls", file_pattern="*.xls", **overrides
    )


def _fixture(tmp_path: Path) -> Path:
    return Path(shutil.copy(FIXTURE, tmp_path / FIXTURE.name))


@pytest.mark.parametrize("sheet", [0, "Hoja1"])
def test_xls_skips_logo_rows_counts_notes_and_reads_values(
    clean_warehouse, catalog, tmp_path, settings, sheet
):
    name = _xls_contract(catalog, "test__siedco_xls", sheet=sheet)
    result = load(name, _fixture(tmp_path), settings)
    db = clean_warehouse
    assert (result.status, result.rows_loaded, result.rows_footer) == ("loaded", 4, 2), result
    # Four rows and the two notes read; the notes counted as footer, never loaded.
    assert ledger_row(db, result.batch_id)[:6] == ("loaded", 6, 4, 0, 2, 5)
    rows = db.execute(
        "select _source_row, municipality_code, incident_date, sex, age_group, victims, weapon"
        f" from raw.{name} order by _source_row"
    ).fetchall()
    assert rows == [
        (11, "05001", date(2023, 1, 1), "M", "ADULTOS", 1, "ARMA DE FUEGO"),
        # CODIGO DANE stored as the number 5088000: its zero restored, its suffix stripped.
        (12, "05088", date(2023, 1, 2), "F", "ADULTOS", 1, "ARMA BLANCA / CORTOPUNZANTE"),
        (13, "76001", date(2023, 1, 2), "M", "ADOLESCENTES", 2, "ARMA DE FUEGO"),
        (14, "11001", date(2023, 1, 3), None, None, 1, "CONTUNDENTES"),
    ]


@pytest.mark.parametrize(
    ("entity", "sheet", "message"),
    [
        ("by_name", "Homicidios", "no sheet named 'Homicidios'"),
        ("by_index", 3, "no sheet at index 3"),
    ],
)
def test_xls_without_the_sheet_is_rejected_naming_it(
    clean_warehouse, catalog, tmp_path, settings, entity, sheet, message
):
    name = _xls_contract(catalog, f"test__siedco_xls_{entity}", sheet=sheet)
    result = load(name, _fixture(tmp_path), settings)
    assert result.status == "rejected", result
    assert result.file in result.message and message in result.message
    assert "'Hoja1'" in result.message
    status, read, loaded, quarantined, footer, _count, error = ledger_row(
        clean_warehouse, result.batch_id
    )
    assert (status, read, loaded, quarantined, footer) == ("rejected", 0, 0, 0, 0)
    assert message in error


def test_xls_header_row_off_by_one_is_rejected(clean_warehouse, catalog, tmp_path, settings):
    # skip_rows one short: row 9 (empty) is taken as the header, and the file is refused.
    name = _xls_contract(catalog, "test__siedco_xls_skip", skip_rows=8)
    result = load(name, _fixture(tmp_path), settings)
    assert result.status == "rejected", result
    assert "sheet 'Hoja1'" in result.message and "row 9" in result.message
