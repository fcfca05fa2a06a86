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


def test_the_key_is_checked_in_one_query_that_counts_every_duplicate(
    clean_warehouse, tmp_path, settings
):
    # GX's unexpected-rows expectation runs its query twice (the rows, then a count of them);
    # the key's (`ExpectKeyToBeUnique`) counts its own rows, so a passing batch is read once,
    # and the count stays exact past the 200 rows GX keeps as a sample.
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        rows = [report_row(i) for i in range(1, 6)]
        good = ingest_file(SOURCE, write_reports(tmp_path / "good.csv", rows), settings)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert good.status == "loaded"
    assert sum("as copies" in s for s in statements) == 1

    rows = [report_row(i) for i in range(1, 251)] * 2
    result = ingest_file(SOURCE, write_reports(tmp_path / "twice.csv", rows), settings)
    assert result.status == "rejected"
    assert "expect_key_to_be_unique(report_id,victim_seq,recorded_at) [critical] observed 250" in (
        result.message
    )
    assert clean_warehouse.execute(
        "select observed_value from ops.validation_results"
        " where batch_id = %s and expectation_type = 'expect_key_to_be_unique'",
        (result.batch_id,),
    ).fetchall() == [("250",)]


def test_warning_publishes_with_a_flag(clean_warehouse, tmp_path, settings):
    rows = [report_row(i, codigo_municipio="San José") for i in range(1, 6)]
    result = ingest_file(SOURCE, write_reports(tmp_path / "d.csv", rows), settings)
    assert result.status == "loaded"
    assert any("municipality_reported" in w for w in result.warnings)
    flagged = clean_warehouse.execute(
        "select has_warnings from ops.batch_ledger where batch_id = %s", (result.batch_id,)
    ).fetchone()[0]
    assert flagged is True
