"""Incremental pulls from operational SQL databases (PostgreSQL, MariaDB/MySQL), landed as files.

`extract(source)` reads the contract's cursor (`cursor: [updated_at, <id column>]`) and the
source's watermark, re-reads an overlap window before it (late commits: a row committed
after our last pull with an older `updated_at`), streams the rows ordered by the cursor in
server-side batches and writes them as JSON lines into the source's landing inbox. The file
is fsynced and atomically renamed into place before the watermark advances, so a crash
re-reads rather than loses rows. Rows re-read in the overlap reach `raw` again when the
file's content is new; staging keeps one row per (id, updated_at). Called by the
`ingest_justice` DAG's `extract` tasks and by `tests/integration/justice/`.

The connection URL comes from the Airflow connection `justice_db` as its environment form
(`AIRFLOW_CONN_JUSTICE_DB`, a URI or JSON) or from `OBSERVATORIO_JUSTICE_URL`. Passwords are
never logged: every URL that reaches a log is rendered with the password masked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ingestion import watermarks
from ingestion.contract import Contract, load_contract
from ingestion.landing import inbox
from observatorio.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEFAULT_CONNECTION_ID = "justice_db"
DEFAULT_URL_ENV = "OBSERVATORIO_JUSTICE_URL"
DEFAULT_OVERLAP = timedelta(minutes=10)
DEFAULT_BATCH_ROWS = 5_000
# A source that does not answer within these fails the pull (the task retries later).
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT_SECONDS = 30 * 60
# Airflow connection types (and URI schemes) to SQLAlchemy drivers.
DRIVERS: dict[str, str] = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}
STAMP = "%Y%m%dT%H%M%S"


class ConnectorError(RuntimeError):
    """A pull cannot run: no connection configured, or the contract lacks a usable cursor."""


@dataclass(frozen=True)
class ExtractResult:
    """What one pull did; plain data (no rows, no secrets) so it can go through XCom."""

    source: str
    status: Literal["landed", "nothing_new"]
    rows: int
    new_rows: int
    file: str | None
    file_sha256: str | None
    window_start: str | None
    window_end: str | None
    cursor: dict[str, Any] | None
    query: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# --- the connection ------------------------------------------------------------------------


def _driver(scheme: str) -> str:
    if "+" in scheme:
        return scheme
    try:
        return DRIVERS[scheme.lower()]
    except KeyError:
        raise ConnectorError(
            f"unsupported connection type {scheme!r}: expected one of {sorted(DRIVERS)}"
        ) from None


def url_from_airflow_connection(value: str) -> str:
    """A SQLAlchemy URL from an Airflow connection in its environment form (URI or JSON)."""
    text = value.strip()
    if text.startswith("{"):
        data = json.loads(text)
        url = URL.create(
            drivername=_driver(str(data.get("conn_type", ""))),
            username=data.get("login") or None,
            password=data.get("password") or None,
            host=data.get("host") or None,
            port=int(data["port"]) if data.get("port") else None,
            database=data.get("schema") or None,
        )
    else:
        parsed = make_url(text)
        url = parsed.set(drivername=_driver(parsed.drivername))
    return url.render_as_string(hide_password=False)


def source_url(connection_id: str = DEFAULT_CONNECTION_ID, env_var: str = DEFAULT_URL_ENV) -> str:
    """The source database's SQLAlchemy URL: the Airflow connection first, then `env_var`."""
    airflow_value = os.environ.get(f"AIRFLOW_CONN_{connection_id.upper()}")
    if airflow_value:
        return url_from_airflow_connection(airflow_value)
    direct = os.environ.get(env_var)
    if direct:
        return url_from_airflow_connection(direct)
    raise ConnectorError(
        f"no database configured: set the Airflow connection {connection_id!r} "
        f"(AIRFLOW_CONN_{connection_id.upper()}) or {env_var}"
    )


def redact(url: str) -> str:
    """The URL with its password masked, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


# --- the pull ------------------------------------------------------------------------------


def _cursor_columns(contract: Contract) -> tuple[str, str]:
    if len(contract.cursor) != 2:
        raise ConnectorError(
            f"{contract.path}: an incremental SQL pull needs `cursor: [updated_at, <id column>]`,"
            f" got {list(contract.cursor)}"
        )
    names = {c.name: c.source for c in contract.columns}
    ts, key = contract.cursor
    return names.get(ts, ts), names.get(key, key)


def _declared_columns(contract: Contract, table: sa.Table) -> list[sa.Column[Any]]:
    """Only the columns the contract declares: a column added at the source (an address, a
    narrative) is never read, let alone landed; its name is logged so the contract can be
    extended deliberately. A declared column the table lacks is left to the loader's checks."""
    declared = [c.source for c in contract.columns]
    undeclared = sorted(set(table.c.keys()) - set(declared))
    if undeclared:
        log.warning(
            "%s: source columns not in the contract were not read: %s",
            contract.name,
            ", ".join(undeclared),
        )
    return [table.c[name] for name in declared if name in table.c]


def _bounded(url: str, statement_timeout: int) -> dict[str, Any]:
    """Connection arguments that bound a pull: a connect timeout, and a statement timeout
    (PostgreSQL) or socket read timeout (MariaDB/MySQL), so a stuck source fails the task
    instead of holding it forever."""
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        return {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": f"-c statement_timeout={statement_timeout * 1000}",
        }
    if backend in ("mysql", "mariadb"):
        return {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "read_timeout": statement_timeout,
        }
    return {}


def _stamp(moment: datetime | None) -> str:
    return moment.strftime(STAMP) if moment is not None else "begin"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep="T", timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def _line(row: Mapping[Any, Any]) -> str:
    return json.dumps(dict(row), default=_json_value, ensure_ascii=False) + "\n"


def _start_cursor(stored: dict[str, Any] | None, interval: str | None) -> dict[str, Any] | None:
    """Where this pull starts: the watermark, or (re-running the same data interval) the
    watermark that interval started from, so a re-run reads the same window again."""
    if stored and interval is not None and stored.get("interval") == interval:
        previous = stored.get("previous")
        return dict(previous) if previous else None
    if not stored:
        return None
    return {k: v for k, v in stored.items() if k not in ("interval", "previous")}


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _query_text(stmt: sa.Select[Any], dialect: sa.Dialect, params: dict[str, Any]) -> str:
    sql_text = " ".join(str(stmt.compile(dialect=dialect)).split())
    return f"{sql_text} -- {json.dumps(params, default=_json_value, sort_keys=True)}"


def extract(
    source: str,
    url: str | None = None,
    *,
    settings: Settings | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    until: datetime | None = None,
    interval: str | None = None,
    statement_timeout: int = STATEMENT_TIMEOUT_SECONDS,
) -> ExtractResult:
    """Pull the rows of `source`'s table changed since its watermark and land them as a file.

    `until` (exclusive) bounds the window at the data interval's end; `interval` names the
    data interval, so re-running it re-reads the same window (identical content is then
    skipped by the loader). Lands nothing, and keeps the watermark, when no row is newer
    than the watermark.
    """
    settings = settings or get_settings()
    contract = load_contract(source)
    ts_col, id_col = _cursor_columns(contract)
    url = url or source_url()
    stored = watermarks.read(contract.name, settings)
    start = _start_cursor(stored, interval)
    start_at = datetime.fromisoformat(start["updated_at"]) if start else None
    start_key = (start_at, str(start[id_col])) if start and start_at else None
    lower = start_at - overlap if start_at is not None else None

    folder = inbox(source, settings)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{contract.name}.{uuid.uuid4().hex}.part"
    engine = sa.create_engine(
        url, pool_pre_ping=True, connect_args=_bounded(url, statement_timeout)
    )
    rows = new_rows = 0
    last: tuple[datetime, str] | None = None
    digest = hashlib.sha256()
    try:
        with engine.connect() as conn:
            table = sa.Table(contract.entity, sa.MetaData(), autoload_with=conn)
            updated, key = table.c[ts_col], table.c[id_col]
            stmt = sa.select(*_declared_columns(contract, table)).order_by(updated, key)
            params: dict[str, Any] = {}
            if start_key is not None and overlap <= timedelta(0):
                # No overlap: strict keyset continuation after (updated_at, id).
                stmt = stmt.where(
                    sa.or_(
                        updated > start_key[0],
                        sa.and_(updated == start_key[0], key > start_key[1]),
                    )
                )
                params.update(after_updated_at=start_key[0], after_id=start_key[1])
            elif lower is not None:
                stmt = stmt.where(updated >= lower)
                params["from_updated_at"] = lower
            if until is not None:
                stmt = stmt.where(updated < until)
                params["until_updated_at"] = until
            query = _query_text(stmt, engine.dialect, params)
            log.info("pulling %s from %s: %s", contract.name, redact(url), query)
            streamed = conn.execution_options(stream_results=True, max_row_buffer=batch_rows)
            result = streamed.execute(stmt).mappings()
            with part.open("wb") as handle:
                for chunk in result.partitions(batch_rows):
                    data = "".join(_line(row) for row in chunk).encode("utf-8")
                    handle.write(data)
                    digest.update(data)
                    rows += len(chunk)
                    for row in chunk:
                        position = (row[ts_col], str(row[id_col]))
                        if start_key is None or position > start_key:
                            new_rows += 1
                    last = (chunk[-1][ts_col], str(chunk[-1][id_col]))
                handle.flush()
                os.fsync(handle.fileno())
        if new_rows == 0 or last is None:
            part.unlink()
            log.info("%s: nothing changed since %s", contract.name, start)
            return ExtractResult(
                contract.name, "nothing_new", rows, 0, None, None, None, None, stored, query
            )
        name = f"{contract.name}_{_stamp(lower)}_{_stamp(last[0])}.jsonl"
        target = folder / name
        os.replace(part, target)
        _fsync_dir(folder)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    cursor: dict[str, Any] = {"updated_at": last[0].isoformat(), id_col: last[1]}
    if interval is not None:
        cursor.update(interval=interval, previous=start)
    # Only now, with the file durable under its final name, may the watermark move.
    watermarks.advance(contract.name, cursor, settings)
    log.info(
        "%s: landed %s rows (%s new) as %s; watermark now %s",
        contract.name,
        rows,
        new_rows,
        name,
        cursor["updated_at"],
    )
    return ExtractResult(
        source=contract.name,
        status="landed",
        rows=rows,
        new_rows=new_rows,
        file=str(target),
        file_sha256=digest.hexdigest(),
        window_start=lower.isoformat() if lower else None,
        window_end=last[0].isoformat(),
        cursor=cursor,
        query=query,
    )


def changed_since_watermark(
    source: str, url: str | None = None, *, settings: Settings | None = None
) -> watermarks.Probe:
    """Whether `extract(source)` would land anything: one row after the watermark is enough.

    Asks the source for a single row past the watermark's `(updated_at, id)` in the cursor's
    order, the rows `extract` counts as new (without a watermark: any row at all). A late
    commit stamped before the watermark is not new to `extract` either: it is landed with
    the next pull that has a new row in its overlap window. Same connection as `extract`.
    """
    settings = settings or get_settings()
    contract = load_contract(source)
    ts_col, id_col = _cursor_columns(contract)
    url = url or source_url()
    start = _start_cursor(watermarks.read(contract.name, settings), None)
    engine = sa.create_engine(url, connect_args=_bounded(url, CONNECT_TIMEOUT_SECONDS))
    try:
        with engine.connect() as conn:
            table = sa.Table(contract.entity, sa.MetaData(), autoload_with=conn)
            updated, key = table.c[ts_col], table.c[id_col]
            stmt = sa.select(sa.literal(1)).select_from(table).limit(1)
            if start:
                after = datetime.fromisoformat(start["updated_at"])
                stmt = stmt.where(
                    sa.or_(updated > after, sa.and_(updated == after, key > start[id_col]))
                )
            found = conn.execute(stmt).first() is not None
    finally:
        engine.dispose()
    where = f"after ({start['updated_at']}, {start[id_col]})" if start else "(no watermark yet)"
    return watermarks.Probe(
        contract.name,
        found,
        f"{'a row' if found else 'no row'} {where} in {contract.entity}",
    )


def record_source_queries(
    results: Iterable[Mapping[str, Any]], settings: Settings | None = None
) -> int:
    """Note each landed pull's query on the ledger row of the batch its file became.

    The loader opens ledger rows without a query (it only sees files); this fills
    `ops.batch_ledger.source_query` afterwards, matching the batch by content checksum.
    """
    from observatorio.core.warehouse import connect

    updated = 0
    with connect(settings, role="loader") as conn:
        for result in results:
            if result.get("status") != "landed" or not result.get("file_sha256"):
                continue
            cursor = conn.execute(
                "update ops.batch_ledger set source_query = %s"
                " where source = %s and file_sha256 = %s and source_query is null",
                (result["query"], result["source"], result["file_sha256"]),
            )
            updated += cursor.rowcount
    return updated
