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

DEMO = Demo(seed=3, scale="tiny", days=90)
# Police indicators are always there; others join as their sources are modelled.
REQUIRED = {
    "homicide_count_police",
    "femicide_count",
    "intrafamily_violence_reports",
    "sexual_violence_reports",
    "firearm_homicides_police",
    "child_maltreatment_victims",
    "robbery_reports",
    "burglary_reports",
    "theft_reports",
    "vehicle_theft_reports",
    "kidnapping_reports",
    "extortion_reports",
    "homicide_count_health",
    "legal_intervention_deaths",
    "homicide_count_sdg",
    "suicide_count_health",
    "road_traffic_deaths_health",
    "firearm_deaths_health",
}


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
                " where indicator_code = 'homicide_count_police' limit 1)"
            )
            conn.execute(
                "delete from marts.mart_indicators_monthly where ctid = (select ctid from"
                " marts.mart_indicators_monthly where indicator_code = 'femicide_rate' limit 1)"
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
