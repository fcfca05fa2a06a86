"""A loaded batch is final in the ledger: nothing relabels it (issue 17, races)."""

from __future__ import annotations

from ingestion import ledger
from observatorio.orchestration.ingest import ingest_file
from tests.police_files import report_row, write_reports


def test_finish_batch_never_changes_a_loaded_batch(clean_warehouse, tmp_path, settings):
    db = clean_warehouse
    path = write_reports(tmp_path / "denuncias_20240105.csv", [report_row(1), report_row(2)])
    result = ingest_file("police__reports", path, settings)
    assert result.status == "loaded"
    changed = ledger.finish_batch(db, result.batch_id, "rejected", 2, 0, 0, [], "late verdict")
    assert changed is False
    status, rows_loaded, error = db.execute(
        "select status, rows_loaded, error from ops.batch_ledger where batch_id = %s",
        (result.batch_id,),
    ).fetchone()
    assert (status, rows_loaded, error) == ("loaded", 2, None)
