"""The batch ledger in `ops`: what arrived, what was loaded, rejected or skipped, and when.

The loader is the only writer. Readers (the run summary, `observatorio explain`, the
data-quality marts) query `ops.batch_ledger` and `ops.file_receipts` directly.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from observatorio.core.settings import SettingsError

log = logging.getLogger(__name__)


def loaded_batch_for(conn: psycopg.Connection, source: str, sha256: str) -> str | None:
    """The batch that already published this exact content, if any."""
    row = conn.execute(
        "select batch_id from ops.batch_ledger"
        " where source = %s and file_sha256 = %s and status = 'loaded'",
        (source, sha256),
    ).fetchone()
    return str(row[0]) if row else None


def check_key_fingerprint(conn: psycopg.Connection, fingerprint: str) -> None:
    """Record the pseudonym key's fingerprint on first use; refuse a different key after.

    Pseudonyms made under two keys never match, so linkage would silently split every
    person: a changed key is a configuration error, raised before anything is staged.
    """
    conn.execute(
        "insert into ops.key_fingerprint (id, fingerprint) values (1, %s)"
        " on conflict (id) do nothing",
        (fingerprint,),
    )
    row = conn.execute("select fingerprint from ops.key_fingerprint where id = 1").fetchone()
    if row is not None and row[0] != fingerprint:
        raise SettingsError(
            f"OBSERVATORIO_PSEUDONYM_KEY is not the key this warehouse's pseudonyms were made "
            f"with (fingerprint {fingerprint}, the warehouse's {row[0]}): pseudonyms would no "
            "longer link. Use the original key, or rotate it as the README's Security section says."
        )


def start_batch(conn: psycopg.Connection, batch: dict[str, Any]) -> None:
    """Open (or re-open, after a crash or an earlier rejection) the batch's ledger row."""
    conn.execute(
        """
        insert into ops.batch_ledger
            (batch_id, source, source_file, source_query, file_sha256, file_bytes, status)
        values (%(batch_id)s, %(source)s, %(source_file)s, %(source_query)s,
                %(file_sha256)s, %(file_bytes)s, 'loading')
        on conflict (batch_id) do update set
            source_file = excluded.source_file,
            status = 'loading', rows_read = 0, rows_loaded = 0, rows_quarantined = 0,
            rows_footer = 0, count_loaded = null,
            has_warnings = false, warnings = '{}', error = null,
            started_at = now(), validated_at = null, finished_at = null
        where ops.batch_ledger.status <> 'loaded'
        """,
        batch,
    )


def finish_batch(
    conn: psycopg.Connection,
    batch_id: str,
    status: str,
    rows_read: int,
    rows_loaded: int,
    rows_quarantined: int,
    warnings: list[str],
    error: str | None = None,
    count_loaded: int | None = None,
) -> bool:
    """Close a batch that is loading; returns False (and changes nothing) for any other.

    A loaded batch is final: a concurrent run, or a retry that rejects the same content
    later, never relabels it, so the ledger never says `rejected` for rows that are in `raw`.
    """
    done = conn.execute(
        """
        update ops.batch_ledger set
            status = %s, rows_read = %s, rows_loaded = %s, rows_quarantined = %s,
            has_warnings = %s, warnings = %s, error = %s, count_loaded = %s,
            validated_at = coalesce(validated_at, now()), finished_at = now()
        where batch_id = %s and status = 'loading'
        """,
        (
            status,
            rows_read,
            rows_loaded,
            rows_quarantined,
            bool(warnings),
            warnings,
            error,
            count_loaded,
            batch_id,
        ),
    )
    if done.rowcount == 0:
        log.warning("batch %s is not loading (already finished): its ledger row is kept", batch_id)
    return done.rowcount == 1


def record_footer_rows(conn: psycopg.Connection, batch_id: str, rows: int) -> None:
    """Footer rows (notes, sources) staging counted: part of rows_read, never loaded."""
    conn.execute(
        "update ops.batch_ledger set rows_footer = %s where batch_id = %s", (rows, batch_id)
    )


def footer_rows(conn: psycopg.Connection, batch_id: str) -> int:
    row = conn.execute(
        "select rows_footer from ops.batch_ledger where batch_id = %s", (batch_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def record_receipt(
    conn: psycopg.Connection,
    source: str,
    file_name: str,
    sha256: str,
    size: int,
    batch_id: str,
    outcome: str,
) -> None:
    conn.execute(
        "insert into ops.file_receipts"
        " (source, file_name, file_sha256, file_bytes, batch_id, outcome)"
        " values (%s, %s, %s, %s, %s, %s)",
        (source, file_name, sha256, size, batch_id, outcome),
    )
