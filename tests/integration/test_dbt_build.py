"""dbt build on the real warehouse: seeds, models, contracts and tests, then the mart rows."""

import dataclasses

import pytest

from observatorio.core.settings import SettingsError, get_settings
from observatorio.orchestration.ingest import ingest_file
from observatorio.transform.dbt import build, run_dbt
from tests.police_files import national_id, report_row, write_reports


def test_dbt_build_classifies_resolves_and_keeps_latest_versions(
    clean_warehouse, tmp_path, settings
):
    day1 = [
        report_row(1, codigo_delito="CP-121", delito="Homicidio simple"),
        # An assault on a woman by her partner, first recorded as grievous injury ...
        report_row(
            2,
            codigo_delito="CP-130",
            delito="Lesiones graves",
            sexo_victima="F",
            relacion_agresor="pareja",
            cedula_victima=national_id(200000002),
        ),
        # ... and a clerk who typed the municipality's name where the code belongs.
        report_row(3, codigo_municipio="Concepcion", municipio="Concepción"),
    ]
    day2 = [
        # The victim died: the police re-send the row, reclassified, recorded later.
        report_row(
            2,
            codigo_delito="CP-123",
            delito="Femicidio",
            sexo_victima="F",
            relacion_agresor="pareja",
            fecha_registro="06/01/2024 08:00",
            cedula_victima=national_id(200000002),
        ),
        report_row(4, codigo_delito="CP-299", delito="Otros delitos no especificados"),
    ]
    for name, rows in (("denuncias_20240105.csv", day1), ("denuncias_20240106.csv", day2)):
        path = write_reports(tmp_path / name, rows)
        assert ingest_file("police__reports", path, settings).status == "loaded"
    results = build(settings)
    not_ok = {
        r.node.name: str(r.status)
        for r in results.results
        if str(r.status) not in {"success", "pass", "no-op"}  # exposures are no-ops
    }
    # CP-299 has no ICCS mapping: the coverage test warns about it, and only it.
    assert list(not_ok.values()) == ["warn"], not_ok
    assert next(iter(not_ok)).startswith("has_no_rows_mart_offence_code_coverage"), not_ok
    db = clean_warehouse
    facts = {
        r[0]: r[1:]
        for r in db.execute(
            "select report_id, iccs_code, is_femicide, version_count, municipality_code,"
            " is_municipality_from_name, is_classified from marts.fct_crime_reports"
        ).fetchall()
    }
    assert facts["DEN-2024-0000001"][0] == "0101"
    assert facts["DEN-2024-0000002"][:3] == ("0101", True, 2)
    assert facts["DEN-2024-0000003"][3:5] == ("01008", True)
    # CP-299 has no agreed ICCS mapping: kept, flagged, never silently dropped.
    assert facts["DEN-2024-0000004"][0] is None and facts["DEN-2024-0000004"][5] is False
    raw = db.execute("select count(*) from raw.police__reports").fetchone()[0]
    mart_total = db.execute("select sum(victims) from marts.mart_crime_reports_monthly").fetchone()[
        0
    ]
    assert (raw, len(facts), mart_total) == (5, 4, 4)
    # Every table the build made was analysed as it was built (macro analyze_after_build):
    # the models and tests that read it next are planned on its statistics.
    tables = {
        (r.node.schema, r.node.alias)
        for r in results.results
        if r.node.resource_type == "model"
        and r.node.config.materialized in {"table", "incremental"}
    }
    analysed = {
        tuple(row)
        for row in db.execute(
            "select schemaname, relname from pg_stat_user_tables where last_analyze is not null"
        ).fetchall()
    }
    assert ("marts", "fct_crime_reports") in tables and not tables - analysed, tables - analysed


def test_dbt_sessions_sort_in_the_transform_work_mem(warehouse_url, settings, monkeypatch):
    """Every connection dbt opens has the `work_mem` of the settings (PostgreSQL's 4MB would
    make the builds' large aggregates spill to disk); a value that is no size is refused."""
    query = "select current_setting('work_mem') as work_mem"
    for size, shown in (("48MB", "48MB"), ("1.5 GiB", "1536MB")):
        configured = dataclasses.replace(settings, transform_work_mem=size)
        result = run_dbt(["show", "--inline", query], configured)
        assert [row[0] for row in result.results[0].agate_table.rows] == [shown]
    monkeypatch.setenv("OBSERVATORIO_TRANSFORM_WORK_MEM", "lots")
    with pytest.raises(SettingsError, match="OBSERVATORIO_TRANSFORM_WORK_MEM"):
        get_settings()
