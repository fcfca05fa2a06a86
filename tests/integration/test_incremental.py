"""Incremental facts: a sequence of batches built incrementally gives, row for row, the marts a
`--full-refresh` build gives (late data, a correction and a reclassification included), and
`plan_build` decides between nothing, an incremental build and a full refresh."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any

from observatorio.orchestration.ingest import ingest_file
from observatorio.transform.builds import plan_build, record_build
from observatorio.transform.dbt import build, run_dbt
from tests.police_files import national_id, report_row, write_reports

# The classified police reports and everything built from them (the incremental police facts,
# the snapshot, the monthly mart, indicator contributions and mart, reconciliation), with their
# tests: what a police batch changes.
AFFECTED = ["--select", "int_crime_report_versions_classified+"]
# A test of a model that names its `changed_records` (dbt macro get_where_subquery), and one
# of a model with other rows too (the funnel's cases), whose report rows alone are scoped.
SCOPED_TEST = "unique_int_justice_reports_registered_report_id"
FUNNEL_TEST = "unique_combination_int_indicator_facts__justice_funnel_stage__counted_id"
FEW_CONSTANTS = ["--vars", "{changed_records_max_constants: 1}"]
# The code map (a seed) is upstream of them: a build that reclassifies reloads it and
# rebuilds everything downstream of it.
CODE_MAP = "ref_national_offences"


def _ingest(settings: Any, folder: Path, name: str, rows: list[list[str]]) -> None:
    path = write_reports(folder / name, rows)
    assert ingest_file("police__reports", path, settings).status == "loaded"


def _mart_tables(db: Any) -> list[str]:
    """Every table a build keeps: the marts (facts, contributions, indicator marts), `bi` and
    the intermediate tables (the registered police reports)."""
    rows = db.execute(
        "select schemaname || '.' || tablename from pg_tables"
        " where schemaname in ('marts', 'bi', 'intermediate') order by 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _copy_name(schema: str, table: str) -> str:
    return f"{schema}.{table.replace('.', '__')}"


def _snapshot(db: Any, schema: str) -> None:
    """Copy every mart into `schema`, each row as its text form (comparable for any type)."""
    db.execute(f"drop schema if exists {schema} cascade")
    db.execute(f"create schema {schema}")
    for table in _mart_tables(db):
        db.execute(
            f"create table {_copy_name(schema, table)} as select t::text as r from {table} t"
        )


def _differences(db: Any, schema: str) -> dict[str, tuple[int, int]]:
    """Per mart, rows only in the snapshot and rows only in the current table (EXCEPT ALL)."""
    found = {}
    for table in _mart_tables(db):
        current = f"(select t::text as r from {table} t)"
        copy = _copy_name(schema, table)
        only_before = db.execute(
            f"select count(*) from (select r from {copy} except all"
            f" select r from {current} as c) as d"
        ).fetchone()[0]
        only_now = db.execute(
            f"select count(*) from (select r from {current} as c except all"
            f" select r from {copy}) as d"
        ).fetchone()[0]
        if only_before or only_now:
            found[table] = (only_before, only_now)
    return found


def _scoped_test_sql(results: Any, name: str = SCOPED_TEST) -> str:
    """The SQL the build ran for the node `name` (SCOPED_TEST unless told)."""
    sql = [r.node.compiled_code for r in results.results if r.node.name == name]
    assert len(sql) == 1, f"{name} did not run"
    return str(sql[0])


def _materialized(db: Any, table: str) -> int:
    return int(db.execute(f"select count(*) from marts.{table}").fetchone()[0])


def _planned_rows(db: Any, table: str) -> int:
    """The rows the planner believes `table` holds: its count at its last ANALYZE."""
    return int(
        db.execute(f"select reltuples from pg_class where oid = '{table}'::regclass").fetchone()[0]
    )


def _assert_reports_read_by_number(db: Any, compiled: str) -> None:
    """The police facts list the changed reports' numbers besides their victims (macro
    changed_records_filter's `within`), and a number reaches the raw table's index through
    the versions' windows (macro police_versions_resolved): without seq scans, the plan then
    reads raw by an index, where a filter left above the windows could only scan."""
    assert re.search(r"report_id in \([^)]*'DEN-2024-0000011'", compiled), compiled
    with db.transaction():
        db.execute("set local enable_seqscan = off")
        plan = [
            str(row[0])
            for row in db.execute(
                "explain select * from intermediate.int_crime_reports_classified"
                " where report_id = 'DEN-2024-0000011'"
            ).fetchall()
        ]
    raw = [line for line in plan if re.search(r" on (raw\.)?police__reports", line)]
    assert raw and not any("Seq Scan" in line for line in raw), plan
    assert any("Index" in line for line in raw), plan


def _reclassified_project(settings: Any, root: Path) -> Any:
    """A copy of the project whose code map sends simple assault (CP-131) to another ICCS code."""
    shutil.copytree(settings.dbt_project_dir, root / "dbt_project", symlinks=True)
    # The country profile the build reads its reference tables' choice from (the demo's),
    # and the extract specs its recipients name.
    shutil.copytree(settings.project_dir / "profiles", root / "profiles", symlinks=True)
    shutil.copytree(settings.project_dir / "extracts", root / "extracts", symlinks=True)
    seed = root / "dbt_project" / "seeds" / "ref_national_offences.csv"
    lines = seed.read_text(encoding="utf-8").splitlines()
    changed = [
        ",".join([*line.split(",")[:-1], "020111"]) if line.startswith("CP-131,") else line
        for line in lines
    ]
    assert changed != lines
    seed.write_text("\n".join(changed) + "\n", encoding="utf-8")
    return dataclasses.replace(settings, project_dir=root)


def test_incremental_batches_equal_a_full_refresh(clean_warehouse, tmp_path, settings):
    db = clean_warehouse
    drops = tmp_path / "drops"
    drops.mkdir()
    # Batch 1, January: ten assaults and a homicide; the first build is a full one.
    _ingest(settings, drops, "denuncias_20240131.csv", [report_row(n) for n in range(1, 11)])
    plan = plan_build(settings)
    assert (plan.is_needed, plan.is_full_refresh) == (True, True), plan
    # No build recorded yet: every record is tested.
    assert "DEN-2024-0000001" not in _scoped_test_sql(build(settings))
    record_build(plan.as_json(), "test-1", settings)
    assert plan_build(settings).is_needed is False
    assert _materialized(db, "fct_crime_reports") == 10

    # Batch 2: February's reports and late data, a report of December recorded only now.
    late = report_row(
        20, fecha_hecho="20/12/2023", fecha_registro="02/02/2024 09:00", codigo_municipio="02001"
    )
    february = [report_row(n, fecha_hecho="03/02/2024") for n in range(11, 15)]
    _ingest(settings, drops, "denuncias_20240202.csv", [*february, late])
    plan = plan_build(settings)
    assert (plan.is_needed, plan.is_full_refresh) == (True, False), plan
    results = run_dbt(["build", *AFFECTED], settings)
    tested = _scoped_test_sql(results)
    record_build(plan.as_json(), "test-2", settings)
    # Incremental: the tests of the registered reports check the new batch's records only;
    # the funnel's, the new batch's reports and every case.
    assert "'DEN-2024-0000011'" in tested and "'DEN-2024-0000001'" not in tested, tested
    funnel = _scoped_test_sql(results, FUNNEL_TEST)
    assert "(stage = 'report') is not true or counted_id in (" in funnel, funnel
    assert "'DEN-2024-0000011'" in funnel and "'DEN-2024-0000001'" not in funnel, funnel
    # The contributions read the funnel's changed reports by the same constants.
    contributions = _scoped_test_sql(results, "fct_indicator_contributions")
    assert "cast(facts.counted_id as text) in (" in contributions
    assert "'DEN-2024-0000011'" in contributions and "'DEN-2024-0000001'" not in contributions
    # The person dimension recomputes the victims of the new batch's reports alone.
    persons = _scoped_test_sql(results, "dim_person_pseudonym")
    assert "'DEN-2024-0000011'" in persons and "'DEN-2024-0000001'" not in persons, persons
    _assert_reports_read_by_number(db, _scoped_test_sql(results, "fct_crime_reports"))
    # Five rows changed in a ten-row fact: below autovacuum's threshold, so the incremental
    # facts keep the statistics of the first build (macro analyze_if_changed), while a table
    # rebuilt whole is analysed again.
    assert _planned_rows(db, "marts.fct_crime_reports") == 10
    assert _planned_rows(db, "marts.mart_crime_reports_monthly") == _materialized(
        db, "mart_crime_reports_monthly"
    )

    # Batch 3: a correction. Report 2 is re-sent: the victim died (homicide), and it happened
    # in another municipality, so a cell loses the row and another gains it; the victim's ID
    # was mistyped, so the person it named has no record left (the person dimension drops them).
    corrected = report_row(
        2,
        codigo_delito="CP-121",
        delito="Homicidio simple",
        codigo_municipio="02001",
        fecha_registro="10/02/2024 08:00",
        cedula_victima=national_id(100000099),
    )
    _ingest(settings, drops, "denuncias_20240210.csv", [corrected, report_row(15)])
    # More changed records than the filters list as constants: they read the same records
    # with a semi-join, which the comparison with a full refresh below covers too.
    tested = _scoped_test_sql(run_dbt(["build", *AFFECTED, *FEW_CONSTANTS], settings))
    assert "'DEN-2024-0000015'" not in tested and "select distinct staged.report_id" in tested
    # The new batches, as constants whatever their records (an index lookup in raw).
    assert "staged.batch_id in ('police__reports-" in tested, tested
    facts = db.execute(
        "select iccs_code, municipality_code, version_count from marts.fct_crime_reports"
        " where report_id = 'DEN-2024-0000002'"
    ).fetchall()
    assert facts == [("0101", "02001", 2)]
    assert _materialized(db, "fct_crime_reports") == 16
    assert _materialized(db, "fct_crime_report_versions") == 17
    # The snapshot read only the changed report victims, and missed none: report 2's
    # correction opened a second row, the other reports kept theirs.
    snapshot = db.execute(
        "select count(*) filter (where report_id = 'DEN-2024-0000002'),"
        " count(*) filter (where dbt_valid_to is null), count(*)"
        " from snapshots.snap_police__reports"
    ).fetchone()
    assert tuple(snapshot) == (2, 16, 17)

    _snapshot(db, "incremental_check")
    run_dbt(["build", "--full-refresh", *AFFECTED], settings)
    assert _differences(db, "incremental_check") == {}

    # A reclassification: the code map changes. Every row may change, so the changed project
    # (its fingerprint) makes the next build a full refresh, whatever batches arrived.
    reclassified = _reclassified_project(settings, tmp_path / "project")
    _ingest(settings, drops, "denuncias_20240215.csv", [report_row(16)])
    plan = plan_build(reclassified)
    assert (plan.is_needed, plan.is_full_refresh) == (True, True), plan
    try:
        _reclassify_and_continue(db, drops, settings, reclassified, plan)
    finally:
        # The project's own map again, and what reads it (a seed is replaced with cascade).
        run_dbt(["seed", "--select", CODE_MAP], settings)
        run_dbt(["run", "--full-refresh", "--select", f"{CODE_MAP}+"], settings)


def _reclassify_and_continue(
    db: Any, drops: Path, settings: Any, reclassified: Any, plan: Any
) -> None:
    """The reclassifying full refresh, then an incremental batch on the new map, compared."""
    # The new map and everything built from it, as build_warehouse's full refresh does.
    run_dbt(["build", "--full-refresh", *AFFECTED, f"{CODE_MAP}+"], reclassified)
    record_build(plan.as_json(), "test-4", reclassified)
    assert (
        db.execute(
            "select count(*) from marts.fct_crime_report_versions"
            " where iccs_code = '020111' and national_offence_code = 'CP-131'"
        ).fetchone()[0]
        == db.execute(
            "select count(*) from marts.fct_crime_report_versions where national_offence_code"
            " = 'CP-131'"
        ).fetchone()[0]
        > 0
    )

    # After the reclassification, batches are incremental again: one more, then compare.
    _ingest(reclassified, drops, "denuncias_20240220.csv", [report_row(17), report_row(3)])
    plan = plan_build(reclassified)
    assert (plan.is_needed, plan.is_full_refresh) == (True, False), plan
    # The police ÷ forensic homicide ratio recomputes its police rows by unit (its forensic
    # ones whole): report 2's row (a homicide since batch 3) is left as it is.
    ratio_rows = (
        "select xmin::text, contribution_id from marts.fct_indicator_contributions"
        " where indicator_code = 'homicide_police_health_ratio'"
        " and fact_model = 'fct_crime_reports' and counted_id = 'DEN-2024-0000002'"
    )
    before = db.execute(ratio_rows).fetchall()
    assert len(before) == 1, before
    run_dbt(["build", *AFFECTED], reclassified)
    assert db.execute(ratio_rows).fetchall() == before
    _snapshot(db, "incremental_check")
    run_dbt(["build", "--full-refresh", *AFFECTED], reclassified)
    assert _differences(db, "incremental_check") == {}
    db.execute("drop schema incremental_check cascade")
