"""Staging a file: COPY its good records into a per-batch table in `ingest`, bad ones aside.

`copy_into_staging` unpacks an archive member if the contract says so, settles the text
encoding, then types the file column-wise (`ingestion.columnar`, every tabular format)
or, for JSON and for CSV files the columnar reader cannot split the way `csv` does, row
by row (`ingestion.parse`). Good rows stream into `ingest.<batch>` and quarantine entries
into its `__q` twin over two connections. Footer rows are counted, never staged. Called
by `ingestion.loader.stage_file`.
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ingestion.cells import Footer, Problem, Record, detect_encoding
from ingestion.columnar import ColumnarUnsupported, csv_bytes, good_columns, read_batches
from ingestion.contract import TEXT_FORMATS, Contract
from ingestion.errors import BatchError
from ingestion.parse import parse_records
from ingestion.provenance import PROVENANCE_COLUMNS
from ingestion.readers.containers import materialise
from observatorio.core.settings import Settings
from observatorio.core.warehouse import connect

log = logging.getLogger(__name__)

# Below this many rows written at once, a table's scans are cheap and ANALYZE would cost more.
ANALYZE_FROM_ROWS = 100_000
# The staged table's constraint that every row is of its batch (see `_create_staging`).
BATCH_CHECK = "staged_batch"


@dataclass(frozen=True)
class StagingCounts:
    """What staging saw: rows read (footer rows included), staged, quarantined, footer."""

    rows_read: int
    rows_staged: int
    rows_quarantined: int
    warnings: list[str]
    rows_footer: int = 0


def copy_into_staging(
    contract: Contract, path: Path, batch_id: str, sha256: str, table: str, settings: Settings
) -> StagingCounts:
    """Stage the file (BatchError when it cannot be read: nothing is staged then)."""
    with tempfile.TemporaryDirectory(prefix="observatorio-stage-") as workdir:
        inner = materialise(path, contract, Path(workdir))
        try:
            if contract.format in TEXT_FORMATS:
                encoding = detect_encoding(inner, contract.encodings)
            else:
                encoding = contract.encodings[0]
            read, staged, quarantined, warnings, footer = _copy_file(
                contract, inner, encoding, batch_id, sha256, table, settings, path.name
            )
        except BatchError as exc:
            if inner == path:
                raise
            # The member's own name is in the message; the archive's goes in front.
            raise BatchError(f"{path.name}: {exc}") from exc
    return StagingCounts(read, staged, quarantined, warnings, footer)


def _create_staging(
    conn: psycopg.Connection, contract: Contract, table: str, constants: dict[str, Any]
) -> None:
    """A fresh per-batch table in `ingest` and its quarantine twin.

    The twin is committed at once (the quarantine's own connection writes to it); the batch's
    table is created in the transaction its COPY then runs in. It is logged, since a large
    batch's table becomes its raw table's partition as it is (`ingestion.loader.publish_batch`),
    and created in the COPY's transaction, PostgreSQL with `wal_level=minimal` (the embedded
    warehouse) writes no WAL for the rows: the table's files are synced at commit. Its COPY
    freezes the rows (allowed in the table's own transaction, where no one else sees it):
    the first reader (the gate) need not set each row's hint bits, which on a logged table
    with data checksums writes every page to the WAL again (the 10M gate: 37.2 s before
    staging was logged, 49.6 s after, unfrozen). Autovacuum leaves it alone (it is analysed
    after its COPY; vacuuming it while the gate reads it only delayed the publish's ALTER
    TABLE). The provenance columns that are the same for every row of the batch are column
    defaults, so COPY does not carry them once per row. A CHECK constraint says every row is
    of the batch, which is the partition's bound: attaching the table as its raw table's
    partition then reads none of its rows to prove it (`ingestion.raw_tables`).
    """
    columns = [*contract.output_columns(), *PROVENANCE_COLUMNS]
    for name in (table, f"{table}__q"):
        conn.execute(sql.SQL("drop table if exists ingest.{}").format(sql.Identifier(name)))
    conn.execute(
        sql.SQL(
            "create unlogged table ingest.{} (source_row bigint not null, column_name text,"
            " reason text not null, offending_value text)"
        ).format(sql.Identifier(f"{table}__q"))
    )
    conn.commit()
    conn.execute(
        sql.SQL(
            "create table ingest.{} ({}, constraint {} check (_batch_id = {})) with"
            " (autovacuum_enabled = false)"
        ).format(
            sql.Identifier(table),
            sql.SQL(", ").join(
                sql.SQL("{} {}{}").format(
                    sql.Identifier(n),
                    sql.SQL(t),
                    sql.SQL(" default {}").format(sql.Literal(constants[n]))
                    if n in constants
                    else sql.SQL(""),
                )
                for n, t in columns
            ),
            sql.Identifier(BATCH_CHECK),
            sql.Literal(constants["_batch_id"]),
        )
    )


Counts = tuple[int, int, int, list[str], int]


def _copy_file(
    contract: Contract,
    path: Path,
    encoding: str,
    batch_id: str,
    sha256: str,
    table: str,
    settings: Settings,
    delivered: str,
) -> Counts:
    """Stage the file: column-wise when the columnar reader can, else row by row."""
    key = settings.pseudonym_key()
    args = (contract, path, encoding, batch_id, sha256, table, settings, key, delivered)
    if contract.format not in ("json", "jsonl"):
        try:
            return _stage_columnar(*args)
        except ColumnarUnsupported as exc:
            if contract.format != "csv":
                raise
            # A ragged row, a bad byte...: the row parser quarantines or rejects it exactly.
            log.info("%s: read row by row (%s)", path.name, str(exc).splitlines()[0][:200])
    return _stage_rows(*args)


def _constants(conn: psycopg.Connection, batch_id: str, name: str, sha256: str) -> dict[str, Any]:
    now = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
    return {
        "_batch_id": batch_id,
        "_source_file": name,
        "_file_sha256": sha256,
        "_ingested_at": now,
    }


def _copy_bad_sql(table: str) -> sql.Composed:
    return sql.SQL(
        "copy ingest.{} (source_row, column_name, reason, offending_value) from stdin"
    ).format(sql.Identifier(f"{table}__q"))


def _stage_columnar(
    contract: Contract,
    path: Path,
    encoding: str,
    batch_id: str,
    sha256: str,
    table: str,
    settings: Settings,
    key: bytes,
    delivered: str | None = None,
) -> Counts:
    rows_read = rows_staged = rows_quarantined = 0
    with connect(settings, role="loader") as conn, connect(settings, role="loader") as qconn:
        constants = _constants(conn, batch_id, delivered or path.name, sha256)
        _create_staging(conn, contract, table, constants)
        plan, batches = read_batches(path, contract, encoding, key)
        copy_good = sql.SQL("copy ingest.{} ({}) from stdin (format csv, freeze)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, good_columns(contract)))
        )
        with (
            conn.cursor().copy(copy_good) as good,
            qconn.cursor().copy(_copy_bad_sql(table)) as bad,
            _CopySender(good) as sender,
        ):
            for batch in batches:
                rows_read += batch.rows_read
                rows_staged += batch.good.num_rows
                rows_quarantined += batch.rows_quarantined
                if batch.good.num_rows:
                    sender.send(csv_bytes(batch.good))
                for problem in batch.problems:
                    bad.write_row((problem.row, problem.column, problem.reason, problem.value))
        conn.commit()
        qconn.commit()
        _analyze(conn, table, rows_staged)
    footer = plan.footer_rows
    return rows_read + footer, rows_staged, rows_quarantined, plan.warnings, footer


def analyze_written(
    conn: psycopg.Connection, schema: str, table: str, rows: int, only: bool = False
) -> bool:
    """ANALYZE `schema.table` in `conn`'s transaction when `rows` were just written to it.

    Autovacuum analyses a table only a while after a large load, and a query planned before
    that sees no statistics: the gate's staged tables (scanned many times: with statistics
    the compound-uniqueness check runs about twice as fast) and the raw tables dbt reads next
    (without statistics, a test over the justice funnel at 1M rows ran minutes instead of
    10 s). A transaction's ANALYZE counts the rows it inserted itself. True if it ran.
    `only`: a partitioned table's statistics as a whole, not its partitions' (PostgreSQL 18).
    """
    if rows < ANALYZE_FROM_ROWS:
        return False
    conn.execute(
        sql.SQL("analyze {}{}.{}").format(
            sql.SQL("only ") if only else sql.SQL(""), sql.Identifier(schema), sql.Identifier(table)
        )
    )
    return True


def _analyze(conn: psycopg.Connection, table: str, rows: int) -> None:
    if analyze_written(conn, "ingest", table, rows):
        conn.commit()


class _CopySender:
    """Sends CSV chunks to a COPY from a thread, so typing the next batch overlaps the
    server's work on this one; at most one chunk waits, so memory stays flat."""

    def __init__(self, copy: Any) -> None:
        self._copy = copy
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="copy-sender", daemon=True)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._copy.write(chunk)
                except BaseException as exc:  # re-raised in the caller
                    self._error = exc

    def send(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def __enter__(self) -> _CopySender:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error


def _stage_rows(
    contract: Contract,
    path: Path,
    encoding: str,
    batch_id: str,
    sha256: str,
    table: str,
    settings: Settings,
    key: bytes,
    delivered: str | None = None,
) -> Counts:
    out_names = [n for n, _ in contract.output_columns()]
    good_cols = [*out_names, "_source_row"]
    rows_read = rows_staged = rows_quarantined = footer = 0
    # Two connections: COPY of good rows and COPY of quarantine entries stream side by side.
    with connect(settings, role="loader") as conn, connect(settings, role="loader") as qconn:
        constants = _constants(conn, batch_id, delivered or path.name, sha256)
        _create_staging(conn, contract, table, constants)
        plan, records = parse_records(path, contract, encoding, key)
        copy_good = sql.SQL("copy ingest.{} ({}) from stdin (freeze)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, good_cols))
        )
        with (
            conn.cursor().copy(copy_good) as good,
            qconn.cursor().copy(_copy_bad_sql(table)) as bad,
        ):
            for item in records:
                rows_read += 1
                if isinstance(item, Footer):
                    footer += 1
                elif isinstance(item, Record):
                    good.write_row((*item.values, item.row))
                    rows_staged += 1
                else:
                    _write_problems(bad, item)
                    rows_quarantined += 1
        conn.commit()
        qconn.commit()
        _analyze(conn, table, rows_staged)
    return rows_read, rows_staged, rows_quarantined, plan.warnings, footer


def _write_problems(copy: Any, problems: list[Problem]) -> None:
    for problem in problems:
        copy.write_row((problem.row, problem.column, problem.reason, problem.value))
