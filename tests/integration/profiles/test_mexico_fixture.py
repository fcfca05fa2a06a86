"""The Mexico fixture profile end to end: published layouts in, indicator cells out.

`profiles/mexico_fixture` gives INEGI's catalogue of municipalities (five municipalities of
Aguascalientes and Yucatán), CONAPO's 2024 projections, the SESNSP subtypes' ICCS codes,
and SESNSP's two files for January to March 2024: the incidence by municipality (a ZIP,
offences counted per month) and the victims by state, sex and age range (files written by
`tests/fixtures/layouts/make_fixtures.py`). One build per module: the profile's reference
files and sources go through the real loader and gate (`load_reference`, `ingest_file`),
then dbt builds the indicator mart for the profile. Every cell checked is worked out here
from the fixture's values.
"""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import date
from typing import Any

import pytest

from tests.fixtures.layouts import make_fixtures as fx

PROFILE = "mexico_fixture"
MONTHS = ["2024-01", "2024-02", "2024-03"]  # the months SESNSP has published (the spine)
MUNICIPALITIES = ["01001", "01005", "01011", "31050", "31102"]

# Offences counted under an ICCS 0101 subtype (Homicidio doloso, Feminicidio), per
# municipality and month, from fx.MX_INCIDENCE_ROWS: Homicidio culposo (01032) and the
# robbery (0501) count nowhere; 01011 publishes zeros, 31102 publishes nothing.
EVENTS = {
    ("01001", "2024-01"): 3 + 1 + 0,  # firearm, knife, feminicide
    ("01001", "2024-02"): 1 + 0 + 1,
    ("01001", "2024-03"): 0 + 2 + 0,
    ("01005", "2024-03"): 1,
    ("31050", "2024-01"): 2,
    ("31050", "2024-03"): 1,
}
# CONAPO 2024: 14 age groups per sex, each cell (men, women) as fx.CONAPO_CELLS writes it.
POPULATION = {
    "01001": 14 * 35000 + 14 * 37000,
    "01005": 14 * 5000 + 14 * 5200,
    "01011": 14 * 2000 + 14 * 2100,
    "31050": 14 * 32000 + 14 * 34000,
    "31102": 14 * 3000 + 14 * 3200,
}


@pytest.fixture(scope="module")
def mexico(settings, warehouse_url):  # type: ignore[no-untyped-def]
    import psycopg

    from observatorio.orchestration.ingest import ingest_file
    from observatorio.orchestration.reference import load_reference, validated_profile
    from observatorio.transform.dbt import run_dbt
    from tests.conftest import _truncate

    chosen = dataclasses.replace(settings, profile=PROFILE)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    profile = validated_profile(chosen)
    reference = load_reference(profile, chosen)
    sources = {
        contract: ingest_file(contract, path, chosen)
        for contract in profile.active_contracts()
        for path in sorted((profile.folder / "landing" / contract).iterdir())
    }
    # What the mart needs; of the data tests, those of the profile's reference tables (the
    # other models' tests do not depend on the country and run in their own suites).
    mart = ["--select", "+mart_indicators_monthly"]
    run_dbt(["build", *mart, "--exclude-resource-type", "test", "unit_test"], chosen)
    tables = ["--select", "path:models/intermediate/reference", "--indirect-selection", "cautious"]
    run_dbt(["test", *tables], chosen)
    with psycopg.connect(warehouse_url) as conn:
        cells = conn.execute(
            "select indicator_code, municipality_code, month, source, numerator, denominator,"
            " value from marts.mart_indicators_monthly"
            " where indicator_code like 'homicide_%_counted%'"
            " and sex = 'all' and age_group = 'all'"
        ).fetchall()
        spine = conn.execute(
            "select municipality_code, month, population from intermediate.int_indicator_spine"
        ).fetchall()
        names = conn.execute(
            "select municipality_code, municipality_name, department_code, department_name,"
            " valid_from from intermediate.int_municipalities order by 1"
        ).fetchall()
    yield {
        "settings": chosen,
        "reference": reference,
        "sources": sources,
        "cells": cells,
        "spine": spine,
        "names": names,
    }
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)


def test_reference_and_source_files_load_through_their_contracts(mexico):
    summary = [(r.source, r.status, r.rows_read, r.rows_loaded) for r in mexico["reference"]]
    assert summary == [
        ("inegi__municipalities", "loaded", 5, 5),
        ("observatorio__municipality_aliases", "loaded", 2, 2),
        ("conapo__population_projections", "loaded", 5 * 2 * 14, 5 * 2 * 14),
        ("observatorio__national_offences", "loaded", 4, 4),
    ]
    incidence = mexico["sources"]["sesnsp__municipal_incidence"]
    # Eight rows of twelve months each; only January to March carry counts.
    assert (incidence.status, incidence.rows_read, incidence.rows_loaded) == ("loaded", 96, 96)
    assert incidence.count_loaded == sum(
        int(cell) for row in fx.MX_INCIDENCE_ROWS for cell in row[9:] if cell
    )
    assert incidence.count_loaded == (3 + 1 + 0) + (1 + 0 + 2) + (0 + 1 + 0) + (4 + 2 + 3) + (
        0 + 0 + 1
    ) + 0 + (2 + 0 + 1) + (5 + 6 + 7)
    victims = mexico["sources"]["sesnsp__state_victims"]
    assert (victims.status, victims.rows_read, victims.rows_loaded) == ("loaded", 72, 72)
    assert victims.count_loaded == 5 + 1 + 1 + 1 + 3 + 1


def test_the_geography_and_population_are_the_profile_s(mexico):
    since = date(2020, 1, 1)  # the edition's `valid_from` in profile.yaml
    assert [tuple(r) for r in mexico["names"]] == [
        ("01001", "Aguascalientes", "01", "Aguascalientes", since),
        ("01005", "Jesús María", "01", "Aguascalientes", since),
        ("01011", "San Francisco de los Romo", "01", "Aguascalientes", since),
        ("31050", "Mérida", "31", "Yucatán", since),
        ("31102", "Valladolid", "31", "Yucatán", since),
    ]
    # Every municipality in every published month, with CONAPO's 2024 population.
    assert sorted(tuple(r) for r in mexico["spine"]) == [
        (code, month, POPULATION[code]) for code in MUNICIPALITIES for month in MONTHS
    ]
    assert POPULATION["01001"] == 1_008_000


def _cells(mexico: dict[str, Any], indicator: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (muni, month): (source, numerator, denominator, value)
        for code, muni, month, source, numerator, denominator, value in mexico["cells"]
        if code == indicator
    }


def test_homicide_events_counted_are_the_published_offences_by_municipality_month(mexico):
    cells = _cells(mexico, "homicide_events_counted")
    # Dense over the spine; a count has no denominator and its value is its numerator.
    expected = {
        (code, month): ("police:sesnsp", n, None, n)
        for code in MUNICIPALITIES
        for month in MONTHS
        for n in [EVENTS.get((code, month), 0)]
    }
    assert cells == expected
    assert cells[("01001", "2024-01")][1] == 4
    assert cells[("01011", "2024-02")][1] == 0  # published as 0
    assert cells[("31102", "2024-03")][1] == 0  # nothing published: 0 over the spine


def test_victims_by_state_feed_no_municipal_cell(mexico):
    # SESNSP counts victims per state only: neither the victims count nor its rate has a
    # cell from it (a state total is never published as a municipality's).
    for indicator in ("homicide_victims_counted", "homicide_victims_counted_rate"):
        assert not [v for v in _cells(mexico, indicator).values() if v[0] == "police:sesnsp"]


def test_the_profile_s_offence_table_is_the_correspondence_the_counts_use(mexico):
    import csv

    offences = mexico["settings"].project_dir / "profiles" / PROFILE / "reference"
    with (offences / fx.OFFENCES_FILE).open(encoding="utf-8", newline="") as f:
        rows = [list(r.values()) for r in csv.DictReader(f)]
    assert rows == fx.sesnsp_offences()
    assert ["Feminicidio", "Feminicidio", "0101"] in rows


def test_a_municipality_code_outside_the_geography_is_quarantined(mexico, warehouse_url, tmp_path):
    import psycopg

    from observatorio.orchestration.ingest import ingest_file

    unknown = ["2024", "31", "Yucatán", "31999", "Otros municipios",
               "La vida y la Integridad corporal", "Homicidio", "Homicidio doloso",
               "Con arma de fuego", "1", "2", "0", *[""] * 9]  # fmt: skip
    path = tmp_path / "Municipal-Delitos-2015-2024_abr2024.zip"
    content = fx.sesnsp_csv(fx.SESNSP_HEADER, [*fx.MX_INCIDENCE_ROWS, unknown])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(fx.MX_INCIDENCE_MEMBER, content)
    result = ingest_file("sesnsp__municipal_incidence", path, mexico["settings"])
    # The row's twelve months are quarantined, the known municipalities' rows loaded.
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded", 9 * 12, 8 * 12, 12,
    )  # fmt: skip
    assert (
        "Municipal-Delitos-2015-2024_abr2024.zip: 12 rows quarantined: municipality codes not"
        " in the geography of profile mexico_fixture: 31999"
    ) in result.warnings
    with psycopg.connect(warehouse_url) as conn:
        quarantined = conn.execute(
            "select column_name, reason, offending_value from ops.quarantine where batch_id = %s",
            (result.batch_id,),
        ).fetchall()
    reason = "municipality code 31999 is not in the geography of profile mexico_fixture"
    assert [tuple(r) for r in quarantined] == [("municipality_code", reason, "31999")] * 12
