"""Argentina's adapter end to end: the fixture profile through contracts, the gate and dbt.

`profiles/argentina_fixture` gives Georef's departments (two provinces, five departments),
their population in Observatorio's layout, the SNIC offence codes and the SNIC yearly file
(`snic-departamentos-anual.csv`: `;`, decimal commas, victims by sex in three columns, one
department `06999` "Sin determinar" that no geography has, a robbery row without victims).
The test loads them with the main job's own functions (real loader, gate and ledger), builds
the indicator mart with dbt for the profile, and checks the canonical interface row by row
(victims by sex: M, F and null for `sd`) and the yearly homicide cells, counts and rates,
computed here from the fixture's values written out below. The profile sets publication
rules of its own (`publication:` in its profile.yaml, other than `_publication.yml`'s): the
mart's unstable flags, BI's suppression and BI's indicator table follow them.
"""

from __future__ import annotations

import csv
import dataclasses
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from observatorio.core.profile import load_profile
from observatorio.orchestration.ingest import ingest_file
from observatorio.orchestration.reference import load_reference
from observatorio.transform.dbt import run_dbt

PROFILE = "argentina_fixture"
SNIC_FILE = "landing/snic__departments/snic-departamentos-anual.csv"
# The fixture file's rows: department, year, SNIC offence code, victims (male, female,
# sin determinar; None: the cells are empty, the offence's victims are not counted).
SNIC_ROWS = [
    ("06028", 2022, "1", (9, 2, 1)),
    ("06028", 2022, "2", (18, 4, 0)),  # attempted homicide: ICCS 0102, not 0101
    ("06427", 2022, "1", (44, 7, 1)),
    ("06999", 2022, "1", (2, 0, 0)),  # "Sin determinar": not in the geography
    ("14014", 2022, "1", (25, 6, 0)),
    ("14098", 2022, "1", (2, 1, 0)),
    ("06028", 2023, "1", (7, 3, 0)),
    ("06427", 2023, "1", (40, 8, 1)),
    ("06441", 2023, "1", (12, 3, 0)),
    ("14014", 2023, "1", (24, 5, 1)),
    ("14098", 2023, "15", None),  # robbery, no victims published
    ("14098", 2023, "1", (3, 1, 0)),
]
UNKNOWN = "06999"
# The seed's `snic` correspondence (dbt_project/seeds/ref_offence_correspondences.csv).
ICCS = {"1": "0101", "2": "0102"}
# Population: every age-group cell of a department holds the same number, (men, women) in
# 2022; 2023 adds 10 to each. 17 five-year age groups per sex.
CELLS = {
    "06028": (9000, 9500),
    "06427": (40000, 41000),
    "06441": (15000, 16000),
    "14014": (30000, 32000),
    "14098": (5000, 5200),
}
GROUPS = 17
YEARS = (2022, 2023)
# Periods of the spine: the months the published counts cover, January 2022 to January 2023.
MONTHS = [f"2022-{m:02d}" for m in range(1, 13)] + ["2023-01"]
# The models whose data tests the build runs: those whose rows the test reads.
CHECKED = ["stg_interface__crime_counts", "intermediate.reference", "int_indicator_spine",
           "mart_indicators_monthly"]  # fmt: skip


def population(code: str, year: int) -> int:
    men, women = CELLS[code]
    extra = 10 * (year - 2022)
    return GROUPS * (men + extra) + GROUPS * (women + extra)


def homicide_victims(code: str, year: int) -> int:
    return sum(
        sum(victims)
        for dept, row_year, offence, victims in SNIC_ROWS
        if (dept, row_year) == (code, year) and victims and ICCS.get(offence, "").startswith("0101")
    )


@pytest.fixture(scope="module")
def argentina(settings, warehouse_url):  # type: ignore[no-untyped-def]
    import psycopg

    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    chosen = dataclasses.replace(settings, profile=PROFILE)
    profile = load_profile(settings=chosen)
    reference = load_reference(profile, chosen)
    snic = ingest_file("snic__departments", profile.folder / SNIC_FILE, chosen)
    # What the mart needs; data tests only on what this test reads (the others are the
    # demo's, proven by their own tests): the interface, the reference and the mart.
    run_dbt(["build", "--select", "+bi_indicators_monthly", "--exclude", "test_type:data"],
            chosen)  # fmt: skip
    run_dbt(["test", "--select", *CHECKED, "--indirect-selection", "cautious"], chosen)
    with psycopg.connect(warehouse_url) as conn:
        found = {
            "interface": conn.execute(
                "select municipality_code, month_start, period, national_offence_code, iccs_code,"
                " sex, counting_unit, count, source_system from staging.stg_interface__crime_counts"
                " order by source_row, sex nulls last"
            ).fetchall(),
            "cells": conn.execute(
                "select indicator_code, municipality_code, month, sex, age_group, source,"
                " numerator, denominator, value from marts.mart_indicators_monthly"
                " where source = 'police:snic' and sex = 'all' and age_group = 'all'"
            ).fetchall(),
            "rates": conn.execute(
                "select numerator, is_unstable from marts.mart_indicators_monthly"
                " where indicator_code = 'homicide_victims_counted_yearly_rate'"
                " and denominator > 0"
            ).fetchall(),
            "bi": conn.execute(
                "select m.numerator, b.is_suppressed from bi.indicators_monthly as b"
                " inner join marts.mart_indicators_monthly as m"
                " on b.area_level = 'municipality' and b.area_code = m.municipality_code"
                " and b.indicator_code = m.indicator_code and to_char(b.month, 'YYYY-MM')"
                " = m.month and b.sex = m.sex and b.age_group = m.age_group"
                " and b.source = m.source"
                " where m.indicator_code = 'homicide_victims_counted_yearly'"
            ).fetchall(),
            "bi_rules": conn.execute(
                "select indicator_code, min_cell_size, decimals, min_stable_numerator"
                " from bi.dim_indicator"
            ).fetchall(),
            "cells_by_sex": conn.execute(
                "select indicator_code, municipality_code, month, sex, numerator, denominator,"
                " value from marts.mart_indicators_monthly"
                " where source = 'police:snic' and sex <> 'all' and age_group = 'all'"
            ).fetchall(),
            "quarantine": conn.execute(
                "select column_name, reason, offending_value from ops.quarantine"
                " where batch_id = %s",
                (snic.batch_id,),
            ).fetchall(),
            "spine": [
                r[0]
                for r in conn.execute(
                    "select distinct month from intermediate.int_indicator_spine order by 1"
                ).fetchall()
            ],
        }
    yield {"profile": profile, "reference": reference, "snic": snic, **found}
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)


def test_the_fixture_file_holds_the_values_written_here(argentina):
    path = argentina["profile"].folder / SNIC_FILE
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    victims = ("cantidad_victimas_masc", "cantidad_victimas_fem", "cantidad_victimas_sd")
    read = [
        (
            r["departamento_id"],
            int(r["anio"]),
            r["codigo_delito_snic_id"],
            tuple(int(r[c]) for c in victims) if r[victims[0]] else None,
        )
        for r in rows
    ]
    assert read == SNIC_ROWS
    # cantidad_victimas is the sum of the three sexes' columns wherever it is published.
    assert all(
        int(r["cantidad_victimas"]) == sum(int(r[c]) for c in victims)
        for r in rows
        if r["cantidad_victimas"]
    )


def test_reference_and_snic_load_through_their_contracts_and_the_gate(argentina):
    summary = [(r.source, r.status, r.rows_read, r.rows_loaded) for r in argentina["reference"]]
    assert summary == [
        ("georef__departments", "loaded", len(CELLS), len(CELLS)),
        ("observatorio__municipality_aliases", "loaded", 3, 3),
        ("observatorio__population", "loaded", 2 * 2 * GROUPS * len(CELLS), 340),
        ("observatorio__national_offences", "loaded", 3, 3),
    ]
    snic = argentina["snic"]
    # Each source row is unpivoted into three (one per sex); the unknown department's three
    # are quarantined with its code in the reason, nothing dropped.
    read, unknown = 3 * len(SNIC_ROWS), 3
    assert (snic.status, snic.rows_read, snic.rows_loaded, snic.rows_quarantined) == (
        "loaded", read, read - unknown, unknown,
    )  # fmt: skip
    assert snic.count_loaded == sum(
        sum(victims) for dept, _, _, victims in SNIC_ROWS if victims and dept != UNKNOWN
    )
    reason = f"municipality code {UNKNOWN} is not in the geography of profile {PROFILE}"
    quarantined = [tuple(r) for r in argentina["quarantine"]]
    assert quarantined == [("municipality_code", reason, UNKNOWN)] * unknown


def test_the_interface_has_the_victims_by_sex_of_each_published_row(argentina):
    expected = [
        (dept, date(year, 1, 1), "year", offence, ICCS.get(offence), sex, "victims", n,
         "police:snic")
        for dept, year, offence, victims in SNIC_ROWS
        if victims is not None and dept != UNKNOWN
        for sex, n in zip(("F", "M", None), (victims[1], victims[0], victims[2]), strict=True)
    ]  # fmt: skip
    assert [tuple(r) for r in argentina["interface"]] == expected
    assert len(expected) == 3 * 10


def test_the_yearly_homicide_cells_count_the_victims_of_the_year_in_its_january(argentina):
    assert argentina["spine"] == MONTHS
    cells = {
        (code, muni, month): (sex, age, numerator, denominator, value)
        for code, muni, month, sex, age, _source, numerator, denominator, value in argentina[
            "cells"
        ]
    }
    # The monthly published-count indicators never count a yearly figure.
    assert {code for code, _, _ in cells} == {
        "homicide_victims_counted_yearly",
        "homicide_victims_counted_yearly_rate",
    }
    expected = {}
    for muni in CELLS:
        for month in MONTHS:
            year = int(month[:4])
            n = homicide_victims(muni, year) if month.endswith("-01") else 0
            den = population(muni, year)
            rate = (Decimal(n) * 100000 / Decimal(den)).quantize(
                Decimal("0.000001"), rounding=ROUND_HALF_UP
            )
            expected[("homicide_victims_counted_yearly", muni, month)] = ("all", "all", n, None, n)
            expected[("homicide_victims_counted_yearly_rate", muni, month)] = (
                "all", "all", n, den, rate,
            )  # fmt: skip
    assert cells == expected
    # By hand, two cells: Almirante Brown 2022 (9 + 2 + 1 homicide victims; the 22 of the
    # attempted homicides are not), over 17 * (9,000 + 9,500) people.
    assert cells[("homicide_victims_counted_yearly_rate", "06028", "2022-01")] == (
        "all", "all", 12, 314_500, Decimal("3.815580"),
    )  # fmt: skip
    # La Plata published nothing in 2022: a 0, not a missing cell.
    assert cells[("homicide_victims_counted_yearly", "06441", "2022-01")][2] == 0


def test_the_yearly_homicide_victims_by_sex_are_the_published_sex_columns(argentina):
    """SNIC spreads victims over `cantidad_victimas_masc`, `_fem` and `_sd`: the mart has
    each sex's cell (`unknown` for `sd`, counted, with no population and so no rate), and a
    rate by sex divides by the population of that sex."""
    counts: dict[tuple[str, str, str], int] = {}
    for dept, year, offence, victims in SNIC_ROWS:
        if dept == UNKNOWN or not victims or not ICCS.get(offence, "").startswith("0101"):
            continue
        for sex, n in zip(("M", "F", "unknown"), victims, strict=True):
            key = (dept, f"{year}-01", sex)
            counts[key] = counts.get(key, 0) + n
    published = {
        (code, muni, month, sex): (numerator, denominator, value)
        for code, muni, month, sex, numerator, denominator, value in argentina["cells_by_sex"]
        if numerator > 0
    }
    expected: dict[tuple[str, str, str, str], tuple[object, object, object]] = {}
    for (muni, month, sex), n in counts.items():
        if not n:
            continue
        expected[("homicide_victims_counted_yearly", muni, month, sex)] = (n, None, n)
        if sex != "unknown":
            men, women = CELLS[muni]
            people = GROUPS * ((men if sex == "M" else women) + 10 * (int(month[:4]) - 2022))
            rate = (Decimal(n) * 100000 / Decimal(people)).quantize(
                Decimal("0.000001"), rounding=ROUND_HALF_UP
            )
            expected[("homicide_victims_counted_yearly_rate", muni, month, sex)] = (
                n, people, rate,
            )  # fmt: skip
    rates_of_unknown = {k: v for k, v in published.items() if k[3] == "unknown" and v[2] is None}
    assert {k: v for k, v in published.items() if k not in rates_of_unknown} == expected
    # By hand: Almirante Brown 2022, 9 men among the 12 homicide victims, over 17 x 9,000 men.
    assert published[("homicide_victims_counted_yearly_rate", "06028", "2022-01", "M")] == (
        9, 153_000, Decimal("5.882353"),
    )  # fmt: skip


def test_the_country_s_publication_rules_flag_and_suppress_its_cells(argentina):
    """`publication: {min_cell_size: 5, min_stable_numerator: 40}` (the project's: 10 and
    20): a yearly rate on 30 or 31 victims is unstable here, a count of 5 to 9 is shown in
    BI unless a complementary suppression hides it, and BI's indicator table states the
    rules as the Python definitions resolve them for the profile."""
    from observatorio.indicators.definitions import load_definitions, publication_defaults

    rules = argentina["profile"].publication
    assert rules == {"min_cell_size": 5, "min_stable_numerator": 40}
    project = publication_defaults(country={})
    assert (project["min_cell_size"], project["min_stable_numerator"]) == (10, 20)
    rates = argentina["rates"]
    assert rates and all(unstable == (n < 40) for n, unstable in rates)
    # Cells the project's rule calls stable and the country's not: 30 and 31 victims.
    assert {int(n) for n, unstable in rates if unstable and n >= 20} >= {30, 31}
    bi = [(int(n), hidden) for n, hidden in argentina["bi"]]
    assert all(hidden for n, hidden in bi if 1 <= n < 5)
    assert any(not hidden for n, hidden in bi if 5 <= n < 10)
    definitions = load_definitions(country=rules)
    expected = {
        (
            i.code,
            i.publication.min_cell_size,
            i.publication.decimals,
            i.publication.min_stable_numerator if i.has_poisson_interval else None,
        )
        for i in definitions.indicators
    }
    assert set(argentina["bi_rules"]) == expected
    assert ("homicide_victims_counted_yearly_rate", 5, 1, 40) in expected
