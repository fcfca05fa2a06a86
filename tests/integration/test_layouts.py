"""The four national layouts (SIM DO, SESNSP, SIEDCO, SNIC) through their catalog contracts.

Fixture files reproduce the published layouts with made-up values
(`tests/fixtures/layouts/make_fixtures.py`); each test loads one through the real loader
into PostgreSQL and checks the warehouse values cell by cell, computed by hand here.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

from tests.fixtures.layouts import make_fixtures as fx
from tests.integration.layout_loading import LAYOUTS, ledger_row, load

SIM_EXPECTED = [
    # death_date, age_years, sex, residence, occurrence, cause, circumstance, birth_year
    (date(2023, 3, 1), 32, "M", "355030", "355030", "X954", "homicide", 1990),
    (date(2023, 2, 28), 0, "F", "330455", "330455", "P369", None, 2023),
    (date(2023, 4, 17), 112, None, "292740", "292740", "I219", None, None),
    (date(2023, 5, 5), None, None, "530010", "530010", "Y871", "homicide", None),
    (date(2023, 6, 30), 0, "M", "410690", "410690", "V892", "accident", 2022),
]
SIM_QUERY = (
    "select death_date, age_years, sex, residence_municipality_code,"
    " occurrence_municipality_code, underlying_cause, circumstance, birth_year"
    " from raw.{} order by _source_row"
)


def _copy(name: str, tmp_path, folder: str):  # type: ignore[no-untyped-def]
    target = tmp_path / name
    shutil.copy(LAYOUTS / folder / name, target)
    return target


def test_sim_dbf_and_dbc_read_the_same_deaths(clean_warehouse, tmp_path, settings):
    db = clean_warehouse
    for source, name in (("sim__deaths_dbf", "DOBR2023.dbf"), ("sim__deaths", "DOBR2023.dbc")):
        result = load(source, _copy(name, tmp_path, "brazil_sim"), settings)
        assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 5, 5), result
        assert db.execute(SIM_QUERY.format(source)).fetchall() == SIM_EXPECTED
        assert ledger_row(db, result.batch_id)[:6] == ("loaded", 5, 5, 0, 0, None)
    # The establishment code is dropped by the contract, never stored.
    columns = {
        r[0]
        for r in db.execute(
            "select column_name from information_schema.columns where table_name = 'sim__deaths'"
        ).fetchall()
    }
    assert "establishment_code" not in columns and "birth_date" not in columns


def test_sesnsp_zip_months_in_columns_become_monthly_counts(clean_warehouse, tmp_path, settings):
    db = clean_warehouse
    path = _copy("Municipal-Delitos-2015-2024_dic2024.zip", tmp_path, "mexico_sesnsp")
    result = load("sesnsp__municipal_incidence", path, settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 36, 36), result
    expected_total = sum(int(v) for row in fx.SESNSP_ROWS for v in row[9:] if v)
    assert result.count_loaded == expected_total == 186
    rows = db.execute(
        "select _source_row, municipality_code, state_code, month, offences, offence_subtype"
        " from raw.sesnsp__municipal_incidence order by _source_row, month"
    ).fetchall()
    assert rows[0] == (1, "01001", "01", 1, 3, "Homicidio doloso")
    assert rows[13] == (2, "09007", "09", 2, 4, "Homicidio doloso")
    assert [r[4] for r in rows if r[0] == 3] == [12, 10, 9, 11, 8, 7, 13, 10, 9, 14, None, None]
    assert {r[1] for r in rows} == {"01001", "09007", "31050"}
    accents = db.execute(
        "select distinct municipality from raw.sesnsp__municipal_incidence"
        " where municipality_code = '31050'"
    ).fetchone()
    assert accents == ("Mérida",)
    assert ledger_row(db, result.batch_id)[:6] == ("loaded", 36, 36, 0, 0, 186)


def test_sesnsp_victims_by_state_sex_and_age_range(clean_warehouse, tmp_path, settings):
    db = clean_warehouse
    path = _copy(fx.SESNSP_VICTIMS_FILE, tmp_path, "mexico_sesnsp")
    result = load("sesnsp__state_victims", path, settings)
    # Six rows of twelve months; January to March carry counts, the rest are not published.
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 72, 72), result
    assert result.count_loaded == sum(int(v) for r in fx.SESNSP_VICTIMS_ROWS for v in r[9:] if v)
    assert result.count_loaded == 12
    rows = db.execute(
        "select state_code, offence_subtype, sex, age_group, array_agg(victims order by month)"
        " from raw.sesnsp__state_victims group by _source_row, 1, 2, 3, 4 order by _source_row"
    ).fetchall()
    later = [None] * 9
    assert [tuple(r) for r in rows] == [
        ("01", "Homicidio doloso", "M", "18+", [3, 1, 1, *later]),
        ("01", "Homicidio doloso", "F", "18+", [1, 0, 0, *later]),
        ("01", "Homicidio doloso", "M", "0-17", [0, 0, 1, *later]),
        ("01", "Feminicidio", "F", "18+", [0, 1, 0, *later]),
        # "No identificado" (sex and age) and "No especificado" (age) are unknowns: null.
        ("31", "Homicidio doloso", None, None, [2, 0, 1, *later]),
        ("31", "Homicidio doloso", "M", None, [0, 0, 1, *later]),
    ]
    assert ledger_row(db, result.batch_id)[:6] == ("loaded", 72, 72, 0, 0, 12)


def test_siedco_workbook_skips_logos_and_counts_notes(clean_warehouse, tmp_path, settings):
    db = clean_warehouse
    result = load(
        "siedco__homicides", _copy("homicidios_2023.xlsx", tmp_path, "colombia_siedco"), settings
    )
    assert (result.status, result.rows_loaded, result.rows_footer) == ("loaded", 4, 2), result
    assert result.rows_read == 6 and result.count_loaded == 5
    rows = db.execute(
        "select _source_row, municipality_code, incident_date, sex, age_group, victims, weapon"
        " from raw.siedco__homicides order by _source_row"
    ).fetchall()
    assert rows == [
        (11, "05001", date(2023, 1, 1), "M", "ADULTOS", 1, "ARMA DE FUEGO"),
        (12, "05088", date(2023, 1, 2), "F", "ADULTOS", 1, "ARMA BLANCA / CORTOPUNZANTE"),
        (13, "76001", date(2023, 1, 2), "M", "ADOLESCENTES", 2, "ARMA DE FUEGO"),
        (14, "11001", date(2023, 1, 3), None, None, 1, "CONTUNDENTES"),
    ]
    assert ledger_row(db, result.batch_id)[:6] == ("loaded", 6, 4, 0, 2, 5)


def test_snic_semicolons_decimal_commas_and_victims_by_sex(clean_warehouse, tmp_path, settings):
    db = clean_warehouse
    path = _copy("snic-departamentos-anual.csv", tmp_path, "argentina_snic")
    result = load("snic__departments", path, settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 9, 9), result
    assert result.count_loaded == 10 + 3 + 0 + 3 + 1 + 0 + 17 + 3 + 1
    rows = db.execute(
        "select municipality_code, province_code, sex, victims, events, events_rate,"
        " female_victims_rate from raw.snic__departments order by _source_row, sex nulls last"
    ).fetchall()
    assert rows[:3] == [
        ("06028", "06", "F", 3, 12, Decimal("2.13"), Decimal("1.04")),
        ("06028", "06", "M", 10, 12, Decimal("2.13"), Decimal("1.04")),
        ("06028", "06", None, 0, 12, Decimal("2.13"), Decimal("1.04")),
    ]
    assert {r[0] for r in rows} == {"06028", "02007", "14014"}
