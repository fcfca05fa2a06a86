"""The Brazil fixture profile end to end: IBGE's geography, DATASUS's population, SIM's deaths.

`profiles/brazil_fixture` holds, in the published layouts and with values made up here:
two editions of IBGE's territorial division (DTB 2012 and 2013: Pescaria Brava, SC, split
off Laguna and installed in 2013), DATASUS's municipal population by sex and age band
(POPBR12, POPBR13) and SIM's declarations of death for December 2012 and January 2013
(DOBR2012.dbc, DOBR2013.dbc). The module loads them as the main job does (the reference
files with `load_reference`, the DO files with `ingest_file`: real loader, gate and ledger),
builds the indicator mart with dbt once, and checks its `health` cells against what is
worked out below by hand from the deaths as written here. The same deaths in a DBF, read
by `sim__deaths_dbf`, give the same raw rows as the DBC.

Deaths count in the municipality where they occurred (CODMUNOCOR): the SIM contract maps
`occurrence_municipality_code` into the interface `violent_deaths`. Three deaths below
happen outside the municipality of residence and count where they happened.

`python -m tests.integration.profiles.test_brazil_fixture` rewrites the profile's files
from the constants here; the first test checks the committed ones equal them.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.layouts.dbase import Field, write_dbc, write_dbf
from tests.fixtures.layouts.make_fixtures import SIM_FIELDS

ROOT = Path(__file__).resolve().parents[3]
PROFILE = ROOT / "profiles" / "brazil_fixture"
REFERENCE, LANDING = PROFILE / "reference", PROFILE / "landing" / "sim__deaths"

# The municipalities: IBGE's complete 7-digit code, and the 6 digits SIM and DATASUS write.
FLORIANOPOLIS, LAGUNA, PESCARIA_BRAVA = "4205407", "4209409", "4212650"
SAO_PAULO, RIO = "3550308", "3304557"
FLN, LAG, PBR, SAO, RJ = (c[:6] for c in (FLORIANOPOLIS, LAGUNA, PESCARIA_BRAVA, SAO_PAULO, RIO))

# --- IBGE territorial division (DTB), municipalities sheet -------------------------------
DTB_HEADER = [
    "UF", "Nome_UF", "Região Geográfica Intermediária", "Nome Região Geográfica Intermediária",
    "Região Geográfica Imediata", "Nome Região Geográfica Imediata", "Município",
    "Código Município Completo", "Nome_Município",
]  # fmt: skip
SC = [42, "Santa Catarina", 4201, "Florianópolis", 420001, "Florianópolis"]
SC_SOUTH = [42, "Santa Catarina", 4205, "Criciúma", 420012, "Tubarão"]
DTB_2012: list[list[object]] = [
    # Codes as numbers, as IBGE's sheet stores them.
    [*SC, 5407, 4205407, "Florianópolis"],
    [*SC_SOUTH, 9409, 4209409, "Laguna"],
    [35, "São Paulo", 3501, "São Paulo", 350001, "São Paulo", 50308, 3550308, "São Paulo"],
    [33, "Rio de Janeiro", 3301, "Rio de Janeiro", 330001, "Rio de Janeiro", 4557, 3304557,
     "Rio de Janeiro"],
]  # fmt: skip
DTB_2013 = [*DTB_2012, [*SC_SOUTH, 12650, 4212650, "Pescaria Brava"]]

# --- DATASUS population (POPBR): (men, women) per municipality and year ------------------
POPULATION = {
    (FLN, 2012): (210_000, 220_000),
    (FLN, 2013): (215_000, 225_000),
    (LAG, 2012): (26_000, 26_000),  # Pescaria Brava still part of Laguna
    (LAG, 2013): (21_000, 21_000),
    (PBR, 2013): (5_000, 5_000),
    (SAO, 2012): (5_300_000, 5_700_000),
    (SAO, 2013): (5_350_000, 5_750_000),
    (RJ, 2012): (3_000_000, 3_400_000),
    (RJ, 2013): (3_020_000, 3_430_000),
}
POP_FIELDS = [
    Field("MUNIC_RES", "C", 6), Field("ANO", "N", 4), Field("SEXO", "C", 1),
    Field("SITUACAO", "C", 1), Field("FXETARIA", "C", 4), Field("POPULACAO", "N", 9),
]  # fmt: skip
# Each sex's people split over three age bands (single year 0, 20-24, 80 and over).
BANDS = (("0000", 10), ("2024", 60), ("8099", 30))


def population_rows(year: int) -> list[list[str]]:
    """The POPBR records of `year`: per municipality, sex and band (SITUACAO left empty,
    as in DATASUS's estimates, which are not split into urban and rural)."""
    rows = []
    for (code, row_year), people in POPULATION.items():
        if row_year != year:
            continue
        for sex, total in zip(("1", "2"), people, strict=True):
            for band, percent in BANDS:
                rows.append([code, str(year), sex, "", band, str(total * percent // 100)])
    return rows


# --- SIM declarations of death (DO) ------------------------------------------------------
# DTOBITO (ddmmyyyy), IDADE (unit digit: 0 minutes, 1 hours, 2 days, 3 months, 4 years,
# 5 = 100 + years; 999 unknown), SEXO (1 M, 2 F, 0 and 9 unknown), CODMUNRES, CODMUNOCOR
# (6 digits, or 7 with the check digit), CAUSABAS (ICD-10, no dot), CIRCOBITO (1 accident,
# 2 suicide, 3 homicide, 4 other, 9 unknown).
DEATHS_2012 = [
    ["03122012", "425", "1", FLORIANOPOLIS, FLN, "X954", "3"],  # homicide
    ["15122012", "431", "2", LAG, FLORIANOPOLIS, "X990", "3"],  # homicide, Laguna resident
    ["20122012", "419", "1", FLN, FLN, "Y350", "4"],  # legal intervention
    ["22122012", "999", "0", FLN, FLN, "X700", "2"],  # suicide; age and sex unknown
    ["11122012", "460", "1", LAG, LAGUNA, "V031", "1"],  # road traffic
    ["27122012", "501", "9", LAG, LAG, "Y871", "9"],  # sequela of assault: homicide, 101
    ["05122012", "480", "2", SAO_PAULO, SAO, "I219", ""],  # natural
    ["09122012", "112", "1", SAO, SAO, "Y200", "9"],  # undetermined intent, 12 hours old
]
DEATHS_2013 = [
    ["05012013", "422", "1", PESCARIA_BRAVA, PBR, "X950", "3"],  # homicide
    ["12012013", "305", "2", LAG, PESCARIA_BRAVA, "Y300", "9"],  # undetermined, 5 months
    ["18012013", "419", "1", PBR, FLN, "X959", "3"],  # homicide, Pescaria Brava resident
    ["20012013", "467", "2", FLN, FLN, "X800", "2"],  # suicide
    ["02012013", "410", "1", SAO, SAO_PAULO, "V892", "1"],  # road traffic
    ["08012013", "421", "1", SAO, SAO, "Y350", "4"],  # legal intervention
    ["25012013", "433", "1", RJ, RJ, "X930", "3"],  # homicide
    ["30012013", "215", "2", RJ, RJ, "J189", ""],  # natural, 15 days old
    ["03012013", "030", "0", RJ, RJ, "P369", ""],  # natural, 30 minutes old
    ["14012013", "490", "2", LAG, LAG, "W190", "1"],  # accident, not road traffic
]


def sim_row(death: list[str]) -> list[str]:
    """A DO record in SIM_FIELDS order from the fields above (the others: fixed values)."""
    dtobito, idade, sexo, codmunres, codmunocor, causabas, circobito = death
    return ["1", "2", dtobito, "", "", idade, sexo, "1", "", "", "", codmunres, "1", "",
            codmunocor, causabas, circobito, "", "1"]  # fmt: skip


# --- Writing the profile's files ---------------------------------------------------------
def write_dtb(path: Path, rows: list[list[object]]) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    book.set_properties({"created": datetime(2013, 1, 1)})  # the same bytes every time
    sheet = book.add_worksheet("DTB_Municipio")
    for r, row in enumerate([DTB_HEADER, *rows]):
        sheet.write_row(r, 0, row)
    book.close()
    return path


def write_sim(folder: Path, year: int, deaths: list[list[str]]) -> tuple[Path, Path]:
    dbf = write_dbf(folder / f"DOBR{year}.dbf", SIM_FIELDS, [sim_row(d) for d in deaths])
    return dbf, write_dbc(folder / f"DOBR{year}.dbc", dbf)


def write_profile_files() -> None:
    REFERENCE.mkdir(parents=True, exist_ok=True)
    LANDING.mkdir(parents=True, exist_ok=True)
    write_dtb(REFERENCE / "RELATORIO_DTB_BRASIL_MUNICIPIO_2012.xlsx", DTB_2012)
    write_dtb(REFERENCE / "RELATORIO_DTB_BRASIL_MUNICIPIO_2013.xlsx", DTB_2013)
    for year in (2012, 2013):
        write_dbf(REFERENCE / f"POPBR{year % 100}.DBF", POP_FIELDS, population_rows(year))
    with tempfile.TemporaryDirectory() as tmp:
        for year, deaths in ((2012, DEATHS_2012), (2013, DEATHS_2013)):
            _, dbc = write_sim(Path(tmp), year, deaths)
            shutil.copy(dbc, LANDING / dbc.name)


# --- The expected cells, by hand ---------------------------------------------------------
DEC, JAN = "2012-12", "2013-01"
# Per indicator, (municipality, month) → numerator; every other cell of the spine is 0.
# The spine: Florianópolis, Laguna, São Paulo and Rio both months; Pescaria Brava from
# January 2013 (the DTB 2013 edition) only.
SPINE = {(m, DEC) for m in (FLN, LAG, SAO, RJ)} | {(m, JAN) for m in (FLN, LAG, PBR, SAO, RJ)}
COUNTS = {
    # X85-Y09 and Y87.1, where the death occurred: the Laguna resident killed in
    # Florianópolis counts in Florianópolis, the Pescaria Brava resident too.
    "homicide_count_health": {(FLN, DEC): 2, (LAG, DEC): 1, (PBR, JAN): 1, (FLN, JAN): 1,
                              (RJ, JAN): 1},
    # The same plus Y35.
    "homicide_count_sdg": {(FLN, DEC): 3, (LAG, DEC): 1, (PBR, JAN): 1, (FLN, JAN): 1,
                           (SAO, JAN): 1, (RJ, JAN): 1},
    "legal_intervention_deaths": {(FLN, DEC): 1, (SAO, JAN): 1},
    "suicide_count_health": {(FLN, DEC): 1, (FLN, JAN): 1},
    "road_traffic_deaths_health": {(LAG, DEC): 1, (SAO, JAN): 1},
}  # fmt: skip
# Undetermined intent (Y10-Y34) over the violent deaths (V01-Y36, Y87.1): natural deaths
# (I21, J18, P36) are in neither.
UNDETERMINED = {
    (FLN, DEC): (0, 4), (LAG, DEC): (0, 2), (SAO, DEC): (1, 1),
    (PBR, JAN): (1, 2), (FLN, JAN): (0, 2), (SAO, JAN): (0, 2), (RJ, JAN): (0, 1),
    (LAG, JAN): (0, 1),
}  # fmt: skip
RATES = {
    "homicide_rate_health": "homicide_count_health",
    "homicide_rate_sdg": "homicide_count_sdg",
    "suicide_rate_health": "suicide_count_health",
    "road_traffic_death_rate_health": "road_traffic_deaths_health",
}
# The labels: `homicide_*_health` is published per source (`by_source`); the others under
# the family's label, which here holds SIM's deaths only.
BY_SOURCE = {"homicide_count_health", "homicide_rate_health"}


def population(code: str, month: str) -> int:
    return sum(POPULATION[(code, int(month[:4]))])


def per_100k(count: int, people: int) -> Decimal:
    return (Decimal(count) * 100000 / Decimal(people)).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_UP
    )


# --- The build, once ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def brazil(settings):  # type: ignore[no-untyped-def]
    return dataclasses.replace(settings, profile="brazil_fixture")


@pytest.fixture(scope="module")
def built(brazil, warehouse_url, tmp_path_factory) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    import psycopg

    from observatorio.core.profile import load_profile
    from observatorio.orchestration.ingest import ingest_file
    from observatorio.orchestration.reference import load_reference
    from observatorio.transform.dbt import run_dbt
    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    reference = load_reference(load_profile(settings=brazil), brazil)
    landed = tmp_path_factory.mktemp("landing")
    deaths = []
    for name in ("DOBR2012.dbc", "DOBR2013.dbc"):
        deaths.append(ingest_file("sim__deaths", Path(shutil.copy(LANDING / name, landed)), brazil))
    # Seeds and models the mart needs, in order; the data tests are other tests' business.
    run_dbt(["build", "--select", "+mart_indicators_monthly", "--exclude-resource-type", "test",
             "--exclude-resource-type", "unit_test"], brazil)  # fmt: skip
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        cells = conn.execute(
            "select indicator_code, municipality_code, month, source, numerator, denominator,"
            " value from marts.mart_indicators_monthly"
            " where indicator_code = any(%s) and sex = 'all' and age_group = 'all'",
            ([*COUNTS, *RATES, "undetermined_intent_share"],),
        ).fetchall()
        history = conn.execute(
            "select municipality_code, municipality_name, department_name, valid_from, valid_to"
            " from intermediate.int_municipality_versions order by 1"
        ).fetchall()
        yield {
            "reference": reference,
            "deaths": deaths,
            "cells": {(r[0], r[1], r[2]): r[3:] for r in cells},
            "history": [tuple(r) for r in history],
            "conn": conn,
        }
        _truncate(conn)


def test_the_committed_files_are_the_constants_here(tmp_path: Path) -> None:
    for year, deaths in ((2012, DEATHS_2012), (2013, DEATHS_2013)):
        _, dbc = write_sim(tmp_path, year, deaths)
        assert dbc.read_bytes() == (LANDING / dbc.name).read_bytes(), dbc.name
    for year in (2012, 2013):
        name = f"POPBR{year % 100}.DBF"
        written = write_dbf(tmp_path / name, POP_FIELDS, population_rows(year))
        assert written.read_bytes() == (REFERENCE / name).read_bytes(), name


def test_every_file_is_loaded_whole(built: dict[str, Any]) -> None:
    summary = [
        (r.source, Path(r.file).name, r.status, r.rows_read, r.rows_loaded, r.rows_quarantined)
        for r in built["reference"] + built["deaths"]
    ]
    # Per municipality-year, 2 sexes x 3 bands: 4 municipalities in 2012, 5 in 2013.
    people_rows = {2012: 4 * 2 * 3, 2013: 5 * 2 * 3}
    assert summary == [
        ("ibge__territorial_division", "RELATORIO_DTB_BRASIL_MUNICIPIO_2012.xlsx", "loaded",
         4, 4, 0),
        ("ibge__territorial_division", "RELATORIO_DTB_BRASIL_MUNICIPIO_2013.xlsx", "loaded",
         5, 5, 0),
        ("observatorio__municipality_aliases", "alias_municipios.csv", "loaded", 2, 2, 0),
        ("datasus__population", "POPBR12.DBF", "loaded", people_rows[2012], people_rows[2012],
         0),
        ("datasus__population", "POPBR13.DBF", "loaded", people_rows[2013], people_rows[2013],
         0),
        ("sim__deaths", "DOBR2012.dbc", "loaded", 8, 8, 0),
        ("sim__deaths", "DOBR2013.dbc", "loaded", 10, 10, 0),
    ]  # fmt: skip


def test_the_geography_keeps_pescaria_brava_from_2013(built: dict[str, Any]) -> None:
    y2012 = date(2012, 1, 1)
    assert built["history"] == [
        (RJ, "Rio de Janeiro", "Rio de Janeiro", y2012, None),
        (SAO, "São Paulo", "São Paulo", y2012, None),
        (FLN, "Florianópolis", "Santa Catarina", y2012, None),
        (LAG, "Laguna", "Santa Catarina", y2012, None),
        (PBR, "Pescaria Brava", "Santa Catarina", date(2013, 1, 1), None),
    ]


SIM_RAW = (
    "select death_date, age_years, sex, residence_municipality_code,"
    " occurrence_municipality_code, underlying_cause, circumstance"
    " from raw.{} order by _source_file, _source_row"
)


def test_the_do_fields_are_read_as_sim_codes_them(built: dict[str, Any]) -> None:
    rows = built["conn"].execute(SIM_RAW.format("sim__deaths")).fetchall()
    expected = [
        (date(2012, 12, 3), 25, "M", FLN, FLN, "X954", "homicide"),
        (date(2012, 12, 15), 31, "F", LAG, FLN, "X990", "homicide"),
        (date(2012, 12, 20), 19, "M", FLN, FLN, "Y350", "other"),
        (date(2012, 12, 22), None, None, FLN, FLN, "X700", "suicide"),
        (date(2012, 12, 11), 60, "M", LAG, LAG, "V031", "accident"),
        (date(2012, 12, 27), 101, None, LAG, LAG, "Y871", None),
        (date(2012, 12, 5), 80, "F", SAO, SAO, "I219", None),
        (date(2012, 12, 9), 0, "M", SAO, SAO, "Y200", None),
        (date(2013, 1, 5), 22, "M", PBR, PBR, "X950", "homicide"),
        (date(2013, 1, 12), 0, "F", LAG, PBR, "Y300", None),
        (date(2013, 1, 18), 19, "M", PBR, FLN, "X959", "homicide"),
        (date(2013, 1, 20), 67, "F", FLN, FLN, "X800", "suicide"),
        (date(2013, 1, 2), 10, "M", SAO, SAO, "V892", "accident"),
        (date(2013, 1, 8), 21, "M", SAO, SAO, "Y350", "other"),
        (date(2013, 1, 25), 33, "M", RJ, RJ, "X930", "homicide"),
        (date(2013, 1, 30), 0, "F", RJ, RJ, "J189", None),
        (date(2013, 1, 3), 0, None, RJ, RJ, "P369", None),
        (date(2013, 1, 14), 90, "F", LAG, LAG, "W190", "accident"),
    ]
    assert [tuple(r) for r in rows] == expected


def test_the_same_deaths_in_dbf_give_the_same_rows(
    built: dict[str, Any], brazil: Any, tmp_path: Path
) -> None:
    from observatorio.orchestration.ingest import ingest_file

    for year, deaths in ((2012, DEATHS_2012), (2013, DEATHS_2013)):
        dbf, _ = write_sim(tmp_path, year, deaths)
        result = ingest_file("sim__deaths_dbf", dbf, brazil)
        assert (result.status, result.rows_loaded, result.rows_quarantined) == (
            "loaded", len(deaths), 0,
        ), result  # fmt: skip
    conn = built["conn"]
    # Every column the contracts write (the provenance columns, `_*`, aside), row by row.
    columns = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw'"
            " and table_name = 'sim__deaths' and left(column_name, 1) <> '_'"
            " order by ordinal_position"
        ).fetchall()
    ]
    assert {"death_date", "age_years", "occurrence_municipality_code", "race"} <= set(columns)
    query = f"select {', '.join(columns)} from raw.{{}} order by _source_file, _source_row"
    dbc_rows = conn.execute(query.format("sim__deaths")).fetchall()
    assert len(dbc_rows) == len(DEATHS_2012) + len(DEATHS_2013)
    assert conn.execute(query.format("sim__deaths_dbf")).fetchall() == dbc_rows


def test_the_counts_are_the_deaths_where_they_occurred(built: dict[str, Any]) -> None:
    cells = built["cells"]
    for code, by_cell in COUNTS.items():
        source = "health:sim" if code in BY_SOURCE else "health"
        got = {(m, month): v for (c, m, month), v in cells.items() if c == code}
        assert set(got) == SPINE, code  # dense: a zero where nothing happened
        for key in sorted(SPINE):
            count = by_cell.get(key, 0)
            assert got[key] == (source, count, None, count), (code, key)
    # Rio had no homicide in December 2012: a zero, not a missing cell.
    assert cells[("homicide_count_health", RJ, DEC)] == ("health:sim", 0, None, 0)
    # Pescaria Brava did not exist yet in December 2012: no cell at all.
    assert ("homicide_count_health", PBR, DEC) not in cells


def test_the_rates_use_the_fixture_population(built: dict[str, Any]) -> None:
    cells = built["cells"]
    for rate, count_code in RATES.items():
        source = "health:sim" if rate in BY_SOURCE else "health"
        for key in sorted(SPINE):
            count, people = COUNTS[count_code].get(key, 0), population(*key)
            expected = (source, count, people, per_100k(count, people))
            assert cells[(rate, *key)] == expected, (rate, key)
    # Florianópolis, December 2012, by hand: 2 homicides per 430,000 people.
    assert cells[("homicide_rate_health", FLN, DEC)][3] == Decimal("0.465116")
    # Pescaria Brava, January 2013: 1 per 10,000.
    assert cells[("homicide_rate_health", PBR, JAN)][3] == Decimal("10.000000")


def test_the_undetermined_intent_share_leaves_natural_deaths_out(built: dict[str, Any]) -> None:
    cells = built["cells"]
    for key in sorted(SPINE):
        numerator, denominator = UNDETERMINED.get(key, (0, 0))
        value = (
            (Decimal(numerator) / denominator).quantize(Decimal("0.000001"), ROUND_HALF_UP)
            if denominator
            else None
        )
        got = cells[("undetermined_intent_share", *key)]
        assert got == ("health", numerator, denominator, value), key


if __name__ == "__main__":
    write_profile_files()
