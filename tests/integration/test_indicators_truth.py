"""The warehouse's indicators against the simulator's ground truth, on a fixed seed.

Every indicator the mart publishes and the truth knows must have exactly the truth's
numerator in every municipality-month (zeros included). Where a count cannot equal the
truth by design, the documented relationship is asserted instead.
"""

import csv
import shutil
from collections import defaultdict

import pytest

from ingestion.connectors import rest, sql
from ingestion.contract import available_contracts
from observatorio.orchestration import ingest as tasks
from observatorio.transform.dbt import build
from simulator.demo import Demo, demo_source_systems, land_exports, simulate
from simulator.truth import INDICATORS as TRUTH_INDICATORS

DEMO = Demo(seed=3, scale="tiny", days=90)
# Every indicator the simulator's truth counts is one the mart publishes (`homicide_true`,
# every homicide that happened, is the truth's own yardstick, not an indicator).
REQUIRED = set(TRUTH_INDICATORS) - {"homicide_true"}


@pytest.fixture(scope="module")
def warehouse_and_truth(settings, warehouse_url):
    import psycopg

    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    # Other tests leave files in the shared landing folder (some spoiled on purpose).
    shutil.rmtree(settings.landing_dir, ignore_errors=True)
    simulation = simulate(settings, DEMO)
    land_exports(settings, simulation)
    with demo_source_systems(settings, simulation):
        # The SQL and REST sources are pulled by their connectors, as the DAGs do.
        for name in available_contracts():
            if name.startswith("justice__"):
                sql.extract(name)
            elif name.startswith("health__"):
                rest.pull(name)
    for name in available_contracts():
        tasks.report(tasks.publish(tasks.gate(tasks.stage(name, tasks.claim(name)))))
    build(settings)
    truth: dict[tuple[str, str, str], int] = {}
    with (simulation / "truth" / "indicators.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            truth[(row["indicator_code"], row["municipality_code"], row["month"])] = int(
                row["value"]
            )
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select indicator_code, municipality_code, month, numerator"
            " from marts.mart_indicators_monthly where sex = 'all' and age_group = 'all'"
        ).fetchall()
    mart = {(code, muni, month): int(n) for code, muni, month, n in rows}
    return mart, truth


def test_every_shared_indicator_equals_the_truth_in_every_cell(warehouse_and_truth):
    mart, truth = warehouse_and_truth
    shared = {k[0] for k in mart} & {k[0] for k in truth}
    assert shared >= REQUIRED
    mismatches = defaultdict(list)
    for key, value in truth.items():
        if key[0] in shared and mart.get(key) != value:
            mismatches[key[0]].append((key[1:], value, mart.get(key)))
    assert not mismatches, {code: cells[:5] for code, cells in mismatches.items()}
    cells = sum(1 for key in truth if key[0] in shared)
    assert cells >= len(REQUIRED) * 60 * 3  # 60 municipalities, 3 months, at least


def test_police_never_count_more_homicides_than_happened(warehouse_and_truth):
    # Hidden homicides never reach the police, and a victim who dies after the period is
    # still an assault there: police counts are a lower bound of the true count.
    mart, truth = warehouse_and_truth
    true_counts = {k[1:]: v for k, v in truth.items() if k[0] == "homicide_true"}
    police = {k[1:]: v for k, v in mart.items() if k[0] == "homicide_count_police"}
    assert all(police.get(cell, 0) <= true for cell, true in true_counts.items())
    assert sum(true_counts.values()) >= sum(police.values()) > 0


def test_counts_add_up_across_areas_sexes_and_age_groups(warehouse_and_truth, warehouse_url):
    """For every count indicator: municipalities add up to their department, departments to
    the nation, the sexes to `all` and the age groups to `all` (and within each sex), in
    every cell of every level (a missing sparse cell is a 0)."""
    import psycopg

    from observatorio.indicators.definitions import load_definitions

    definitions = load_definitions()
    counts = [i for i in definitions.indicators if i.kind == "count"]
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select 'municipality', m.municipality_code, d.department_code, m.indicator_code,"
            " m.month, m.sex, m.age_group, m.source, m.numerator"
            " from marts.mart_indicators_monthly as m"
            " inner join marts.dim_municipality as d using (municipality_code)"
            " where m.indicator_code = any(%s)"
            " union all"
            " select area_level, area_code, area_code, indicator_code, month, sex, age_group,"
            " source, numerator from marts.mart_indicators_monthly_areas"
            " where indicator_code = any(%s)",
            ([i.code for i in counts], [i.code for i in counts]),
        ).fetchall()
    cells: dict[tuple[str, ...], int] = {}
    department_of: dict[str, str] = {}
    for level, area, department, code, month, sex, age, source, numerator in rows:
        cells[(level, area, code, month, sex, age, source)] = int(numerator)
        if level == "municipality":
            department_of[area] = department
    # Each level's sums over its parts: (parent level, parent) for every child cell.
    summed: dict[tuple[str, ...], int] = defaultdict(int)
    for (level, area, *cell), value in cells.items():
        if level == "municipality":
            summed[("department", department_of[area], *cell)] += value
        elif level == "department":
            summed[("national", "all", *cell)] += value
    parents = {k for k in cells if k[0] != "municipality"} | set(summed)
    assert {k: (cells.get(k, 0), summed[k]) for k in parents if cells.get(k, 0) != summed[k]} == {}
    # The breakdowns: parts of sex (for one age group) and of age group (for one sex).
    by_sex: dict[tuple[str, ...], int] = defaultdict(int)
    by_age: dict[tuple[str, ...], int] = defaultdict(int)
    for (level, area, code, month, sex, age, source), value in cells.items():
        if sex != "all":
            by_sex[(level, area, code, month, "all", age, source)] += value
        if age != "all":
            by_age[(level, area, code, month, sex, "all", source)] += value
    for parts in (by_sex, by_age):
        assert {k: (cells.get(k, 0), v) for k, v in parts.items() if cells.get(k, 0) != v} == {}
    # Every counted indicator whose facts record sex has its parts, and they are not trivial.
    counted = {k[2] for k, v in cells.items() if v > 0}
    broken_down = {i.code for i in counts if "sex" in i.disaggregations} & counted
    assert broken_down >= {
        "homicide_count_police",
        "firearm_homicides_police",
        "homicide_count_health",
        "homicide_count_sdg",
    }
    assert broken_down <= {k[2] for k in by_sex}
    assert sum(1 for k in cells if k[4] in {"M", "F"} and k[5] not in {"all", "unknown"}) > 50


def test_mart_checkpoint_passes_then_catches_negative_missing_and_unreconciled(
    warehouse_and_truth, warehouse_url
):
    import psycopg

    from expectations.marts import MartCheckFailed, check_marts

    assert all(not o.rejects for o in check_marts())
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create table marts.indicators_backup as table marts.mart_indicators_monthly")
        try:
            conn.execute(
                "update marts.mart_indicators_monthly set numerator = numerator + 1, value = -1"
                " where ctid = (select ctid from marts.mart_indicators_monthly"
                " where indicator_code = 'homicide_count_police' and sex = 'all'"
                " and age_group = 'all' limit 1)"
            )
            conn.execute(
                "delete from marts.mart_indicators_monthly where ctid = (select ctid from"
                " marts.mart_indicators_monthly where indicator_code = 'femicide_rate'"
                " and sex = 'all' and age_group = 'all' limit 1)"
            )
            with pytest.raises(MartCheckFailed) as failure:
                check_marts()
            message = str(failure.value)
            assert "expect_column_min_to_be_between(value)" in message
            assert "marts__indicators__totals" in message
            assert "marts__indicators__completeness" in message
        finally:
            conn.execute("truncate marts.mart_indicators_monthly")
            conn.execute(
                "insert into marts.mart_indicators_monthly select * from marts.indicators_backup"
            )
            conn.execute("drop table marts.indicators_backup")


def test_the_bulletin_of_the_simulated_warehouse_speaks_spanish_and_maps(
    warehouse_and_truth, settings, warehouse_url
):
    """The bulletin printed from this real warehouse (simulated, ingested, built): no
    internal code or ISO date in its text, the period in words and the data cut-off on the
    cover, municipality names beside codes, the map drawn. Pages are saved as PNG under
    /tmp/bulletin_pages/ for the issue note."""
    import re
    import time

    import psycopg

    from observatorio.delivery.bulletin import publish_bulletin
    from observatorio.delivery.bulletin.labels import day_words, period_words
    from tests.integration.test_bulletin import PAGES, _codes_shown, _pages, save_pages

    started = time.monotonic()
    result = publish_bulletin(None, settings)
    seconds = time.monotonic() - started
    with psycopg.connect(warehouse_url) as conn:
        period, cut_off = conn.execute(
            "select (select max(month) from marts.mart_indicators_monthly),"
            " (select max(finished_at) from ops.batch_ledger where status = 'loaded')"
        ).fetchone()
    assert result.period == period
    assert result.panels["homicide_map"] == "drawn"
    assert result.panels["municipality_ranking"] == "drawn"
    pages = _pages(result.pdf)
    assert _codes_shown("\n".join(pages)) == []
    cover = " ".join(pages[0].split())
    assert period_words(period).capitalize() in cover
    assert f"Datos al {day_words(cut_off)}" in cover
    assert re.search(r"\b[A-ZÁÉÍÓÚ][\w ]+ \(\d{5}\)", "\n".join(pages))
    assert len(save_pages(result.pdf, PAGES, "simulated")) >= 4
    # Rendering the whole bulletin (charts, map, Chromium's print) stays quick.
    assert seconds < 120, f"the bulletin took {seconds:.0f} s"
