"""Loading a file batch: stage it, let the gate judge it, then publish it or reject it.

`stage_file` fingerprints the file, skips content that was already loaded, parses it
against its contract and COPYs good records into a per-batch table in `ingest` (bad ones
into its quarantine twin). CSV files are typed column-wise (`ingestion.columnar`); JSON,
and files that reader cannot split the way `csv` does, go through the row parser.
`publish_batch` moves the batch into `raw.<source>__<entity>` and closes the ledger row in
one transaction, so a crash anywhere leaves the whole batch or nothing. `ingest_file`
chains the steps for the CLI; the DAGs call them one per task.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

from ingestion import ledger
from ingestion.columnar import ColumnarUnsupported, csv_bytes, good_columns, read_batches
from ingestion.contract import Contract, load_contract
from ingestion.parse import BatchError, Problem, Record, fingerprint, parse_records
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect, ensure_warehouse

log = logging.getLogger(__name__)

Status = Literal["loaded", "skipped", "rejected"]
PROVENANCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "text not null"),
    ("_source_file", "text"),
    ("_source_query", "text"),
    ("_source_row", "bigint not null"),
    ("_file_sha256", "text"),
    ("_ingested_at", "timestamptz not null"),
    ("_extra", "jsonb"),
)
UNSAFE_NAME_PARTS = ("/", "\\", "\x00")
# Below this many staged rows the gate's scans are cheap and ANALYZE would cost more.
ANALYZE_FROM_ROWS = 100_000


class BatchRejected(RuntimeError):
    """A batch was rejected; the message names the file and why, for task logs and the CLI."""

    def __init__(self, result: BatchResult) -> None:
        super().__init__(result.message)
        self.result = result


@dataclass
class BatchResult:
    batch_id: str
    source: str
    file: str
    status: Status
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    warnings: list[str] = field(default_factory=list)
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
        }


@dataclass
class StagedBatch:
    """A parsed batch waiting in `ingest` for the gate; plain data so it can go through XCom."""

    batch_id: str
    source: str
    file: str
    file_sha256: str
    file_bytes: int
    staging_table: str
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    warnings: list[str]

    @property
    def quarantine_table(self) -> str:
        return f"{self.staging_table}__q"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagedBatch:
        return cls(**data)


def check_file_name(name: str) -> str:
    """Refuse names that could escape a folder when the file is archived or rejected."""
    if not name or name in (".", "..") or any(p in name for p in UNSAFE_NAME_PARTS):
        raise BatchError(f"{name!r}: unsafe file name (path separators or NUL are not allowed)")
    if name.startswith("..") or "/.." in name:
        raise BatchError(f"{name!r}: unsafe file name")
    return name


def batch_id_for(contract: Contract, sha256: str) -> str:
    # Deterministic: the same content is the same batch, whatever the file is called.
    return f"{contract.name}-{sha256[:16]}"


def ensure_raw_table(conn: psycopg.Connection, contract: Contract) -> None:
    """Create `raw.<source>__<entity>` from the contract, adding columns the contract gained."""
    columns = [*contract.output_columns(), *PROVENANCE_COLUMNS]
    conn.execute(
        sql.SQL("create table if not exists raw.{} ({})").format(
            sql.Identifier(contract.name),
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
            ),
        )
    )
    for name, sql_type in columns:
        conn.execute(
            sql.SQL("alter table raw.{} add column if not exists {} {}").format(
                sql.Identifier(contract.name),
                sql.Identifier(name),
                sql.SQL(sql_type.replace(" not null", "")),
            )
        )


def ensure_raw_tables(settings: Settings | None = None) -> list[str]:
    """Create every contract's raw table, empty if no batch arrived yet.

    dbt sources must exist before a source's first batch does, so the warehouse builds
    (with empty facts) from day one; called before every dbt command.
    """
    from ingestion.contract import available_contracts

    names = available_contracts()
    with connect(settings, role="loader") as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('observatorio.raw_tables'))")
        for name in names:
            ensure_raw_table(conn, load_contract(name))
    return names


def _create_staging(
    conn: psycopg.Connection, contract: Contract, table: str, constants: dict[str, Any]
) -> None:
    """A fresh per-batch table (and its quarantine twin) in `ingest`.

    Unlogged: it lives only until publish, and a crash leaves nothing in `raw` anyway. The
    provenance columns that are the same for every row of the batch are column defaults, so
    COPY does not carry them once per row.
    """
    columns = [*contract.output_columns(), *PROVENANCE_COLUMNS]
    for name in (table, f"{table}__q"):
        conn.execute(sql.SQL("drop table if exists ingest.{}").format(sql.Identifier(name)))
    conn.execute(
        sql.SQL("create unlogged table ingest.{} ({})").format(
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
        )
    )
    conn.execute(
        sql.SQL(
            "create unlogged table ingest.{} (source_row bigint not null, column_name text,"
            " reason text not null, offending_value text)"
        ).format(sql.Identifier(f"{table}__q"))
    )


def _result_for_skip(contract: Contract, path: Path, batch_id: str, loaded: str) -> BatchResult:
    return BatchResult(
        batch_id=loaded,
        source=contract.name,
        file=path.name,
        status="skipped",
        message=f"{path.name}: same content as batch {loaded}, already loaded or staged; skipped",
    )


def stage_file(
    source: str,
    path: Path,
    settings: Settings | None = None,
    staged_in_run: set[str] | None = None,
) -> StagedBatch | BatchResult:
    """Parse and stage a file. Returns a BatchResult when it ends early (skipped or rejected).

    `staged_in_run` holds the batch ids already staged by the same run, so a re-sent copy
    claimed together with its original is skipped rather than staged twice.
    """
    settings = settings or get_settings()
    contract = load_contract(source)
    check_file_name(path.name)
    if not path.is_file():
        raise BatchError(f"{path}: no such file")
    # The caller has made the warehouse ready (ensure_warehouse runs the bootstrap DDL: once
    # per task or command, not once per file of a year's backfill).
    try:
        print_ = fingerprint(path, contract.encodings)
    except BatchError as exc:
        return _reject_unstaged(contract, path, str(exc), settings)
    batch_id = batch_id_for(contract, print_.sha256)
    with connect(settings, role="loader") as conn:
        loaded = ledger.loaded_batch_for(conn, contract.name, print_.sha256)
        if loaded is None and staged_in_run is not None and batch_id in staged_in_run:
            loaded = batch_id
        if loaded is not None:
            ledger.record_receipt(
                conn, contract.name, path.name, print_.sha256, print_.size, loaded, "skipped"
            )
            return _result_for_skip(contract, path, batch_id, loaded)
        ledger.start_batch(
            conn,
            {
                "batch_id": batch_id,
                "source": contract.name,
                "source_file": path.name,
                "source_query": None,
                "file_sha256": print_.sha256,
                "file_bytes": print_.size,
            },
        )
    table = batch_id.replace("-", "__")
    try:
        counts = _copy_into_staging(
            contract, path, print_.encoding, batch_id, print_.sha256, table, settings
        )
    except BatchError as exc:
        return _reject_unstaged(
            contract, path, str(exc), settings, batch_id, print_.sha256, print_.size
        )
    rows_read, rows_staged, rows_quarantined, warnings = counts
    if staged_in_run is not None:
        staged_in_run.add(batch_id)
    staged = StagedBatch(
        batch_id=batch_id,
        source=contract.name,
        file=str(path),
        file_sha256=print_.sha256,
        file_bytes=print_.size,
        staging_table=table,
        rows_read=rows_read,
        rows_staged=rows_staged,
        rows_quarantined=rows_quarantined,
        warnings=warnings,
    )
    if rows_read and rows_quarantined / rows_read > contract.quarantine_threshold:
        share = rows_quarantined / rows_read
        return reject_batch(
            staged,
            f"{path.name}: {rows_quarantined} of {rows_read} rows ({share:.1%}) broke the "
            f"contract, above the threshold of {contract.quarantine_threshold:.0%}",
            settings,
        )
    return staged


def _copy_into_staging(
    contract: Contract,
    path: Path,
    encoding: str,
    batch_id: str,
    sha256: str,
    table: str,
    settings: Settings,
) -> tuple[int, int, int, list[str]]:
    """Stage the file: column-wise when the columnar reader can, else row by row."""
    key = settings.pseudonym_key()
    if contract.format == "csv":
        try:
            return _stage_columnar(contract, path, encoding, batch_id, sha256, table, settings, key)
        except ColumnarUnsupported as exc:
            # A ragged row, a bad byte...: the row parser quarantines or rejects it exactly.
            log.info("%s: read row by row (%s)", path.name, str(exc).splitlines()[0][:200])
    return _stage_rows(contract, path, encoding, batch_id, sha256, table, settings, key)


def _constants(conn: psycopg.Connection, batch_id: str, path: Path, sha256: str) -> dict[str, Any]:
    now = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
    return {
        "_batch_id": batch_id,
        "_source_file": path.name,
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
) -> tuple[int, int, int, list[str]]:
    rows_read = rows_staged = rows_quarantined = 0
    with connect(settings, role="loader") as conn, connect(settings, role="loader") as qconn:
        _create_staging(conn, contract, table, _constants(conn, batch_id, path, sha256))
        conn.commit()
        plan, batches = read_batches(path, contract, encoding, key)
        copy_good = sql.SQL("copy ingest.{} ({}) from stdin (format csv)").format(
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
    return rows_read, rows_staged, rows_quarantined, plan.warnings


def _analyze(conn: psycopg.Connection, table: str, rows: int) -> None:
    # The gate's queries scan the staged table many times; with statistics the planner
    # sizes its hash joins (the compound-uniqueness check runs about twice as fast).
    if rows >= ANALYZE_FROM_ROWS:
        conn.execute(sql.SQL("analyze ingest.{}").format(sql.Identifier(table)))
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
) -> tuple[int, int, int, list[str]]:
    out_names = [n for n, _ in contract.output_columns()]
    good_cols = [*out_names, "_source_row", "_extra"]
    rows_read = rows_staged = 0
    quarantined_rows: set[int] = set()
    # Two connections: COPY of good rows and COPY of quarantine entries stream side by side.
    with connect(settings, role="loader") as conn, connect(settings, role="loader") as qconn:
        _create_staging(conn, contract, table, _constants(conn, batch_id, path, sha256))
        conn.commit()
        plan, records = parse_records(path, contract, encoding, key)
        copy_good = sql.SQL("copy ingest.{} ({}) from stdin").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, good_cols))
        )
        with (
            conn.cursor().copy(copy_good) as good,
            qconn.cursor().copy(_copy_bad_sql(table)) as bad,
        ):
            for item in records:
                rows_read += 1
                if isinstance(item, Record):
                    extra = json.dumps(item.extra, ensure_ascii=False) if item.extra else None
                    good.write_row((*item.values, item.row, extra))
                    rows_staged += 1
                else:
                    _write_problems(bad, item, quarantined_rows)
        conn.commit()
        qconn.commit()
        _analyze(conn, table, rows_staged)
    return rows_read, rows_staged, len(quarantined_rows), plan.warnings


def _write_problems(copy: Any, problems: list[Problem], rows: set[int]) -> None:
    for problem in problems:
        rows.add(problem.row)
        copy.write_row((problem.row, problem.column, problem.reason, problem.value))


def _reject_unstaged(
    contract: Contract,
    path: Path,
    reason: str,
    settings: Settings,
    batch_id: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
) -> BatchResult:
    if sha256 is None:
        sha256, size = _raw_sha(path)
        batch_id = batch_id_for(contract, sha256)
    assert batch_id is not None and size is not None
    with connect(settings, role="loader") as conn:
        ledger.start_batch(
            conn,
            {
                "batch_id": batch_id,
                "source": contract.name,
                "source_file": path.name,
                "source_query": None,
                "file_sha256": sha256,
                "file_bytes": size,
            },
        )
        ledger.finish_batch(conn, batch_id, "rejected", 0, 0, 0, [], reason)
        ledger.record_receipt(conn, contract.name, path.name, sha256, size, batch_id, "rejected")
    return BatchResult(
        batch_id=batch_id, source=contract.name, file=path.name, status="rejected", message=reason
    )


def _raw_sha(path: Path) -> tuple[str, int]:
    import hashlib

    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _drop_staging(conn: psycopg.Connection, staged: StagedBatch) -> None:
    for name in (staged.staging_table, staged.quarantine_table):
        conn.execute(sql.SQL("drop table if exists ingest.{}").format(sql.Identifier(name)))


def _copy_quarantine(conn: psycopg.Connection, staged: StagedBatch) -> None:
    conn.execute(
        sql.SQL(
            "insert into ops.quarantine"
            " (batch_id, source, source_row, column_name, reason, offending_value)"
            " select %s, %s, source_row, column_name, reason, offending_value"
            " from ingest.{} order by source_row"
        ).format(sql.Identifier(staged.quarantine_table)),
        (staged.batch_id, staged.source),
    )


def reject_batch(staged: StagedBatch, reason: str, settings: Settings | None = None) -> BatchResult:
    """Close a staged batch as rejected: nothing reaches `raw`, quarantine is kept for review."""
    settings = settings or get_settings()
    with connect(settings, role="loader") as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (staged.batch_id,))
        conn.execute("delete from ops.quarantine where batch_id = %s", (staged.batch_id,))
        _copy_quarantine(conn, staged)
        ledger.finish_batch(
            conn,
            staged.batch_id,
            "rejected",
            staged.rows_read,
            0,
            staged.rows_quarantined,
            staged.warnings,
            reason,
        )
        ledger.record_receipt(
            conn,
            staged.source,
            Path(staged.file).name,
            staged.file_sha256,
            staged.file_bytes,
            staged.batch_id,
            "rejected",
        )
        _drop_staging(conn, staged)
    return BatchResult(
        batch_id=staged.batch_id,
        source=staged.source,
        file=Path(staged.file).name,
        status="rejected",
        rows_read=staged.rows_read,
        rows_quarantined=staged.rows_quarantined,
        warnings=staged.warnings,
        message=reason,
    )


def publish_batch(
    staged: StagedBatch, warnings: list[str] | None = None, settings: Settings | None = None
) -> BatchResult:
    """Publish a staged batch to raw and close its ledger row, in one transaction."""
    settings = settings or get_settings()
    contract = load_contract(staged.source)
    all_warnings = [*staged.warnings, *(warnings or [])]
    with connect(settings, role="loader") as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (staged.batch_id,))
        if ledger.loaded_batch_for(conn, staged.source, staged.file_sha256):
            # Another worker published the same content first: this run is a re-send.
            _drop_staging(conn, staged)
            ledger.record_receipt(
                conn,
                staged.source,
                Path(staged.file).name,
                staged.file_sha256,
                staged.file_bytes,
                staged.batch_id,
                "skipped",
            )
            return BatchResult(
                batch_id=staged.batch_id,
                source=staged.source,
                file=Path(staged.file).name,
                status="skipped",
                message="already published by a concurrent run",
            )
        ensure_raw_table(conn, contract)
        columns = [n for n, _ in contract.output_columns()] + [n for n, _ in PROVENANCE_COLUMNS]
        column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
        cursor = conn.execute(
            sql.SQL("insert into raw.{} ({}) select {} from ingest.{}").format(
                sql.Identifier(contract.name),
                column_list,
                column_list,
                sql.Identifier(staged.staging_table),
            )
        )
        rows_loaded = cursor.rowcount
        conn.execute("delete from ops.quarantine where batch_id = %s", (staged.batch_id,))
        _copy_quarantine(conn, staged)
        ledger.finish_batch(
            conn,
            staged.batch_id,
            "loaded",
            staged.rows_read,
            rows_loaded,
            staged.rows_quarantined,
            all_warnings,
        )
        ledger.record_receipt(
            conn,
            staged.source,
            Path(staged.file).name,
            staged.file_sha256,
            staged.file_bytes,
            staged.batch_id,
            "loaded",
        )
        _drop_staging(conn, staged)
    return BatchResult(
        batch_id=staged.batch_id,
        source=staged.source,
        file=Path(staged.file).name,
        status="loaded",
        rows_read=staged.rows_read,
        rows_loaded=rows_loaded,
        rows_quarantined=staged.rows_quarantined,
        warnings=all_warnings,
        message=f"{Path(staged.file).name}: loaded {rows_loaded} rows, "
        f"quarantined {staged.rows_quarantined}",
    )


def move_file(path: Path, status: Status, source: str, settings: Settings | None = None) -> Path:
    """Move a finished file to `archive/<source>/` or `rejected/<source>/`."""
    settings = settings or get_settings()
    base = settings.rejected_dir if status == "rejected" else settings.archive_dir
    target_dir = base / source
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / check_file_name(path.name)
    if target.exists():
        target = target_dir / f"{path.stem}.{int(target.stat().st_mtime_ns)}{path.suffix}"
    shutil.move(str(path), target)
    return target


def ingest_file(
    source: str, path: Path, settings: Settings | None = None, move: bool = False
) -> BatchResult:
    """Stage, gate and publish (or reject) one file: the whole path, for the CLI and tests."""
    settings = settings or get_settings()
    ensure_warehouse(settings)
    staged = stage_file(source, path, settings)
    if isinstance(staged, BatchResult):
        result = staged
    else:
        verdict = gate_staged(staged, settings)
        result = (
            verdict
            if isinstance(verdict, BatchResult)
            else publish_batch(staged, verdict, settings)
        )
    if move:
        move_file(path, result.status, source, settings)
    return result


def gate_batches(
    staged: list[StagedBatch], settings: Settings | None = None
) -> list[BatchResult | list[str]]:
    """Gate staged batches in one GX run: each is rejected (a BatchResult) or passes with
    the warnings to flag it with."""
    from expectations.gate import validate_batches

    settings = settings or get_settings()
    # A header-only file is a day with nothing to report: there is nothing to validate, and
    # it is published as an empty batch with a warning, so the silence stays visible.
    with_rows = [b for b in staged if b.rows_staged > 0]
    outcomes = dict(
        zip((b.batch_id for b in with_rows), validate_batches(with_rows, settings), strict=True)
    )
    verdicts: list[BatchResult | list[str]] = []
    for batch in staged:
        outcome = outcomes.get(batch.batch_id)
        if outcome is None:
            verdicts.append([f"{Path(batch.file).name}: header only, no records (empty batch)"])
            continue
        log.info("gate %s: %s", batch.batch_id, outcome.summary())
        if outcome.rejects:
            reason = f"{Path(batch.file).name}: {outcome.summary()}"
            verdicts.append(reject_batch(batch, reason, settings))
        else:
            verdicts.append(outcome.warnings())
    if staged:
        log.info("Great Expectations Data Docs: file://%s", settings.gx_docs_dir / "index.html")
    return verdicts


def gate_staged(staged: StagedBatch, settings: Settings | None = None) -> BatchResult | list[str]:
    """Gate one staged batch (see gate_batches)."""
    return gate_batches([staged], settings)[0]
