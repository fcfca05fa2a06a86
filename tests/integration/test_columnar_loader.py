"""The loader's columnar staging against real PostgreSQL: the same rows as the row path, and
files it cannot read column-wise still end in quarantine with counts that add up."""

from __future__ import annotations

from pathlib import Path

from psycopg import sql

from bench.ingest import write_police_file
from ingestion.cells import detect_encoding
from ingestion.contract import load_contract
from ingestion.loader import _stage_columnar, _stage_rows
from observatorio.orchestration.ingest import ingest_file
from tests.police_files import report_row, write_reports

SOURCE = "police__reports"
CONTRACT = load_contract(SOURCE)


def _stage_both(path: Path, settings) -> tuple[tuple[int, ...], tuple[int, ...]]:  # type: ignore[no-untyped-def]
    encoding = detect_encoding(path, CONTRACT.encodings)
    key = settings.pseudonym_key()
    args = (CONTRACT, path, encoding, "b-1", "f" * 64)
    by_columns = _stage_columnar(*args, "cols", settings, key)
    by_rows = _stage_rows(*args, "rows", settings, key)
    return by_columns[:3], by_rows[:3]


def _difference(db, left: str, right: str, columns: str = "*") -> int:  # type: ignore[no-untyped-def]
    query = sql.SQL(
        "select count(*) from (select {c} from ingest.{} except all select {c} from ingest.{}) d"
    )
    return int(
        db.execute(
            query.format(sql.Identifier(left), sql.Identifier(right), c=sql.SQL(columns))
        ).fetchone()[0]
    )


def test_columnar_and_row_staging_hold_the_same_rows(clean_warehouse, tmp_path, settings):
    path = tmp_path / "denuncias_sim.csv"
    write_police_file(path, 3_000, seed=5)
    rows = path.read_bytes().split(b"\r\n")
    bad = report_row(7, fecha_hecho="31/02/2024", edad_victima="300")
    rows[7] = ";".join(bad).encode("cp1252")
    path.write_bytes(b"\r\n".join(rows))
    by_columns, by_rows = _stage_both(path, settings)
    assert by_columns == by_rows == (3_000, 2_999, 1)
    db = clean_warehouse
    # _ingested_at differs between the two stagings (each takes its own now()).
    columns = "report_id, victim_seq, recorded_at, incident_date, incident_time, \
        victim_national_id_pseudonym, victim_national_id_status, victim_name_pseudonym, \
        victim_name_tokens, victim_sex, victim_age, victim_birth_year, place, _batch_id, \
        _source_file, _source_row, _file_sha256"
    assert _difference(db, "cols", "rows", columns) == 0
    assert _difference(db, "rows", "cols", columns) == 0
    assert _difference(db, "cols__q", "rows__q") == 0 == _difference(db, "rows__q", "cols__q")
    assert db.execute("select count(*) from ingest.cols__q").fetchone()[0] == 2


def test_ragged_file_falls_back_to_rows_and_counts_add_up(clean_warehouse, tmp_path, settings):
    rows = [report_row(i) for i in range(1, 41)]
    rows[4] = rows[4][:-3]
    result = ingest_file(SOURCE, write_reports(tmp_path / "denuncias_r.csv", rows), settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 40, 39)
    assert result.rows_quarantined == 1
    entry = clean_warehouse.execute(
        "select source_row, reason from ops.quarantine where batch_id = %s", (result.batch_id,)
    ).fetchone()
    assert entry == (5, "wrong field count: expected 17, got 14")
    loaded = clean_warehouse.execute(
        "select count(*), min(_source_row), max(_source_row) from raw.police__reports"
    ).fetchone()
    assert loaded == (39, 1, 40)
