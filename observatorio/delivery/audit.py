"""The delivery audit: every delivery of an extract or the bulletin, failed or not, is a row
of `ops.deliveries` (its columns are created by the warehouse's bootstrap SQL). The audit also
answers whether a spec is due in a schedule's window.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import SQL_DIR, connect
from observatorio.delivery.manifest import Delivery
from observatorio.delivery.specs import ExtractSpec
from observatorio.delivery.writers import sha256_file

DELIVERIES_SQL = SQL_DIR / "deliveries.sql"


def ensure_deliveries_columns(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext('observatorio.deliveries'))")
    conn.execute(DELIVERIES_SQL.read_text(encoding="utf-8").encode())


def already_delivered(conn: psycopg.Connection, spec: ExtractSpec, period: str | None) -> bool:
    row = conn.execute(
        "select 1 from ops.deliveries where spec_name = %s and success"
        " and period is not distinct from %s limit 1",
        (spec.name, period),
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
) -> None:
    ensure_deliveries_columns(conn)
    archive = delivery.archive if delivery else None
    conn.execute(
        "insert into ops.deliveries (recipient, spec_file, spec_name, period, channel, format,"
        " location, remote_location, files, rows_delivered, suppressed_cells, archive_sha256,"
        " bytes_delivered, as_of, is_redelivery, triggered_by, success, error)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        ),
    )


def _window(schedule: str, moment: datetime) -> tuple[int, ...]:
    if schedule == "@daily":
        return (moment.year, moment.month, moment.day)
    if schedule == "@weekly":
        iso = moment.isocalendar()
        return (iso.year, iso.week)
    if schedule == "@monthly":
        return (moment.year, moment.month)
    if schedule == "@quarterly":
        return (moment.year, (moment.month - 1) // 3)
    return (moment.year,)


def is_due(
    spec_name: str, schedule: str, settings: Settings | None = None, now: datetime | None = None
) -> bool:
    """True unless a scheduled delivery already succeeded in the schedule's current window."""
    now = now or datetime.now(UTC)
    with connect(settings or get_settings()) as conn:
        ensure_deliveries_columns(conn)
        row = conn.execute(
            "select max(delivered_at) from ops.deliveries"
            " where spec_name = %s and success and triggered_by = 'schedule'",
            (spec_name,),
        ).fetchone()
        conn.commit()
    last = row[0] if row else None
    return last is None or _window(schedule, last.astimezone(UTC)) != _window(schedule, now)
