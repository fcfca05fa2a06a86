"""A changed pseudonym key stops ingestion before anything is staged (issue 17)."""

from __future__ import annotations

import pytest

from ingestion.loader import stage_file
from observatorio.core.settings import SettingsError, get_settings
from observatorio.orchestration.ingest import ingest_file
from tests.police_files import report_row, write_reports

SOURCE = "police__reports"


def test_the_first_batch_records_the_key_and_another_key_is_refused(
    clean_warehouse, tmp_path, monkeypatch
):
    db = clean_warehouse
    settings = get_settings()
    first = write_reports(tmp_path / "denuncias_20240105.csv", [report_row(1)])
    assert ingest_file(SOURCE, first, settings).status == "loaded"
    (recorded,) = db.execute("select fingerprint from ops.key_fingerprint").fetchone()
    assert recorded == settings.key_fingerprint()
    assert settings.pseudonym_key().decode() not in recorded

    monkeypatch.setenv("OBSERVATORIO_PSEUDONYM_KEY", "another-key-of-forty-characters-0123456")
    changed = get_settings()
    second = write_reports(tmp_path / "denuncias_20240106.csv", [report_row(2)])
    batches_before = db.execute("select count(*) from ops.batch_ledger").fetchone()[0]
    with pytest.raises(SettingsError, match="fingerprint"):
        stage_file(SOURCE, second, changed)
    # Nothing was staged, recorded or loaded under the wrong key.
    assert db.execute("select count(*) from ops.batch_ledger").fetchone()[0] == batches_before
    assert db.execute("select fingerprint from ops.key_fingerprint").fetchone()[0] == recorded
