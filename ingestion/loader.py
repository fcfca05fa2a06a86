"""Loading a file batch: stage it, let the gate judge it, then publish it or reject it.

`stage_file` fingerprints the file, skips content that was already loaded, parses it
against its contract and COPYs good records into a per-batch table in `ingest` (bad ones
into its quarantine twin; `ingestion.stage_copy`). Tabular files of every format are
typed column-wise (`ingestion.columnar`); JSON, and CSV files that reader cannot split
the way `csv` does, go through the row parser.
`publish_batch` moves the batch into `raw.<source>__<entity>` (a large batch's staged table
becomes the raw table's partition for that batch; smaller ones are copied into its default
partition) and closes the ledger row in one transaction, so a crash anywhere leaves the
whole batch or nothing. `ingest_file`
chains the steps for the CLI; the DAGs call them one per task.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql

from ingestion import ledger
from ingestion.contract import Contract, load_contract
from ingestion.errors import BatchError
from ingestion.raw_tables import ensure_raw_table, index_before_attach, publish_rows
from ingestion.stage_copy import (
    _stage_columnar,
    _stage_rows,
    copy_into_staging,
)
from ingestion.staged import StagedBatch
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect

log = logging.getLogger(__name__)

__all__ = ["BatchError", "BatchResult", "StagedBatch", "_stage_columnar", "_stage_rows"]

Status = Literal["loaded", "skipped", "rejected"]
UNSAFE_NAME_PARTS = ("/", "\\", "\x00")


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
    # Footer rows (counted, never loaded) and the sum of the count column, if any.
    rows_footer: int = 0
    count_loaded: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
        }


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


def staging_table_for(batch_id: str) -> str:
    """The batch's table: in `ingest` while staged, then a partition of its raw table if large."""
    return batch_id.replace("-", "__")


def ensure_raw_tables(settings: Settings | None = None) -> list[str]:
    """Create every contract's raw table, empty if no batch arrived yet.

    dbt sources must exist before a source's first batch does, so the warehouse builds
    (with empty facts) from day one; called before every dbt command.
    """
    from ingestion.contract import modelled_contracts

    names = modelled_contracts()
    with connect(settings, role="loader") as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('observatorio.raw_tables'))")
        for name in names:
            ensure_raw_table(conn, load_contract(name))
    return names


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
    sha256, size = _raw_sha(path)
    batch_id = batch_id_for(contract, sha256)
    with connect(settings, role="loader") as conn:
        ledger.check_key_fingerprint(conn, settings.key_fingerprint())
        loaded = ledger.loaded_batch_for(conn, contract.name, sha256)
        if loaded is None and staged_in_run is not None and batch_id in staged_in_run:
            loaded = batch_id
        if loaded is not None:
            ledger.record_receipt(conn, contract.name, path.name, sha256, size, loaded, "skipped")
            return _result_for_skip(contract, path, batch_id, loaded)
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
    table = staging_table_for(batch_id)
    try:
        counts = copy_into_staging(contract, path, batch_id, sha256, table, settings)
    except BatchError as exc:
        return _reject_unstaged(contract, path, str(exc), settings, batch_id, sha256, size)
    rows_read, rows_staged, rows_quarantined = (
        counts.rows_read,
        counts.rows_staged,
        counts.rows_quarantined,
    )
    warnings = counts.warnings
    if counts.rows_footer:
        with connect(settings, role="loader") as conn:
            ledger.record_footer_rows(conn, batch_id, counts.rows_footer)
    if staged_in_run is not None:
        staged_in_run.add(batch_id)
    staged = StagedBatch(
        batch_id=batch_id,
        source=contract.name,
        file=str(path),
        file_sha256=sha256,
        file_bytes=size,
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


def prepare_publish(staged: StagedBatch, settings: Settings | None = None) -> None:
    """What of the publish can be done before the verdict (the batch's raw index, where it
    will be attached), in its own transaction: `ingest_file` runs it while the gate runs."""
    with connect(settings or get_settings(), role="loader") as conn:
        index_before_attach(conn, load_contract(staged.source), staged)


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
        count_loaded = _sum_of_counts(conn, contract, staged.staging_table)
        rows_loaded = publish_rows(conn, contract, staged)
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
            count_loaded=count_loaded,
        )
        rows_footer = ledger.footer_rows(conn, staged.batch_id)
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
        f"quarantined {staged.rows_quarantined}"
        + (f", {rows_footer} footer rows" if rows_footer else ""),
        rows_footer=rows_footer,
        count_loaded=count_loaded,
    )


def _sum_of_counts(conn: psycopg.Connection, contract: Contract, table: str) -> int | None:
    """The events or victims the staged rows stand for (None without a count column)."""
    column = contract.count_column
    if column is None:
        return None
    row = conn.execute(
        sql.SQL("select coalesce(sum({}), 0) from ingest.{}").format(
            sql.Identifier(column.name), sql.Identifier(table)
        )
    ).fetchone()
    return int(row[0]) if row else 0


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
