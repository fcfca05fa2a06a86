"""The delivery audit: every delivery of an extract or the bulletin, failed or not, is a row
of `ops.deliveries`. Its columns are created by `core/sql/deliveries.sql` when the warehouse
starts (`observatorio.core.warehouse.ensure_warehouse`); a delivery never changes the schema.
"""

from __future__ import annotations

import json

import psycopg

from observatorio.delivery.manifest import Delivery
from observatorio.delivery.schedule import ScheduledRun
from observatorio.delivery.writers import sha256_file


def already_delivered(conn: psycopg.Connection, spec_name: str, period: str | None) -> bool:
    """Whether this spec and period were delivered successfully before (a re-delivery)."""
    row = conn.execute(
        "select 1 from ops.deliveries where spec_name = %s and success"
        " and period is not distinct from %s limit 1",
        (spec_name, period),
    ).fetchone()
    return row is not None


def audit(
    conn: psycopg.Connection,
    *,
    recipient: str,
    spec_name: str,
    spec_file: str,
    period: str | None,
    channel: str,
    fmt: str,
    triggered_by: str,
    success: bool,
    delivery: Delivery | None = None,
    error: str | None = None,
    is_redelivery: bool = False,
    run: ScheduledRun | None = None,
    disclosure_level: str | None = None,
) -> None:
    """One row per attempt: with `run`, the Airflow run id, its try and its moment; the
    disclosure level (`public`, `external`, `owner`) the delivery was protected for."""
    archive = delivery.archive if delivery else None
    conn.execute(
        "insert into ops.deliveries (recipient, spec_file, spec_name, period, channel, format,"
        " location, remote_location, files, rows_delivered, suppressed_cells, archive_sha256,"
        " bytes_delivered, as_of, is_redelivery, triggered_by, success, error, run_id, attempt,"
        " scheduled_for, disclosure_level) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            recipient,
            spec_file,
            spec_name,
            period,
            channel,
            fmt,
            str(delivery.folder) if delivery else None,
            delivery.remote_location if delivery else None,
            json.dumps(delivery.files if delivery else []),
            delivery.rows if delivery else 0,
            delivery.suppressed_cells if delivery else None,
            sha256_file(archive) if archive else None,
            (archive.stat().st_size if archive else sum(f["bytes"] for f in delivery.files))
            if delivery
            else None,
            delivery.as_of if delivery else None,
            is_redelivery,
            triggered_by,
            success,
            error,
            run.run_id if run else None,
            run.attempt if run else None,
            run.moment if run else None,
            disclosure_level,
        ),
    )
