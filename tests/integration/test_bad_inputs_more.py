"""The issue's bad inputs through the whole loader (`ingest_file`: fingerprint, the columnar
or row parser, COPY, the gate, publish) into the real warehouse, where the parser's unit tests
stop at the records. Each ends in a clear error or a quarantine entry, and the counts add up:
rows read = loaded + quarantined, in the result, the ledger and `raw`. (The 2 GB file is in
test_big_file.py; header-only and a `..` file name are also in test_loader.py.)"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest

from ingestion.errors import BatchError
from ingestion.loader import BatchResult, check_file_name
from observatorio.orchestration.ingest import ingest_file
from tests.integration.layout_loading import load, write_contract
from tests.pii_search import CANARY_ID, CANARY_NAME, admin_connection, text_hits, warehouse_hits
from tests.police_files import HEADER, report_row, write_reports

SOURCE = "police__reports"
HEADER_BYTES = [h.encode() for h in HEADER]
CP1252_FILE = b";".join(HEADER_BYTES) + b"\r\n" + ";".join(report_row(1)).encode("cp1252") + b"\r\n"


def ingest(path: Path, settings: Any, **kwargs: Any) -> BatchResult:
    result = ingest_file(SOURCE, path, settings, **kwargs)
    if result.status == "loaded":
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
    return result


def ledger(db: Any, result: BatchResult) -> tuple[Any, ...]:
    return db.execute(
        "select status, rows_read, rows_loaded, rows_quarantined, error"
        " from ops.batch_ledger where batch_id = %s",
        (result.batch_id,),
    ).fetchone()


def raw_rows(db: Any, result: BatchResult, column: str = "place") -> list[tuple[int, Any]]:
    return db.execute(
        f"select _source_row, {column} from raw.police__reports where _batch_id = %s"
        " order by _source_row",
        (result.batch_id,),
    ).fetchall()


def quarantine(db: Any, result: BatchResult) -> list[tuple[Any, ...]]:
    return db.execute(
        "select source_row, column_name, reason, offending_value from ops.quarantine"
        " where batch_id = %s order by source_row, column_name",
        (result.batch_id,),
    ).fetchall()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_bom_and_cp1252_accents_reach_raw_intact(clean_warehouse, tmp_path, settings, encoding):
    rows = [report_row(1, lugar="vía pública", municipio="Peñas Blancas"), report_row(2)]
    result = ingest(
        write_reports(tmp_path / "denuncias_acentos.csv", rows, encoding=encoding), settings
    )
    assert (result.status, result.rows_loaded) == ("loaded", 2)
    db = clean_warehouse
    assert raw_rows(db, result, "municipality_name")[0] == (1, "Peñas Blancas")
    assert raw_rows(db, result)[0] == (1, "vía pública")
    # The BOM is not part of the first column's name, so the key column was found.
    assert db.execute(
        "select report_id from raw.police__reports where _batch_id = %s and _source_row = 1",
        (result.batch_id,),
    ).fetchone() == ("DEN-2024-0000001",)


def test_nul_bytes_and_ragged_rows_are_quarantined_with_their_row(
    clean_warehouse, tmp_path, settings
):
    rows = [report_row(i) for i in range(1, 61)]
    rows[9] = report_row(10)[:-3]  # ragged: 14 fields
    rows[19] = [*report_row(20), "sobra"]  # ragged: 18 fields
    path = write_reports(tmp_path / "denuncias_nul.csv", rows)
    with path.open("ab") as handle:
        handle.write(";".join(report_row(61, lugar="otro\x00lugar")).encode("cp1252") + b"\r\n")
    result = ingest(path, settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 61, 58)
    entries = quarantine(clean_warehouse, result)
    assert [(e[0], e[1]) for e in entries] == [(10, None), (20, None), (61, "lugar")]
    assert "expected 17, got 14" in entries[0][2] and "expected 17, got 18" in entries[1][2]
    assert "NUL" in entries[2][2] and "\x00" not in entries[2][3]
    assert ledger(clean_warehouse, result)[:4] == ("loaded", 61, 58, 3)


def test_quotes_and_crlf_inside_fields_keep_the_value_and_record_numbers(
    clean_warehouse, tmp_path, settings
):
    tricky = 'vivienda "la casa";\r\nsegundo piso'
    rows = [report_row(1, lugar=tricky), report_row(2), report_row(3, lugar='"";\n;')]
    result = ingest(write_reports(tmp_path / "denuncias_comillas.csv", rows), settings)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 3, 0)
    assert raw_rows(clean_warehouse, result) == [(1, tricky), (2, "vía pública"), (3, '"";\n;')]


def test_a_trailing_partial_line_is_quarantined_not_lost(clean_warehouse, tmp_path, settings):
    path = write_reports(tmp_path / "denuncias_cortado.csv", [report_row(i) for i in range(1, 41)])
    with path.open("ab") as handle:
        handle.write(b"DEN-2024-0000041;1;05/01/2024 10:00;04/0")
    result = ingest(path, settings)
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 41, 40)
    ((row, column, reason, _),) = quarantine(clean_warehouse, result)
    assert (row, column) == (41, None) and "field count" in reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (";".join([*HEADER, "lugar"]).encode() + b"\r\n", "duplicate header name 'lugar'"),
        (b"\r\n" + ";".join(report_row(1)).encode("cp1252"), "header row is empty"),
    ],
    ids=["empty", "duplicate-header", "blank-header"],
)
def test_unusable_files_are_rejected_naming_the_file(
    clean_warehouse, tmp_path, settings, content, message
):
    path = tmp_path / "denuncias_malo.csv"
    path.write_bytes(content)
    result = ingest(path, settings)
    assert result.status == "rejected"
    status, rows_read, rows_loaded, _, error = ledger(clean_warehouse, result)
    assert (status, rows_read, rows_loaded) == ("rejected", 0, 0)
    assert "denuncias_malo.csv" in error and message in error
    assert clean_warehouse.execute("select to_regclass('raw.police__reports')").fetchone() == (
        None,
    )


def test_an_undeclared_column_rejects_the_batch_naming_it(clean_warehouse, tmp_path, settings):
    # The default drift policy (`unknown_columns: reject`): the ledger names the new columns
    # and the file, never a value; hostile names stay data, never SQL.
    db = clean_warehouse
    db.execute("create table if not exists public.x (id int)")
    hostile, long_name = 'a"; drop table x;--', "columna_" + "n" * 62
    header = [*HEADER, hostile, long_name]
    rows = [[*report_row(1), CANARY_ID, CANARY_NAME], [*report_row(2), "", "ñ"]]
    result = ingest(write_reports(tmp_path / "denuncias_raro.csv", rows, header=header), settings)
    assert result.status == "rejected"
    status, rows_read, rows_loaded, _, error = ledger(db, result)
    assert (status, rows_read, rows_loaded) == ("rejected", 0, 0)
    for part in ("denuncias_raro.csv", repr(hostile), repr(long_name[:60]), "unknown_columns"):
        assert part in error and part in result.message
    assert not text_hits(error) and not text_hits(result.message)
    with admin_connection(settings) as admin:
        assert warehouse_hits(admin) == []
    assert db.execute("select to_regclass('public.x')").fetchone() == ("x",)
    db.execute("drop table public.x")


def test_dropped_columns_leave_nothing_of_themselves_in_the_warehouse(
    clean_warehouse, tmp_path, settings, monkeypatch
):
    # `unknown_columns: drop`: the rows load, the columns' names are in the ledger's
    # warnings, and their values are nowhere (every row of every relation is searched).
    import yaml

    import ingestion.contract as contract_module

    catalog = tmp_path / "catalog"
    monkeypatch.setattr(contract_module, "CATALOG_DIR", catalog)
    contract_module.load_contract.cache_clear()
    data = yaml.safe_load((contract_module.CONTRACTS_DIR / f"{SOURCE}.yaml").read_text("utf-8"))
    data.pop("source"), data.pop("entity")
    name = write_contract(catalog, "test__reports_drop", {**data, "unknown_columns": "drop"})
    try:
        header = [*HEADER, "direccion_victima", "telefono"]
        rows = [[*report_row(i), f"{CANARY_NAME}, {CANARY_ID}", CANARY_ID] for i in (1, 2)]
        path = write_reports(tmp_path / "denuncias_nuevas.csv", rows, header=header)
        result = load(name, path, settings)
    finally:
        contract_module.load_contract.cache_clear()
    assert (result.status, result.rows_loaded) == ("loaded", 2)
    (warnings,) = clean_warehouse.execute(
        "select warnings from ops.batch_ledger where batch_id = %s", (result.batch_id,)
    ).fetchone()
    assert any("'direccion_victima', 'telefono'" in w and "dropped" in w for w in warnings)
    assert not any(text_hits(w) for w in warnings)
    columns = clean_warehouse.execute(
        "select column_name from information_schema.columns"
        " where table_schema = 'raw' and table_name = 'test__reports_drop'"
    ).fetchall()
    assert columns and not {"direccion_victima", "telefono", "_extra"} & {c for (c,) in columns}
    with admin_connection(settings) as admin:
        assert warehouse_hits(admin) == []


def test_a_path_with_dot_dot_never_escapes_the_archive(clean_warehouse, tmp_path, settings):
    for name in ("../denuncias_x.csv", "..\\denuncias_x.csv", "denuncias/../../x.csv", ".."):
        with pytest.raises(BatchError, match="unsafe file name"):
            check_file_name(name)
    (tmp_path / "sub").mkdir()
    path = write_reports(tmp_path / "denuncias_ruta.csv", [report_row(1)])
    via_dot_dot = tmp_path / "sub" / ".." / "denuncias_ruta.csv"
    result = ingest(via_dot_dot, settings, move=True)
    assert result.status == "loaded" and not path.exists()
    assert (settings.archive_dir / SOURCE / "denuncias_ruta.csv").is_file()
    assert clean_warehouse.execute(
        "select distinct _source_file from raw.police__reports where _batch_id = %s",
        (result.batch_id,),
    ).fetchall() == [("denuncias_ruta.csv",)]


def test_a_truncated_gzip_is_rejected_and_nothing_reaches_raw(clean_warehouse, tmp_path, settings):
    path = write_reports(tmp_path / "denuncias_gz.csv.gz", [report_row(i) for i in range(1, 3000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    result = ingest(path, settings)
    assert result.status == "rejected"
    status, _, rows_loaded, _, error = ledger(clean_warehouse, result)
    assert (status, rows_loaded) == ("rejected", 0)
    assert "denuncias_gz.csv.gz" in error and "truncated or corrupt" in error
    assert clean_warehouse.execute("select to_regclass('raw.police__reports')").fetchone() == (
        None,
    )


# Found by the parser's property tests (tests/unit/ingestion/test_parse_properties.py): bytes
# the detected encoding cannot decode used to escape as a bare UnicodeDecodeError and leave
# the batch 'loading'; now the batch is rejected with the file's name and the byte offset.
@pytest.mark.parametrize(
    "content",
    [
        codecs.BOM_UTF8 + CP1252_FILE,
        CP1252_FILE + b"9\x9d;" + b";".join(HEADER_BYTES[1:]) + b"\r\n",
    ],
    ids=["bom-then-cp1252", "undefined-cp1252-byte"],
)
def test_undecodable_bytes_reject_the_batch(clean_warehouse, tmp_path, settings, content):
    path = tmp_path / "denuncias_bytes.csv"
    path.write_bytes(content)
    result = ingest(path, settings)
    assert result.status == "rejected" and "denuncias_bytes.csv" in result.message


def test_a_raw_table_from_before_privacy_by_default_loses_its_extra_column(
    clean_warehouse, loader_db, settings
):
    # `_extra` held undeclared columns' raw text; the next load's table check drops it.
    from ingestion.contract import load_contract
    from ingestion.raw_tables import ensure_raw_table

    contract = load_contract(SOURCE)
    ensure_raw_table(loader_db, contract)
    loader_db.execute(f"alter table raw.{SOURCE} add column _extra jsonb")
    ensure_raw_table(loader_db, contract)
    gone = loader_db.execute(
        "select count(*) from information_schema.columns"
        " where table_schema = 'raw' and table_name = %s and column_name = '_extra'",
        (SOURCE,),
    ).fetchone()
    assert gone == (0,)


def test_a_raw_table_is_indexed_by_batch_and_by_record(clean_warehouse, loader_db, settings):
    # The batch: what an incremental build reads a new batch's rows by (in the default
    # partition: a large batch is a partition of its own); the record (the first column of the
    # contract's primary key): every version of the records it changed, in every partition.
    from ingestion.contract import load_contract
    from ingestion.raw_tables import default_partition, ensure_raw_table

    contract = load_contract(SOURCE)
    ensure_raw_table(loader_db, contract)
    indexes = loader_db.execute(
        "select tablename, indexname, indexdef from pg_indexes where schemaname = 'raw'"
        " and tablename in (%s, %s)",
        (SOURCE, default_partition(contract)),
    ).fetchall()
    columns = {
        (table, name): definition.rsplit("(", 1)[1].rstrip(")")
        for table, name, definition in indexes
        if not name.endswith("_idx")  # the record index's copy in the default partition
    }
    assert columns == {
        (default_partition(contract), f"{SOURCE}__batch_id"): "_batch_id",
        (SOURCE, f"{SOURCE}__record"): contract.primary_key[0],
    }, indexes
