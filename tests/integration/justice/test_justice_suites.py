"""Each justice suite on one passing batch (a real pull) and one failing batch (one bad row)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingestion.connectors.sql import extract
from observatorio.orchestration.ingest import ingest_file
from simulator.justice import load_database

# table -> (row to spoil, column, bad value, the critical expectation that must catch it)
SPOILERS = {
    "cases": (3, "status", "perdida", "expect_column_values_to_be_in_set(status)"),
    "parties": (2, "role", "testigo", "expect_column_values_to_be_in_set(role)"),
    "hearings": (
        1,
        "created_at",
        "2099-01-01T09:00:00",
        "expect_column_values_to_be_between(created_at)",
    ),
    "judgements": (
        1,
        "judgement_date",
        "2099-01-01",
        "expect_column_values_to_be_between(judgement_date)",
    ),
}


def _spoil(landed: Path, row: int, column: str, value: str) -> Path:
    lines = landed.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[row - 1])
    record[column] = value
    lines[row - 1] = json.dumps(record, ensure_ascii=False)
    spoiled = landed.with_name(landed.name.replace(".jsonl", "_spoiled.jsonl"))
    spoiled.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spoiled


@pytest.mark.parametrize("table", sorted(SPOILERS))
def test_suite_passes_a_real_pull_and_rejects_a_bad_batch(
    table, pg_source_db, justice_sim, justice_state, settings
):
    source = f"justice__{table}"
    load_database(justice_sim, pg_source_db)
    pulled = extract(source, pg_source_db, settings=settings)
    landed = Path(pulled.file)  # type: ignore[arg-type]
    good = ingest_file(source, landed, settings)
    assert good.status == "loaded", good.message
    assert good.rows_loaded == pulled.rows > 0
    assert good.warnings == []  # the simulator's clean pull trips no warning either
    db = justice_state
    failed_critical = db.execute(
        "select count(*) from ops.validation_results"
        " where batch_id = %s and severity = 'critical' and not success",
        (good.batch_id,),
    ).fetchone()[0]
    assert failed_critical == 0

    row, column, value, expectation = SPOILERS[table]
    bad = ingest_file(source, _spoil(landed, row, column, value), settings)
    assert bad.status == "rejected"
    assert expectation in bad.message
    assert f"sample rows {row}" in bad.message or "observed" in bad.message
    raw_rows = db.execute(f"select count(*) from raw.{source}").fetchone()[0]
    assert raw_rows == good.rows_loaded  # nothing of the rejected batch reached raw
