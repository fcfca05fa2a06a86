"""Indicators by sex and age group, and by department and nation, on a hand-made fixture.

Seven homicide victims reported to the police in January 2024, each with the sex and age
written below; every expected cell is counted by hand from that list. Populations are the
demo profile's (`dbt_project/seeds/ref_population.csv`, year 2024), written out.

| report | municipality | sex | age | age group |
|---|---|---|---|---|
| 1 | 01001 (dept 01) | F | 27 | 25-29 |
| 2 | 01001 | F | 25 | 25-29 |
| 3 | 01001 | M | 42 | 40-44 |
| 4 | 01001 | I (unknown) | 31 | 30-34 |
| 5 | 01001 | M | (none) | unknown |
| 6 | 01002 (dept 01) | M | 23 | 20-24 |
| 7 | 02001 (dept 02) | F | 61 | 60-64 |
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from observatorio.transform.dbt import run_dbt
from tests.police_files import report_row, write_reports

MONTH = "2024-01"
VICTIMS = [
    # (report, municipality, sex, age)
    (1, "01001", "F", "27"),
    (2, "01001", "F", "25"),
    (3, "01001", "M", "42"),
    (4, "01001", "I", "31"),
    (5, "01001", "M", ""),
    (6, "01002", "M", "23"),
    (7, "02001", "F", "61"),
]
# ref_population.csv, 2024: women aged 25-29 in 01001; and all women of 01001 (the sum of its
# 17 female rows: 45044 + 45585 + 47278 + 48999 + 50156 + 48940 + 46476 + 43945 + 41346
# + 38055 + 34684 + 31231 + 27053 + 21479 + 16441 + 10630 + 6712).
WOMEN_25_29_01001 = 48940
WOMEN_01001 = 604054


@pytest.fixture(scope="module")
def built(settings: Any, warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import psycopg

    from observatorio.orchestration.ingest import ingest_file
    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    rows = [
        report_row(
            n,
            codigo_municipio=municipality,
            codigo_delito="CP-121",
            delito="Homicidio simple",
            sexo_victima=sex,
            edad_victima=age,
        )
        for n, municipality, sex, age in VICTIMS
    ]
    path = write_reports(
        tmp_path_factory.mktemp("disaggregations") / "denuncias_20240105.csv", rows
    )
    assert ingest_file("police__reports", path, settings).status == "loaded"
    run_dbt(
        [
            "build",
            "--select",
            "+mart_indicators_monthly_areas",
            "--exclude-resource-type",
            "test",
            "unit_test",
        ],
        settings,
    )
    with psycopg.connect(warehouse_url) as conn:
        municipal = conn.execute(
            "select municipality_code, sex, age_group, numerator, denominator, value"
            " from marts.mart_indicators_monthly"
            " where indicator_code = %s and month = %s and numerator > 0",
            ("homicide_count_police", MONTH),
        ).fetchall()
        rates = conn.execute(
            "select municipality_code, sex, age_group, numerator, denominator, value"
            " from marts.mart_indicators_monthly"
            " where indicator_code = %s and month = %s and numerator > 0",
            ("homicide_rate_police", MONTH),
        ).fetchall()
        areas = conn.execute(
            "select area_level, area_code, sex, age_group, numerator"
            " from marts.mart_indicators_monthly_areas"
            " where indicator_code = %s and month = %s and numerator > 0",
            ("homicide_count_police", MONTH),
        ).fetchall()
    return municipal, rates, areas


def test_municipal_cells_by_sex_and_age_group_are_the_hand_counts(built: Any) -> None:
    municipal, _, _ = built
    cells = {(m, s, a): int(n) for m, s, a, n, _, _ in municipal}
    assert {k[1:]: v for k, v in cells.items() if k[0] == "01001"} == {
        ("all", "all"): 5,
        ("F", "all"): 2,
        ("M", "all"): 2,
        ("unknown", "all"): 1,
        ("all", "25-29"): 2,
        ("all", "30-34"): 1,
        ("all", "40-44"): 1,
        ("all", "unknown"): 1,
        ("F", "25-29"): 2,
        ("M", "40-44"): 1,
        ("M", "unknown"): 1,
        ("unknown", "30-34"): 1,
    }
    assert {k[1:]: v for k, v in cells.items() if k[0] == "01002"} == {
        ("all", "all"): 1,
        ("M", "all"): 1,
        ("all", "20-24"): 1,
        ("M", "20-24"): 1,
    }


def test_rates_by_sex_and_age_group_have_that_population_as_denominator(built: Any) -> None:
    _, rates, _ = built
    cells = {(m, s, a): (n, d, v) for m, s, a, n, d, v in rates}
    numerator, denominator, value = cells[("01001", "F", "25-29")]
    assert (numerator, denominator) == (2, WOMEN_25_29_01001)
    expected = (Decimal(2 * 100000) / WOMEN_25_29_01001).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_UP
    )
    assert value == expected
    assert cells[("01001", "F", "all")][1] == WOMEN_01001
    # Sex not recorded: counted, but no population, so no rate.
    assert cells[("01001", "unknown", "all")] == (1, None, None)


def test_departments_and_the_nation_are_the_sums_of_their_parts(built: Any) -> None:
    _, _, areas = built
    cells = {(level, code, s, a): int(n) for level, code, s, a, n in areas}
    # Department 01: reports 1-6; department 02: report 7; the nation: all seven.
    assert cells[("department", "01", "all", "all")] == 6
    assert cells[("department", "01", "M", "all")] == 3
    assert cells[("department", "01", "F", "25-29")] == 2
    assert cells[("department", "02", "F", "60-64")] == 1
    assert cells[("national", "all", "all", "all")] == 7
    assert cells[("national", "all", "F", "all")] == 3
    assert cells[("national", "all", "unknown", "all")] == 1
    assert cells[("national", "all", "all", "unknown")] == 1


def test_explain_lists_the_rows_of_a_breakdown_cell(built: Any, settings: Any) -> None:
    from observatorio.lineage.explain import explain

    women = explain("homicide_count_police", "01001", MONTH, "F", "25-29", settings=settings)
    assert (women.numerator, len(women.rows)) == (2, 2)
    assert women.matches
    every = explain("homicide_count_police", "01001", MONTH, settings=settings)
    assert (every.numerator, len(every.rows)) == (5, 5)
    assert every.matches
