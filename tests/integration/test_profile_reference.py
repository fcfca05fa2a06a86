"""A country profile's reference data, through contracts into dimensions that keep history.

The fixture profile `profiles/colombia_fixture` gives two DIVIPOLA editions (2018, 2023:
Belén de Bajirá split off Riosucio, Cali renamed Santiago de Cali, Antioquia's codes without
their leading zero), DANE's population projections (sexes and age groups in columns, a
Total and an urban row for Medellín), aliases and the offence code map. The test loads them
with the main job's own function (real loader, gate and ledger), builds the reference
models and dimensions with dbt, and checks every row against values worked out here from
the fixture files.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from observatorio.core.profile import load_profile
from observatorio.core.warehouse import connect
from observatorio.orchestration.reference import load_reference
from observatorio.transform.dbt import DbtError, run_dbt

# Every age-group cell of a municipality's Total row holds the same number in the fixture:
# (men, women) per cell in 2022; 2023 adds 10 to each. 17 age groups per sex.
CELLS = {
    "05001": (80000, 85000),
    "05088": (16000, 17000),
    "11001": (230000, 245000),
    "27001": (3500, 3600),
    "27615": (1200, 1100),
    "27086": (600, 550),  # exists from the 2023 edition only
    "76001": (68000, 73000),
    "88001": (1800, 1900),
    "91263": (150, 140),
}
GROUPS = 17

ANTIOQUIA, BOGOTA, CHOCO = ("05", "Antioquia"), ("11", "Bogotá, D.C."), ("27", "Chocó")
VALLE, AMAZONAS = ("76", "Valle del Cauca"), ("91", "Amazonas")
SAN_ANDRES = ("88", "Archipiélago de San Andrés, Providencia y Santa Catalina")
Y2018, Y2023, END_2022 = date(2018, 1, 1), date(2023, 1, 1), date(2022, 12, 31)
MUNICIPALITY = "municipality"
HISTORY = [
    # version id, code, name, department code and name, type, valid from, valid to, current
    ("05001|1", "05001", "Medellín", *ANTIOQUIA, MUNICIPALITY, Y2018, None, True),
    ("05088|1", "05088", "Bello", *ANTIOQUIA, MUNICIPALITY, Y2018, None, True),
    ("11001|1", "11001", "Bogotá, D.C.", *BOGOTA, MUNICIPALITY, Y2018, None, True),
    ("27001|1", "27001", "Quibdó", *CHOCO, MUNICIPALITY, Y2018, None, True),
    # Split off Riosucio: in the 2023 edition only, so it exists from 2023 on.
    ("27086|1", "27086", "Belén de Bajirá", *CHOCO, MUNICIPALITY, Y2023, None, True),
    ("27615|1", "27615", "Riosucio", *CHOCO, MUNICIPALITY, Y2018, None, True),
    # Renamed in the 2023 edition: two versions, the first closed the day before.
    ("76001|1", "76001", "Cali", *VALLE, MUNICIPALITY, Y2018, END_2022, False),
    ("76001|2", "76001", "Santiago de Cali", *VALLE, MUNICIPALITY, Y2023, None, True),
    ("88001|1", "88001", "San Andrés", *SAN_ANDRES, "island", Y2018, None, True),
    ("91263|1", "91263", "El Encanto", *AMAZONAS, "non_municipalised_area", Y2018, None, True),
]

DIMS = "+dim_municipality +dim_municipality_history +dim_municipality_population"


@pytest.fixture
def colombia(settings):  # type: ignore[no-untyped-def]
    return dataclasses.replace(settings, profile="colombia_fixture")


@pytest.fixture
def colombia_loaded(clean_warehouse, colombia):  # type: ignore[no-untyped-def]
    results = load_reference(load_profile(settings=colombia), colombia)
    return clean_warehouse, results


def test_reference_files_load_through_their_contracts(colombia_loaded):
    db, results = colombia_loaded
    summary = [
        (r.source, r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) for r in results
    ]
    assert summary == [
        ("dane__divipola", "loaded", 8, 8, 0),
        ("dane__divipola", "loaded", 9, 9, 0),
        ("observatorio__municipality_aliases", "loaded", 4, 4, 0),
        # 2022: 8 Total rows + Medellín's urban row; 2023: 9 + 1; 34 sex-by-age cells each.
        ("dane__population_projections", "loaded", 19 * 34, 19 * 34, 0),
        ("observatorio__national_offences", "loaded", 5, 5, 0),
    ]
    # Codes that lost their leading zero in a spreadsheet are read as DIVIPOLA codes.
    codes = db.execute(
        "select municipality_code, department_code from raw.dane__divipola"
        " where _source_file like '%2023%' and department_code = '05' order by 1"
    ).fetchall()
    assert codes == [("05001", "05"), ("05088", "05")]


def test_reference_dimensions_keep_the_history_of_the_geography(colombia_loaded, colombia):
    db, _ = colombia_loaded
    run_dbt(
        ["build", "--select", DIMS, "int_municipality_names", "--indirect-selection", "cautious"],
        colombia,
    )
    history = db.execute(
        "select municipality_version_id, municipality_code, municipality_name, department_code,"
        " department_name, municipality_type, valid_from, valid_to, is_current"
        " from marts.dim_municipality_history order by 1"
    ).fetchall()
    assert [tuple(r) for r in history] == HISTORY

    current = db.execute(
        "select municipality_code, municipality_name, department_name, valid_from, valid_to,"
        " country_code, country_name, is_unknown from marts.dim_municipality order by 1"
    ).fetchall()
    expected = [
        (code, name, dept_name, Y2023 if code == "27086" else Y2018, None, "CO", "Colombia", False)
        for _, code, name, _, dept_name, _, _, _, is_current in HISTORY
        if is_current
    ]
    expected.append(
        ("99999", "Sin municipio", "Sin departamento", None, None, "CO", "Colombia", True)
    )
    assert [tuple(r) for r in current] == expected

    population = db.execute(
        "select municipality_code, year, population, population_male, population_female"
        " from marts.dim_municipality_population order by 1, 2"
    ).fetchall()
    expected_population = []
    for code, (men, women) in sorted(CELLS.items()):
        for year, extra in ((2022, 0), (2023, 10)):
            if code == "27086" and year == 2022:
                continue
            male, female = GROUPS * (men + extra), GROUPS * (women + extra)
            expected_population.append((code, year, male + female, male, female))
    assert [tuple(r) for r in population] == expected_population
    # Medellín 2022 by hand: 17 * 80,000 men + 17 * 85,000 women, the urban row left out.
    assert expected_population[0] == ("05001", 2022, 2_805_000, 1_360_000, 1_445_000)

    # Every name a municipality has had resolves to its code, old names included.
    names = dict(
        db.execute(
            "select name_key, municipality_code from intermediate.int_municipality_names"
        ).fetchall()
    )
    assert names["CALI"] == names["SANTIAGO DE CALI"] == names["CALI (CT)"] == "76001"
    assert names["MEDELLIN (CT)"] == names["MEDELLIN"] == "05001"


@pytest.mark.usefixtures("colombia_loaded")
def test_the_spine_counts_a_municipality_only_in_the_months_it_exists(colombia):
    parents = ["--select", "+int_indicator_spine", "--exclude", "int_indicator_spine"]
    run_dbt(["build", *parents, "--indirect-selection", "cautious"], colombia)
    # Months being built: December 2022 and January 2023, across the 2023 edition.
    with connect(colombia, role="transformer") as conn:
        conn.execute(
            "insert into marts.fct_crime_reports (report_victim_id, incident_date)"
            " values ('fixture-1', date '2022-12-20'), ('fixture-2', date '2023-01-03')"
        )
    run_dbt(["run", "--select", "int_indicator_spine"], colombia)
    with connect(colombia, role="transformer") as conn:
        rows = conn.execute(
            "select month, count(*), bool_or(municipality_code = '27086'), sum(population)"
            " from intermediate.int_indicator_spine group by 1 order by 1"
        ).fetchall()
    total_2022 = sum(GROUPS * (m + w) for code, (m, w) in CELLS.items() if code != "27086")
    total_2023 = sum(GROUPS * (m + w + 20) for m, w in CELLS.values())
    # Belén de Bajirá (split off Riosucio in the 2023 edition) is in January only.
    assert [tuple(r) for r in rows] == [
        ("2022-12", 8, False, total_2022),
        ("2023-01", 9, True, total_2023),
    ]


@pytest.mark.usefixtures("colombia_loaded")
def test_a_month_without_population_for_its_year_stops_the_build(colombia):
    parents = ["--select", "+int_indicator_spine", "--exclude", "int_indicator_spine"]
    run_dbt(["build", *parents, "--indirect-selection", "cautious"], colombia)
    # A month being built in 2024, a year the profile's projections do not cover.
    with connect(colombia, role="transformer") as conn:
        conn.execute(
            "insert into marts.fct_crime_reports (report_victim_id, incident_date)"
            " values ('fixture-1', date '2023-11-20'), ('fixture-2', date '2024-02-03')"
        )
    with pytest.raises(DbtError) as raised:
        run_dbt(["run", "--select", "int_indicator_spine"], colombia)
    message = str(raised.value)
    assert "population missing for year 2024 (months 2024-01..2024-02, 9 municipalities)" in (
        message
    ), message
    assert "2023" not in message.split("population missing for", 1)[1]


def test_rows_with_a_municipality_code_outside_the_geography_are_quarantined(
    colombia_loaded, colombia, tmp_path
):
    from observatorio.orchestration.ingest import ingest_file
    from tests.fixtures.layouts import make_fixtures as fx

    db, _ = colombia_loaded
    unknown = ["CHOCÓ", "NUEVO", "27999000", "ARMA DE FUEGO", datetime(2023, 1, 5), "FEMENINO",
               "ADULTOS", 3]  # fmt: skip
    path = fx.write_workbook(
        tmp_path / "homicidios_2023.xlsx", fx.SIEDCO_HEADER, [*fx.SIEDCO_ROWS, unknown],
        fx.SIEDCO_NOTES,
    )  # fmt: skip
    result = ingest_file("siedco__homicides", path, colombia)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded", 5 + 2, 4, 1,
    )  # fmt: skip
    assert result.rows_footer == len(fx.SIEDCO_NOTES) == 2  # read = loaded + quarantined + footer
    # The four known municipalities' victims are loaded; the unknown code's 3 are not.
    assert result.count_loaded == 1 + 1 + 2 + 1
    reason = "municipality code 27999 is not in the geography of profile colombia_fixture"
    assert (
        "homicidios_2023.xlsx: 1 rows quarantined: municipality codes not in the geography"
        " of profile colombia_fixture: 27999"
    ) in result.warnings
    quarantined = db.execute(
        "select column_name, reason, offending_value from ops.quarantine where batch_id = %s",
        (result.batch_id,),
    ).fetchall()
    assert [tuple(r) for r in quarantined] == [("municipality_code", reason, "27999")]
    loaded = db.execute(
        "select municipality_code from raw.siedco__homicides where _batch_id = %s order by 1",
        (result.batch_id,),
    ).fetchall()
    assert [r[0] for r in loaded] == ["05001", "05088", "11001", "76001"]
    ledger = db.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_footer from ops.batch_ledger"
        " where batch_id = %s",
        (result.batch_id,),
    ).fetchone()
    assert tuple(ledger) == (7, 4, 1, 2)


IBGE_HEADER = [
    "UF", "Nome_UF", "Região Geográfica Intermediária", "Nome Região Geográfica Intermediária",
    "Região Geográfica Imediata", "Nome Região Geográfica Imediata", "Município",
    "Código Município Completo", "Nome_Município",
]  # fmt: skip
IBGE_ROWS: list[list[object]] = [
    # Values made up; codes stored as numbers, as in IBGE's sheet (one as text).
    [35, "São Paulo", 3501, "São Paulo", 350001, "São Paulo", 50308, 3550308, "São Paulo"],
    [53, "Distrito Federal", 5301, "Distrito Federal", 530001, "Distrito Federal", 108, 5300108,
     "Brasília"],
    [15, "Pará", 1501, "Belém", 150001, "Belém", 4003, "1504003", "Mojuí dos Campos"],
]  # fmt: skip


def test_ibge_territorial_division_reads_into_the_geography_columns(
    clean_warehouse, settings, tmp_path
):
    import xlsxwriter

    from observatorio.orchestration.ingest import ingest_file

    path = tmp_path / "RELATORIO_DTB_BRASIL_MUNICIPIO.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("DTB_2023_Municipio")
    for r, row in enumerate([IBGE_HEADER, *IBGE_ROWS]):
        sheet.write_row(r, 0, row)
    book.close()
    result = ingest_file("ibge__territorial_division", path, settings)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 3, 0), result
    rows = clean_warehouse.execute(
        "select department_code, department_name, municipality_code, municipality_code_ibge,"
        " municipality_code_in_state, municipality_name from raw.ibge__territorial_division"
        " order by _source_row"
    ).fetchall()
    # Keyed on the 6 digits DATASUS's systems write; IBGE's 7-digit code kept beside.
    assert [tuple(r) for r in rows] == [
        ("35", "São Paulo", "355030", "3550308", "50308", "São Paulo"),
        ("53", "Distrito Federal", "530010", "5300108", "00108", "Brasília"),
        ("15", "Pará", "150400", "1504003", "04003", "Mojuí dos Campos"),
    ]


# --- The profile end to end: its sources through the loader and gate, then the build ----

# DANE's EEVV non-foetal deaths as `profiles/colombia_fixture/landing/` holds them (made-up
# values, the published header and codings): department and municipality-within-department
# codes (zeros lost in some rows), year and month of death (no day), the ICD-10 cause.
EEVV_HEADER = (
    "COD_DPTO,COD_MUNIC,A_DEFUN,SIT_DEFUN,TIPO_DEFUN,ANO,MES,HORA,MINUTOS,SEXO,EST_CIVIL,"
    "GRU_ED1,GRU_ED2,NIVEL_EDU,IDPERTET,SEG_SOCIAL,PMAN_MUER,MAN_MUER,CODPTORE,CODMUNRE,"
    "AREA_RES,C_DIR1,C_ANT1,C_BAS1,CAUSA_666,CAU_HOMOL"
)
EEVV_ROWS = [
    "05,001,1,4,2,2023,1,22,15,1,5,15,04,4,6,2,2,2,05,001,1,S069,X954,X954,512,055",
    "5,1,1,1,2,2023,1,03,40,2,5,14,04,5,6,1,2,2,5,1,1,S219,X994,X994,512,055",
    "76,001,1,4,2,2023,1,23,05,1,5,13,04,3,5,2,2,2,76,001,1,S062,X959,X959,512,055",
    "11,001,1,1,2,2023,1,10,00,1,6,23,06,6,6,1,1,,11,001,1,I219,I251,I219,303,026",
    "76,001,1,2,2,2023,1,18,30,1,5,16,04,4,6,1,2,1,76,001,1,T71X,X700,X700,511,054",
    "11,001,1,4,2,2023,1,07,20,1,1,17,05,7,6,1,2,3,25,754,1,S099,V892,V892,501,050",
    "05,001,3,4,2,2023,1,99,99,1,9,15,04,99,9,9,3,5,05,001,3,T149,Y349,Y349,516,059",
    "5,88,1,4,2,2023,1,01,10,1,5,14,04,4,6,2,2,2,5,88,1,S069,X954,X954,512,055",
    "27,001,2,4,2,2023,1,20,45,1,5,16,04,3,5,2,2,2,27,001,2,T07X,X954,X954,512,055",
]
SPINE_MONTHS = ["2023-01"]  # the month the two sources cover (no police records)


def _eevv_homicides() -> dict[tuple[str, str], int]:
    """Deaths whose underlying cause is ICD-10 X85 to Y09 (assault), per municipality, month."""
    counted: dict[tuple[str, str], int] = {}
    names = EEVV_HEADER.split(",")
    for line in EEVV_ROWS:
        row = dict(zip(names, line.split(","), strict=True))
        if "X85" <= row["C_BAS1"][:3] <= "Y09":  # X85..X99, Y00..Y09
            month = f"{row['ANO']}-{int(row['MES']):02d}"
            cell = (row["COD_DPTO"].zfill(2) + row["COD_MUNIC"].zfill(3), month)
            counted[cell] = counted.get(cell, 0) + 1
    return counted


def _siedco_victims() -> dict[tuple[str, str], int]:
    """SIEDCO's victims (CANTIDAD) per municipality (CODIGO DANE less its 000) and month."""
    from tests.fixtures.layouts import make_fixtures as fx

    counted: dict[tuple[str, str], int] = {}
    for _dept, _name, code, _weapon, day, _sex, _age, victims in fx.SIEDCO_ROWS:
        cell = (str(code)[:-3].zfill(5), day.strftime("%Y-%m"))
        counted[cell] = counted.get(cell, 0) + int(victims)
    return counted


@pytest.fixture(scope="module")
def colombia_built(settings, warehouse_url):  # type: ignore[no-untyped-def]
    """The profile's reference files and source files through the loader and gate, then one
    dbt build of the comparison mart and everything it reads (the indicator mart among them)
    and the data tests of the models read here."""
    import psycopg

    from observatorio.orchestration.ingest import ingest_file
    from tests.conftest import _truncate

    colombia = dataclasses.replace(settings, profile="colombia_fixture")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    profile = load_profile(settings=colombia)
    load_reference(profile, colombia)
    results = {
        contract: [
            ingest_file(contract, path, colombia)
            for path in sorted((profile.folder / "landing" / contract).iterdir())
        ]
        for contract in profile.active_contracts()
    }
    # Seeds and models, then the data tests of what the tests below read (the others are
    # the demo build's business, and the models' unit tests test_dbt_build's).
    run_dbt(
        [
            "build",
            "--select",
            "+mart_homicide_source_comparison",
            "--exclude-resource-type",
            "test",
            "unit_test",
        ],
        colombia,
    )
    read = "stg_interface__violent_deaths stg_interface__crime_counts mart_indicators_monthly"
    run_dbt(
        [
            "test",
            "--select",
            f"{read} mart_homicide_source_comparison",
            "--indirect-selection",
            "cautious",
            "--exclude-resource-type",
            "unit_test",
        ],
        colombia,
    )
    return results


def test_the_profile_file_is_the_one_written_here(colombia_built):
    [eevv] = colombia_built["eevv__non_fetal_deaths"]
    # So every value this module computes by hand is the landed file's own.
    landed = load_profile("colombia_fixture").folder / "landing" / eevv.source / eevv.file
    text = landed.read_bytes().decode("latin-1")
    assert text.splitlines() == [EEVV_HEADER, *EEVV_ROWS]


def test_eevv_deaths_load_and_reach_the_interface_dated_by_their_month(colombia_built, db):
    [eevv] = colombia_built["eevv__non_fetal_deaths"]
    assert (eevv.status, eevv.rows_read, eevv.rows_loaded, eevv.rows_quarantined) == (
        "loaded", len(EEVV_ROWS), len(EEVV_ROWS), 0,
    )  # fmt: skip
    rows = db.execute(
        "select municipality_code, death_date, death_date_precision, sex, age_years,"
        " icd10_code_reported, intent_reported from staging.stg_interface__violent_deaths"
        " where source_system = 'health:eevv' order by source_row"
    ).fetchall()
    sexes = {"1": "M", "2": "F", "3": "I"}
    manners = {"1": "natural", "2": "violent", "3": "under_investigation"}
    names = EEVV_HEADER.split(",")
    expected = []
    for line in EEVV_ROWS:
        row = dict(zip(names, line.split(","), strict=True))
        expected.append(
            (
                row["COD_DPTO"].zfill(2) + row["COD_MUNIC"].zfill(3),
                date(int(row["ANO"]), int(row["MES"]), 1),  # the month: no day is published
                "month",
                sexes[row["SEXO"]],
                None,  # age groups only, no age in years
                row["C_BAS1"],
                manners[row["PMAN_MUER"]],
            )
        )
    assert [tuple(r) for r in rows] == expected


def _cells(db, indicator: str, source: str) -> dict[tuple[str, str], object]:  # type: ignore[no-untyped-def]
    rows = db.execute(
        "select municipality_code, month, value from marts.mart_indicators_monthly"
        " where indicator_code = %s and source = %s and sex = 'all' and age_group = 'all'",
        (indicator, source),
    ).fetchall()
    return {(code, month): value for code, month, value in rows}


def test_siedco_and_eevv_homicides_are_exact_in_every_cell(colombia_built, db):
    from decimal import ROUND_HALF_UP, Decimal

    siedco, eevv = _siedco_victims(), _eevv_homicides()
    # By hand from the fixtures: SIEDCO Medellín 1, Bello 1, Cali 2, Bogotá 1 (January);
    # EEVV X95/X99 assaults: Medellín 2, Cali, Bello and Quibdó 1 (January too).
    assert siedco == {("05001", "2023-01"): 1, ("05088", "2023-01"): 1,
                      ("76001", "2023-01"): 2, ("11001", "2023-01"): 1}  # fmt: skip
    assert eevv == {("05001", "2023-01"): 2, ("76001", "2023-01"): 1,
                    ("05088", "2023-01"): 1, ("27001", "2023-01"): 1}  # fmt: skip
    spine = [(code, month) for code in sorted(CELLS) for month in SPINE_MONTHS]
    assert _cells(db, "homicide_victims_counted", "police:siedco") == {
        cell: siedco.get(cell, 0) for cell in spine
    }
    assert _cells(db, "homicide_count_health", "health:eevv") == {
        cell: eevv.get(cell, 0) for cell in spine
    }

    def rate(victims: int, code: str) -> Decimal:
        men, women = CELLS[code]
        population = GROUPS * (men + 10 + women + 10)  # 2023: 10 more per cell than 2022
        return (Decimal(victims * 100000) / population).quantize(Decimal("0.000001"), ROUND_HALF_UP)

    assert _cells(db, "homicide_victims_counted_rate", "police:siedco") == {
        (code, month): rate(siedco.get((code, month), 0), code) for code, month in spine
    }
    # Medellín, January, by hand: 1 victim over 17 * (80,010 + 85,010) = 2,805,340 people.
    assert rate(1, "05001") == Decimal("0.035646")


def test_the_comparison_counts_police_against_health_per_municipality_month(colombia_built, db):
    siedco, eevv = _siedco_victims(), _eevv_homicides()
    rows = db.execute(
        "select comparison_id, month, municipality_code, police_source, health_source, method,"
        " police_homicide_victims, health_homicide_deaths, police_minus_health,"
        " reconciled_homicides from marts.mart_homicide_source_comparison order by 1"
    ).fetchall()
    # SIEDCO publishes counts: compared cell by cell, never linked; the police record
    # indicator's zeros (no police records in this country) are no source to compare.
    expected = sorted(
        (
            f"{month}|{code}|police:siedco|health:eevv", month, code, "police:siedco",
            "health:eevv", "counts", siedco.get((code, month), 0), eevv.get((code, month), 0),
            siedco.get((code, month), 0) - eevv.get((code, month), 0), None,
        )
        for code, month in set(siedco) | set(eevv)
    )  # fmt: skip
    assert [tuple(r) for r in rows] == expected
    # Medellín 1 vs 2, Bello 1 vs 1, Bogotá 1 vs 0, Cali 2 vs 1, Quibdó 0 vs 1.
    assert len(expected) == 5


def test_eevv_codes_outside_the_geography_are_quarantined_by_their_joined_code(
    colombia_built, db, tmp_path, settings
):
    from observatorio.orchestration.ingest import ingest_file

    # Department 27 (Chocó) and a municipality 999 within it: 27999, not in DIVIPOLA here.
    # (Run last: the profile's build above is done, and no row of this file loads.)
    unknown = EEVV_ROWS[-1].replace("27,001,", "27,999,", 1)
    path = tmp_path / "nofetal2024.csv"
    path.write_bytes(("\r\n".join([EEVV_HEADER, unknown]) + "\r\n").encode("latin-1"))
    colombia = dataclasses.replace(settings, profile="colombia_fixture")
    result = ingest_file("eevv__non_fetal_deaths", path, colombia)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (1, 0, 1), result
    quarantined = db.execute(
        "select source_row, column_name, reason, offending_value from ops.quarantine"
        " where batch_id = %s",
        (result.batch_id,),
    ).fetchall()
    reason = "municipality code 27999 is not in the geography of profile colombia_fixture"
    assert [tuple(r) for r in quarantined] == [
        (1, "department_code+municipality_code_in_department", reason, "27999")
    ]
