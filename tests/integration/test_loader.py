"""Loading batches into the real warehouse: ledger, provenance, dedup, quarantine, rejection."""

import json
import shutil
import subprocess
import sys

import pytest

from ingestion import loader, raw_tables, stage_copy
from ingestion.errors import BatchError
from observatorio.orchestration.ingest import ingest_file
from tests.police_files import report_row, write_reports

SOURCE = "police__reports"


def test_loaded_batch_has_provenance_and_a_ledger_row(clean_warehouse, tmp_path, settings):
    path = write_reports(tmp_path / "denuncias_20240105.csv", [report_row(i) for i in range(1, 8)])
    result = ingest_file(SOURCE, path, settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 7, 7)
    db = clean_warehouse
    rows = db.execute(
        "select _batch_id, _source_file, _source_row, _file_sha256, _ingested_at is not null"
        " from raw.police__reports order by _source_row"
    ).fetchall()
    assert [r[2] for r in rows] == list(range(1, 8))
    assert {r[0] for r in rows} == {result.batch_id}
    assert {r[1] for r in rows} == {"denuncias_20240105.csv"}
    ledger = db.execute(
        "select status, rows_read, rows_loaded, rows_quarantined, file_sha256, file_bytes"
        " from ops.batch_ledger where batch_id = %s",
        (result.batch_id,),
    ).fetchone()
    assert ledger[:4] == ("loaded", 7, 7, 0)
    assert ledger[4] == rows[0][3] and ledger[5] == path.stat().st_size


def test_a_large_batch_leaves_statistics_for_the_next_build(
    clean_warehouse, tmp_path, settings, monkeypatch
):
    # dbt reads the raw table right after: a plan made without statistics ran a test over
    # the justice funnel for minutes instead of 10 s at 1M rows. The threshold is lowered
    # so seven rows count as a large batch; ANALYZE in the publishing transaction counts them.
    def statistics(table: str) -> tuple[float, int]:
        row = clean_warehouse.execute(
            "select c.reltuples, (select count(*) from pg_stats s"
            "  where s.schemaname = 'raw' and s.tablename = c.relname)"
            " from pg_class c where c.oid = %s::regclass",
            (f"raw.{table}",),
        ).fetchone()
        return float(row[0]), int(row[1])

    rows = [report_row(i) for i in range(1, 8)]
    ingest_file(SOURCE, write_reports(tmp_path / "small.csv", rows), settings)
    assert statistics(SOURCE) == (-1.0, 0)  # below the threshold: autovacuum's business

    monkeypatch.setattr(stage_copy, "ANALYZE_FROM_ROWS", 5)
    rows = [report_row(i) for i in range(8, 15)]
    result = ingest_file(SOURCE, write_reports(tmp_path / "large.csv", rows), settings)
    assert (result.status, result.rows_loaded) == ("loaded", 7)
    reltuples, columns_with_statistics = statistics(SOURCE)
    assert reltuples == 14.0 and columns_with_statistics > 10


def test_the_partitioned_table_is_analysed_as_a_whole_once_a_tenth_of_it_is_new(
    clean_warehouse, tmp_path, settings, monkeypatch
):
    # Its sample is drawn from every partition: renewed after 10 % new rows (the ledger's,
    # since the last ANALYZE), as autovacuum does for a plain table, not after every batch.
    monkeypatch.setattr(raw_tables, "ATTACH_FROM_ROWS", 5)
    monkeypatch.setattr(stage_copy, "ANALYZE_FROM_ROWS", 5)

    def whole_table_rows() -> float:
        row = clean_warehouse.execute(
            "select reltuples from pg_class where oid = 'raw.police__reports'::regclass"
        ).fetchone()
        return float(row[0])

    def ingest(name: str, first: int, count: int) -> None:
        rows = [report_row(i) for i in range(first, first + count)]
        result = ingest_file(SOURCE, write_reports(tmp_path / f"{name}.csv", rows), settings)
        assert (result.status, result.rows_loaded) == ("loaded", count)

    ingest("first", 1, 1)  # below ANALYZE_FROM_ROWS: autovacuum's business
    assert whole_table_rows() == -1.0
    ingest("large", 2, 60)
    assert whole_table_rows() == 61.0  # never analysed as a whole: now it is
    ingest("small", 100, 5)
    assert whole_table_rows() == 61.0  # 5 new rows of 61: under a tenth, kept
    ingest("another", 200, 5)
    assert whole_table_rows() == 71.0  # 10 new rows since: renewed


def _partitions(db) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return db.execute(
        "select c.relname::text, pg_get_expr(c.relpartbound, c.oid), c.relpersistence::text"
        " from pg_inherits as i join pg_class as c on c.oid = i.inhrelid"
        " where i.inhparent = 'raw.police__reports'::regclass order by 1"
    ).fetchall()


def test_a_large_batch_becomes_a_partition_of_its_raw_table(
    clean_warehouse, tmp_path, settings, monkeypatch
):
    # Published by attaching its staged table, not by copying it; smaller batches share the
    # default partition. The threshold is lowered so seven rows count as a large batch.
    monkeypatch.setattr(raw_tables, "ATTACH_FROM_ROWS", 5)
    db = clean_warehouse
    small = ingest_file(
        SOURCE, write_reports(tmp_path / "small.csv", [report_row(i) for i in (1, 2, 3)]), settings
    )
    rows = [report_row(i) for i in range(4, 11)]
    large = ingest_file(SOURCE, write_reports(tmp_path / "large.csv", rows), settings)
    assert (small.rows_loaded, large.rows_loaded) == (3, 7)
    part = loader.staging_table_for(large.batch_id)
    # Logged ("p"): a crash keeps it, as it keeps any raw row.
    assert _partitions(db) == [
        (part, f"FOR VALUES IN ('{large.batch_id}')", "p"),
        (f"{SOURCE}__default", "DEFAULT", "p"),
    ]
    by_batch = db.execute(
        "select _batch_id, count(*), min(_source_row), max(_source_row), min(_source_file)"
        " from raw.police__reports group by 1"
    ).fetchall()
    assert sorted(by_batch) == sorted(
        [(small.batch_id, 3, 1, 3, "small.csv"), (large.batch_id, 7, 1, 7, "large.csv")]
    )
    assert db.execute(f"select count(*) from raw.{SOURCE}__default").fetchone() == (3,)
    # The batch's constants were staging's column defaults: none is left on the partition,
    # and autovacuum, off while it was staged, is on again.
    defaults = db.execute(
        "select count(*), (select reloptions from pg_class where oid = to_regclass(%s))"
        " from pg_attrdef where adrelid = to_regclass(%s)",
        (f"raw.{part}", f"raw.{part}"),
    ).fetchone()
    assert defaults == (0, None)
    assert db.execute("select to_regclass(%s)", (f"ingest.{part}",)).fetchone() == (None,)

    # Its rows removed outside a batch and the ledger told (as the benches do), the same
    # content loads again: the empty partition left behind is replaced.
    db.execute("delete from raw.police__reports where _batch_id = %s", (large.batch_id,))
    for table in ("batch_ledger", "file_receipts"):
        db.execute(f"delete from ops.{table} where batch_id = %s", (large.batch_id,))
    again = ingest_file(SOURCE, write_reports(tmp_path / "large.csv", rows), settings)
    assert (again.status, again.rows_loaded) == ("loaded", 7)
    assert [p[0] for p in _partitions(db)] == [part, f"{SOURCE}__default"]

    # The ledger forgets the batch but its rows stay: the publish stops rather than add them twice.
    for table in ("batch_ledger", "file_receipts"):
        db.execute(f"delete from ops.{table} where batch_id = %s", (large.batch_id,))
    with pytest.raises(BatchError, match=f"raw.{part} already holds rows"):
        ingest_file(SOURCE, write_reports(tmp_path / "large.csv", rows), settings)
    assert db.execute(
        "select count(*) from raw.police__reports where _batch_id = %s", (large.batch_id,)
    ).fetchone() == (7,)


def test_a_staged_batch_is_attached_without_reading_its_rows(
    clean_warehouse, tmp_path, settings, monkeypatch
):
    # Staging's CHECK constraint (every row of the batch) implies the partition's bound, so
    # the attach reads none of the staged rows (at 10M rows a scan of the whole batch), and
    # the constraint is dropped once the bound says the same.
    from ingestion.contract import load_contract
    from observatorio.core.warehouse import connect

    monkeypatch.setattr(raw_tables, "ATTACH_FROM_ROWS", 5)
    contract = load_contract(SOURCE)
    rows = [report_row(i) for i in range(1, 8)]
    staged = loader.stage_file(SOURCE, write_reports(tmp_path / "large.csv", rows), settings)
    assert isinstance(staged, loader.StagedBatch)
    part = staged.staging_table
    messages: list[str] = []
    with connect(settings, role="loader") as conn:
        conn.add_notice_handler(lambda notice: messages.append(str(notice.message_primary)))
        raw_tables.ensure_raw_table(conn, contract)
        conn.execute("set client_min_messages = debug1")
        assert raw_tables.publish_rows(conn, contract, staged) == 7
        conn.commit()
    assert f'partition constraint for table "{part}" is implied by existing constraints' in (
        messages
    )
    assert f'verifying table "{part}"' not in messages
    assert clean_warehouse.execute(
        "select count(*) from pg_constraint where conrelid = %s::regclass and contype = 'c'",
        (f"raw.{part}",),
    ).fetchone() == (0,)


def test_the_index_built_before_the_verdict_is_the_one_the_attached_partition_keeps(
    clean_warehouse, tmp_path, settings, monkeypatch
):
    # `prepare_publish` (run while the gate's worker gates) builds the batch's index by
    # record id; the attach takes it as the partition's share of the raw table's index
    # instead of building one: the partition ends with that index alone.
    monkeypatch.setattr(raw_tables, "ATTACH_FROM_ROWS", 5)
    ingest_file(SOURCE, write_reports(tmp_path / "first.csv", [report_row(1)]), settings)
    rows = [report_row(i) for i in range(2, 9)]
    staged = loader.stage_file(SOURCE, write_reports(tmp_path / "large.csv", rows), settings)
    assert isinstance(staged, loader.StagedBatch)
    loader.prepare_publish(staged, settings)
    assert loader.publish_batch(staged, [], settings).status == "loaded"
    part = staged.staging_table
    assert clean_warehouse.execute(
        "select i.indexrelid::regclass::text, p.inhparent::regclass::text"
        " from pg_index as i left join pg_inherits as p on p.inhrelid = i.indexrelid"
        " where i.indrelid = %s::regclass",
        (f"raw.{part}",),
    ).fetchall() == [(f"raw.{part}__record", "raw.police__reports__record")]


def test_a_large_batch_is_inserted_where_it_cannot_be_attached(
    clean_warehouse, loader_db, tmp_path, settings, monkeypatch
):
    # A raw table that kept a column its contract dropped, and one made before raw tables were
    # partitioned: the batch is copied in, as before.
    from ingestion.contract import load_contract
    from ingestion.provenance import PROVENANCE_COLUMNS

    monkeypatch.setattr(raw_tables, "ATTACH_FROM_ROWS", 5)
    db = clean_warehouse
    rows = [report_row(i) for i in range(1, 8)]
    db.execute(f"drop table if exists raw.{SOURCE} cascade")
    contract = load_contract(SOURCE)
    columns = ", ".join(f'"{n}" {t}' for n, t in [*contract.output_columns(), *PROVENANCE_COLUMNS])
    loader_db.execute(f"create table raw.{SOURCE} ({columns})")
    plain = ingest_file(SOURCE, write_reports(tmp_path / "plain.csv", rows), settings)
    assert plain.rows_loaded == 7
    assert db.execute(
        "select relkind::text from pg_class where oid = %s::regclass", (f"raw.{SOURCE}",)
    ).fetchone() == ("r",)

    # A NOT NULL the staged table lacks (a contract that made a required column optional),
    # and a column the contract has since dropped: each batch is copied into the default one.
    changes = {
        "relaxed": "alter column municipality_name set not null",
        "kept": "add column dropped_by_the_contract text",
    }
    for first, (name, change) in zip((15, 8), changes.items(), strict=True):
        loader_db.execute(f"drop table raw.{SOURCE}")
        raw_tables.ensure_raw_table(loader_db, contract)
        loader_db.execute(f"alter table raw.{SOURCE} {change}")
        rows = [report_row(i) for i in range(first, first + 7)]
        result = ingest_file(SOURCE, write_reports(tmp_path / f"{name}.csv", rows), settings)
        assert result.rows_loaded == 7, name
        assert [p[0] for p in _partitions(db)] == [f"{SOURCE}__default"], name
        assert db.execute(f"select count(*) from raw.{SOURCE}__default").fetchone() == (7,)


def test_no_raw_identifier_reaches_the_warehouse(clean_warehouse, tmp_path, settings):
    row = report_row(1, nombre_victima="Zacarías Quintanilla", cedula_victima="123456789-K")
    ingest_file(SOURCE, write_reports(tmp_path / "d.csv", [row]), settings)
    dump = json.dumps(
        clean_warehouse.execute("select to_jsonb(r) from raw.police__reports r").fetchall(),
        default=str,
    )
    assert "Zacar" not in dump and "QUINTANILLA" not in dump and "123456789" not in dump


def test_same_content_under_new_name_is_skipped_and_changed_file_is_new(
    clean_warehouse, tmp_path, settings
):
    first = write_reports(tmp_path / "denuncias_a.csv", [report_row(1), report_row(2)])
    assert ingest_file(SOURCE, first, settings).status == "loaded"
    resent = tmp_path / "denuncias_a_reenvio.csv"
    shutil.copy(first, resent)
    skipped = ingest_file(SOURCE, resent, settings)
    assert skipped.status == "skipped"
    changed = write_reports(tmp_path / "denuncias_a.csv", [report_row(1), report_row(3)])
    assert ingest_file(SOURCE, changed, settings).status == "loaded"
    count = clean_warehouse.execute("select count(*) from raw.police__reports").fetchone()[0]
    assert count == 4
    outcomes = clean_warehouse.execute(
        "select outcome from ops.file_receipts order by receipt_id"
    ).fetchall()
    assert [o[0] for o in outcomes] == ["loaded", "skipped", "loaded"]


def test_bad_rows_are_quarantined_and_counts_add_up(clean_warehouse, tmp_path, settings):
    rows = [report_row(i) for i in range(1, 41)]
    rows[9] = report_row(10, fecha_hecho="2024-01-04")
    result = ingest_file(SOURCE, write_reports(tmp_path / "d.csv", rows), settings)
    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (40, 39, 1)
    entry = clean_warehouse.execute(
        "select source_row, column_name, reason, offending_value from ops.quarantine"
    ).fetchone()
    assert entry[0] == 10 and entry[1] == "fecha_hecho" and entry[3] == "2024-01-04"


def test_too_many_bad_rows_reject_the_whole_batch(clean_warehouse, tmp_path, settings):
    rows = [report_row(i, edad_victima="-1" if i % 4 == 0 else "30") for i in range(1, 21)]
    result = ingest_file(SOURCE, write_reports(tmp_path / "d.csv", rows), settings)
    assert result.status == "rejected" and "threshold" in result.message
    db = clean_warehouse
    assert db.execute("select to_regclass('raw.police__reports')").fetchone()[0] is None
    assert db.execute("select count(*) from ops.quarantine").fetchone()[0] == 5
    status = db.execute("select status, error from ops.batch_ledger").fetchone()
    assert status[0] == "rejected" and "25.0%" in status[1]


def test_unsafe_file_name_is_refused(clean_warehouse, tmp_path, settings):
    (tmp_path / "sub").mkdir()
    path = write_reports(tmp_path / "..denuncias.csv", [report_row(1)])
    with pytest.raises(BatchError, match="unsafe file name"):
        ingest_file(SOURCE, path, settings)


def test_cli_json_reports_loaded_skipped_and_rejected(clean_warehouse, tmp_path):
    good = write_reports(tmp_path / "good.csv", [report_row(1)])
    bad = write_reports(
        tmp_path / "bad.csv",
        [report_row(1, fecha_hecho="01/01/2099", fecha_registro="01/01/2099 10:00")],
    )
    cli = [sys.executable, "-m", "observatorio.cli.app", "ingest", SOURCE]

    def run(path):
        done = subprocess.run([*cli, str(path), "--json"], capture_output=True, text=True)
        return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])

    code, loaded = run(good)
    assert code == 0 and loaded["status"] == "loaded" and loaded["rows_loaded"] == 1
    assert set(loaded) == {
        "batch_id",
        "status",
        "rows_read",
        "rows_loaded",
        "rows_quarantined",
        "reason",
    }
    code, skipped = run(good)
    assert code == 0 and skipped["status"] == "skipped"
    code, rejected = run(bad)
    assert code == 2 and rejected["status"] == "rejected"
    # The reason travels with the verdict: which file, which expectation.
    assert "bad.csv" in rejected["reason"] and "expect_" in rejected["reason"]


def test_header_only_file_is_an_empty_batch_with_a_warning(clean_warehouse, tmp_path, settings):
    result = ingest_file(SOURCE, write_reports(tmp_path / "denuncias_quiet.csv", []), settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 0, 0)
    assert result.warnings == ["denuncias_quiet.csv: header only, no records (empty batch)"]
