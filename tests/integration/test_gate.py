"""The Great Expectations gate on a good and a bad police batch, inside PostgreSQL."""

from observatorio.orchestration.ingest import ingest_file
from tests.police_files import report_row, write_reports

SOURCE = "police__reports"


def test_good_batch_passes_and_every_result_is_stored(clean_warehouse, tmp_path, settings):
    result = ingest_file(
        SOURCE, write_reports(tmp_path / "d.csv", [report_row(i) for i in range(1, 11)]), settings
    )
    assert result.status == "loaded"
    rows = clean_warehouse.execute(
        "select severity, success from ops.validation_results where batch_id = %s",
        (result.batch_id,),
    ).fetchall()
    assert len(rows) >= 12
    assert all(success for severity, success in rows if severity == "critical")
    assert (settings.gx_docs_dir / "index.html").is_file()


def test_critical_failure_rejects_and_names_expectation_and_rows(
    clean_warehouse, tmp_path, settings
):
    rows = [report_row(i) for i in range(1, 11)]
    rows[3] = report_row(4, fecha_hecho="01/01/2099", fecha_registro="02/01/2099 10:00")
    result = ingest_file(SOURCE, write_reports(tmp_path / "d.csv", rows), settings)
    assert result.status == "rejected"
    assert "expect_column_values_to_be_between(incident_date)" in result.message
    db = clean_warehouse
    assert db.execute("select to_regclass('raw.police__reports')").fetchone()[0] is None
    assert (
        db.execute("select count(*) from pg_tables where schemaname = 'ingest'").fetchone()[0] == 0
    )
    failed = db.execute(
        "select expectation_type, column_name from ops.validation_results"
        " where not success and severity = 'critical'"
    ).fetchall()
    assert ("expect_column_values_to_be_between", "incident_date") in failed


def test_duplicate_keys_fail_critically_with_sample_rows(clean_warehouse, tmp_path, settings):
    rows = [report_row(i) for i in range(1, 6)] + [report_row(2)]
    result = ingest_file(SOURCE, write_reports(tmp_path / "d.csv", rows), settings)
    assert result.status == "rejected"
    assert "expect_key_to_be_unique(report_id,victim_seq,recorded_at)" in result.message
    assert "sample rows 2, 6" in result.message


def test_warning_publishes_with_a_flag(clean_warehouse, tmp_path, settings):
    rows = [report_row(i, codigo_municipio="San José") for i in range(1, 6)]
    result = ingest_file(SOURCE, write_reports(tmp_path / "d.csv", rows), settings)
    assert result.status == "loaded"
    assert any("municipality_reported" in w for w in result.warnings)
    flagged = clean_warehouse.execute(
        "select has_warnings from ops.batch_ledger where batch_id = %s", (result.batch_id,)
    ).fetchone()[0]
    assert flagged is True
