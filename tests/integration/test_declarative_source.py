"""Proof that a new source is a contract, not code (issue 15, item 6).

In a copy of the project (its git files), one contract file and one fixture in a layout the
project has never seen (a `;` CSV in latin-1, the twelve months in columns, each cell a count
of victims with `.` as thousands separator, municipality and offence codes that lost their
leading zeros) are added, with the rows of its national offence codes in the correspondence
seed (data). Then, in the copy: ingestion (claim, stage, the generated gate, publish), the
dbt sources generated from the contracts, and `dbt build` of the indicator mart. The cells
it feeds equal what this test computes from the fixture by hand, labelled with the new
source, and no `.py` or `.sql` file was added or changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = """\
# A national statistics office's monthly police cases by municipality (comuna), as its
# yearly file publishes them: `;`, latin-1, one row per municipality and offence, the
# months in columns, each cell a number of victims.
source: cead
entity: monthly_victims
description: >
  Victims of reported offences per municipality, year and offence code, months in columns
  (ENE ... DIC), unpivoted into one row per month whose `victims` counts them.
format: csv
delimiter: ";"
encodings: [latin-1]
file_pattern: "cead_*.csv"
unknown_columns: reject
schedule: "0 7 * * *"
unpivot:
  columns: [ENE, FEB, MAR, ABR, MAY, JUN, JUL, AGO, SEP, OCT, NOV, DIC]
  key: MES
  value: VICTIMAS
columns:
  - {name: municipality_code, source: CUT, type: text, required: true,
     normalise: [{pad_left: 5}], pattern: "^[0-9]{5}$"}
  - {name: municipality, source: COMUNA, type: text}
  - {name: year, source: "AÑO", type: integer, required: true, min: 2000, max: 2100}
  - {name: offence_code, source: COD_DELITO, type: text, required: true,
     normalise: [{pad_left: 3}]}
  - name: month
    source: MES
    type: integer
    required: true
    map: {ENE: 1, FEB: 2, MAR: 3, ABR: 4, MAY: 5, JUN: 6, JUL: 7, AGO: 8, SEP: 9, OCT: 10,
          NOV: 11, DIC: 12}
  - {name: victims, source: VICTIMAS, type: integer, count: true,
     numeric: {thousands: ".", decimal: ","}}
interface:
  crime_counts:
    source_system: "police:cead"
    correspondence: cead
    columns:
      municipality_code: municipality_code
      year: year
      month: month
      national_offence_code: offence_code
      count: victims
    constants:
      counting_unit: victims
"""
MONTHS = ["ENE", "FEB", "MAR", "ABR", "MAY", "JUN", "JUL", "AGO", "SEP", "OCT", "NOV", "DIC"]
# CUT, COMUNA, AÑO, COD_DELITO, then the twelve months ("" = not published yet).
ROWS = [
    ["1001", "San José", "2024", "1", "3", "2", "1", "", "", "", "", "", "", "", "", ""],
    ["1002", "Santa Rosa", "2024", "1", "0", "5", "4", "", "", "", "", "", "", "", "", ""],
    ["1001", "San José", "2024", "4", "1.020", "7", "9", "", "", "", "", "", "", "", "", ""],
    ["2001", "Río Claro", "2024", "1", "1", "", "2", "", "", "", "", "", "", "", "", ""],
]
# The new correspondence: national offence code (as normalised) → ICCS, as seed rows.
CORRESPONDENCE = ["cead,001,Homicidio,0101", "cead,004,Robo con violencia,0401"]
HOMICIDE_CODES = {"001"}

DRIVER = """
import json, shutil, sys
from pathlib import Path
from observatorio.core.settings import get_settings
from observatorio.orchestration import ingest as tasks
from observatorio.transform import sources
from observatorio.transform.dbt import run_dbt
from simulator.demo import Demo, land_exports, simulate

settings = get_settings()
assert settings.project_dir == Path.cwd(), settings.project_dir
shutil.rmtree(settings.landing_dir, ignore_errors=True)
land_exports(settings, simulate(settings, Demo(seed=3, scale="tiny", days=60)))
drop = settings.landing_dir / "cead" / "monthly_victims"
drop.mkdir(parents=True, exist_ok=True)
shutil.copy(sys.argv[1], drop)
reports = {}
for name in ("police__reports", "cead__monthly_victims"):
    reports[name] = tasks.report(tasks.publish(tasks.gate(tasks.stage(name, tasks.claim(name)))))
shutil.rmtree(settings.landing_dir, ignore_errors=True)
sources.main(["--project-dir", str(settings.project_dir)])
# What the mart needs, and only the tests of what was built.
run_dbt(["build", "--select", "+mart_indicators_monthly", "--indirect-selection", "cautious"])
print("REPORTS " + json.dumps(reports))
"""


def _git(copy: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(copy), *args], check=True, capture_output=True, text=True
    ).stdout


def _copy_project(target: Path) -> Path:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    _git(target, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy")
    return target


@pytest.fixture(scope="module")
def new_source(settings, warehouse_url, tmp_path_factory):
    import psycopg

    from tests.conftest import _truncate

    copy = _copy_project(tmp_path_factory.mktemp("project"))
    (copy / "ingestion" / "contracts" / "cead__monthly_victims.yaml").write_text(CONTRACT, "utf-8")
    seed = copy / "dbt_project" / "seeds" / "ref_offence_correspondences.csv"
    seed.write_text(seed.read_text("utf-8") + "\n".join(CORRESPONDENCE) + "\n", "utf-8")
    fixture = copy / "tests" / "fixtures" / "layouts" / "chile_cead" / "cead_2024.csv"
    fixture.parent.mkdir(parents=True)
    lines = [";".join(["CUT", "COMUNA", "AÑO", "COD_DELITO", *MONTHS])]
    fixture.write_bytes(
        ("\r\n".join(lines + [";".join(r) for r in ROWS]) + "\r\n").encode("latin-1")
    )

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    env = {**os.environ, "PYTHONPATH": str(copy)}
    # The copy parses another project into the session's dbt target (manifest, partial
    # parse state): keep the session's own and put it back, so later tests build this one.
    from observatorio.core.settings import get_settings

    target = get_settings().dbt_target_dir
    kept = tmp_path_factory.mktemp("dbt-target") / "target"
    if target.is_dir():
        shutil.copytree(target, kept)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", DRIVER, str(fixture)],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    finally:
        shutil.rmtree(target, ignore_errors=True)
        if kept.is_dir():
            shutil.copytree(kept, target)
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]
    reports = json.loads(completed.stdout.split("REPORTS ", 1)[1].splitlines()[0])
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select indicator_code, municipality_code, month, source, numerator, denominator,"
            " value from marts.mart_indicators_monthly"
            " where indicator_code like 'homicide_%_counted%'"
            " and sex = 'all' and age_group = 'all'"
        ).fetchall()
        ledger = conn.execute(
            "select rows_read, rows_loaded, rows_quarantined, count_loaded"
            " from ops.batch_ledger where source = 'cead__monthly_victims'"
        ).fetchall()
        spine_months = sorted(
            r[0]
            for r in conn.execute(
                "select distinct month from marts.mart_indicators_monthly"
                " where indicator_code = 'homicide_count_police'"
            ).fetchall()
        )
    yield {
        "copy": copy,
        "reports": reports,
        "rows": rows,
        "ledger": ledger,
        "spine_months": spine_months,
    }
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
        conn.execute("drop table if exists raw.cead__monthly_victims")


def _by_hand(spine_months: list[str]) -> dict[tuple[str, str], int]:
    """Homicide victims per (municipality, month) of the spine, from the fixture's cells."""
    counted: dict[tuple[str, str], int] = defaultdict(int)
    for cut, _name, year, offence, *months in ROWS:
        if offence.zfill(3) not in HOMICIDE_CODES:
            continue
        for number, cell in enumerate(months, start=1):
            month = f"{year}-{number:02d}"
            if cell and month in spine_months:
                counted[(cut.zfill(5), month)] += int(cell.replace(".", ""))
    return counted


def _population(copy: Path, year: str) -> dict[str, int]:
    import csv

    totals: dict[str, int] = defaultdict(int)
    with (copy / "dbt_project" / "seeds" / "ref_population.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["year"] == year:
                totals[row["municipality_code"]] += int(row["population"])
    return totals


def test_the_new_layout_is_ingested_through_the_generated_gate(new_source):
    assert new_source["reports"]["cead__monthly_victims"]["loaded"] == 1
    # One batch, nothing quarantined, every published cell counted (empty ones: no count).
    [(rows_read, rows_loaded, quarantined, count_loaded)] = new_source["ledger"]
    assert (rows_loaded, quarantined) == (rows_read, 0)
    assert count_loaded == sum(_all_cells())


def _all_cells() -> list[int]:
    return [int(c.replace(".", "")) for row in ROWS for c in row[4:] if c]


def test_the_indicator_cells_it_feeds_equal_the_fixture_counted_by_hand(new_source):
    spine_months = new_source["spine_months"]
    assert spine_months[:2] == ["2024-01", "2024-02"]
    expected = _by_hand(spine_months)
    assert sum(expected.values()) == 3 + 2 + 0 + 5 + 1  # March is outside the spine
    cells = {
        (code, muni, month): (source, numerator, denominator, value)
        for code, muni, month, source, numerator, denominator, value in new_source["rows"]
    }
    counts = {k: v for k, v in cells.items() if k[0] == "homicide_victims_counted"}
    assert counts, "no cells of the new source"
    assert {v[0] for v in counts.values()} == {"police:cead"}
    # Dense over the spine, zero where the fixture has no homicide; robbery counts nowhere.
    for (_code, muni, month), (_source, numerator, _d, value) in counts.items():
        assert numerator == expected.get((muni, month), 0), (muni, month)
        assert value == numerator
    assert counts[("homicide_victims_counted", "01001", "2024-01")][1] == 3
    assert counts[("homicide_victims_counted", "01002", "2024-02")][1] == 5
    population = _population(new_source["copy"], "2024")
    rates = {k: v for k, v in cells.items() if k[0] == "homicide_victims_counted_rate"}
    assert len(rates) == len(counts)
    for (muni, month), n in expected.items():
        _source, numerator, denominator, value = rates[
            ("homicide_victims_counted_rate", muni, month)
        ]
        assert (numerator, denominator) == (n, population[muni])
        by_hand = (Decimal(n) * 100000 / Decimal(population[muni])).quantize(
            Decimal("0.000001"), rounding=ROUND_HALF_UP
        )
        assert value == by_hand, (muni, month)
    # The source publishes no counts of events: that indicator has no cells of it.
    assert not [k for k in cells if k[0] == "homicide_events_counted"]


def test_no_python_or_sql_file_was_added_or_changed(new_source):
    changed = _git(new_source["copy"], "status", "--porcelain", "--untracked-files=all")
    paths = [line[3:] for line in changed.splitlines()]
    assert not [p for p in paths if p.endswith((".py", ".sql"))], paths
    # What did change: the contract, its fixture, the seed's rows and the generated sources.
    assert "ingestion/contracts/cead__monthly_victims.yaml" in paths
    assert "dbt_project/models/staging/_contracts__sources.yml" in paths
    assert "dbt_project/seeds/ref_offence_correspondences.csv" in paths


def test_the_new_contract_also_gets_its_ingest_dag(new_source):
    from observatorio.transform.contract_dags import contracts_without_dag

    copy = new_source["copy"]
    found = contracts_without_dag(copy / "ingestion" / "contracts", copy / "dags")
    assert [(d.dag_id, d.schedule) for d in found] == [
        ("ingest_cead__monthly_victims", "0 7 * * *")
    ]
