"""Database roles: who each component connects as, and the one-time bootstrap that makes them.

Every component connects as the role that does its job and nothing more (see the README's
"Security" section for what each role sees):

| role                        | login | what it may do                                          |
|-----------------------------|-------|---------------------------------------------------------|
| `observatorio_owner`        | yes   | owns the schemas and `ops` tables; runs the migrations  |
| `observatorio_loader`       | yes   | writes `ingest`, `raw` and the ingestion tables of `ops` |
| `observatorio_transformer`  | yes   | dbt: reads `raw`/`ops`, builds every dbt schema         |
| `observatorio_delivery`     | yes   | reads `marts`/`reference`, records `ops.deliveries`     |
| `observatorio_airflow`      | yes   | owns Airflow's metadata database, nothing else          |
| `observatorio_bi`           | no    | group of BI logins: reads the `bi` schema only, row by row |
| `observatorio_analyst`      | no    | group granted to named analysts: person-level `marts`   |

Roles are made by `bootstrap_roles`, the only code that connects with administrator rights:
the embedded server's superuser (its password is generated at initdb and kept in the
credentials file), or, on an external server, `OBSERVATORIO_ADMIN_URL` (falling back to the
warehouse URL when its user may create roles). It runs once per credentials version; every
later start connects as the owner. Passwords are generated here and kept in
`<OBSERVATORIO_HOME>/credentials/warehouse.json` (folder 0700, file 0600), never printed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from observatorio.core.locking import file_lock
from observatorio.core.recipients import LOGINS_FILE, BiLogin, load_logins, logins_digest
from observatorio.core.settings import Settings

log = logging.getLogger(__name__)


class Role(StrEnum):
    """The login roles the code connects as."""

    OWNER = "observatorio_owner"
    LOADER = "observatorio_loader"
    TRANSFORMER = "observatorio_transformer"
    DELIVERY = "observatorio_delivery"
    AIRFLOW = "observatorio_airflow"


# Group roles (NOLOGIN): granted to people and BI logins, never connected as.
BI_ROLE = "observatorio_bi"
ANALYST_ROLE = "observatorio_analyst"
GROUP_ROLES = (BI_ROLE, ANALYST_ROLE)

# The owner is a member of the roles whose objects it must manage: migrations move their
# tables, and `alter default privileges for role ...` needs the membership.
OWNER_MEMBER_OF = (Role.LOADER, Role.TRANSFORMER)

# Raise when roles.py or the admin part of the bootstrap changes: the next start re-runs it.
ROLES_VERSION = 2
# Who owns what an earlier version (everything as the superuser) created.
SCHEMA_OBJECT_OWNERS = {
    "ops": Role.OWNER,
    "bi_access": Role.OWNER,
    "raw": Role.LOADER,
    "ingest": Role.LOADER,
    "staging": Role.TRANSFORMER,
    "intermediate": Role.TRANSFORMER,
    "marts": Role.TRANSFORMER,
    "snapshots": Role.TRANSFORMER,
    "reference": Role.TRANSFORMER,
    "bi": Role.TRANSFORMER,
}
SUPERUSER_KEY = "superuser"
EMBEDDED_SUPERUSER = "postgres"


class RoleError(RuntimeError):
    """A role could not be created, or its credentials are missing."""


@dataclass
class Credentials:
    """Generated passwords, kept under OBSERVATORIO_HOME with mode 0600."""

    path: Path
    values: dict[str, Any]

    def __repr__(self) -> str:
        return f"Credentials(path={str(self.path)!r}, roles={sorted(self.passwords())})"

    def passwords(self) -> dict[str, str]:
        stored = self.values.setdefault("passwords", {})
        assert isinstance(stored, dict)
        return stored

    def password(self, name: str) -> str | None:
        return self.passwords().get(name)

    def ensure_password(self, name: str) -> str:
        """The stored password of `name`, generated (and saved) the first time.

        A role's password exists before the role does: Airflow's configuration, read once
        at import, may name it before the warehouse is started. Processes asking at once
        agree on one password: the file is re-read under a lock before anything is added.
        """
        if name not in self.passwords():
            with self._locked():
                if name not in self.passwords():
                    self.passwords()[name] = secrets.token_urlsafe(32)
                    self._write()
        return str(self.passwords()[name])

    def bootstrapped(self, database: str) -> bool:
        done = self.values.get("bootstrapped", {})
        return isinstance(done, dict) and done.get(database) == ROLES_VERSION

    def mark_bootstrapped(self, database: str) -> None:
        self.values.setdefault("bootstrapped", {})[database] = ROLES_VERSION
        self.save()

    def logins_applied(self, digest: str) -> bool:
        """True when the BI logins of this version of bi/logins.yaml exist on the server."""
        return self.values.get("logins_sha256") == digest

    def mark_logins_applied(self, digest: str) -> None:
        self.values["logins_sha256"] = digest
        self.save()

    def forget_bootstrap(self) -> None:
        """A new server has none of our roles: the next start makes them again."""
        self.values.pop("bootstrapped", None)
        self.values.pop("logins_sha256", None)
        self.save()

    def save(self) -> None:
        with self._locked():
            self._write()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the file's lock, with passwords another process saved meanwhile merged in."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path.parent.chmod(0o700)
        with file_lock(self.path.parent / ".lock"):
            if self.path.exists():
                stored = json.loads(self.path.read_text("utf-8")).get("passwords", {})
                # The first password saved for a role is the one the server has.
                self.values["passwords"] = {**self.passwords(), **stored}
            yield

    def _write(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        # Created 0600 before a byte is written: the passwords are never readable by others.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.values, handle, indent=2, sort_keys=True)
        temporary.chmod(0o600)
        temporary.replace(self.path)


def credentials_path(settings: Settings) -> Path:
    return settings.home / "credentials" / "warehouse.json"


def load_credentials(settings: Settings) -> Credentials:
    path = credentials_path(settings)
    values: dict[str, Any] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    return Credentials(path, values)


def _scram(conn: psycopg.Connection[Any], role: str, password: str) -> str:
    # The verifier is computed by libpq: the clear password never reaches the server or its log.
    verifier: bytes = conn.pgconn.encrypt_password(
        password.encode(), role.encode(), b"scram-sha-256"
    )
    return verifier.decode()


def _ensure_role(
    conn: psycopg.Connection[Any], name: str, password: str | None, login: bool
) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    attributes = sql.SQL(
        "{} nosuperuser nocreatedb nocreaterole noreplication nobypassrls inherit"
    ).format(sql.SQL("login" if login else "nologin"))
    if not exists:
        # Another database of the same server may be bootstrapping at the same moment.
        with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            conn.execute(sql.SQL("create role {} with {}").format(sql.Identifier(name), attributes))
    elif login:
        conn.execute(sql.SQL("alter role {} with {}").format(sql.Identifier(name), attributes))
    else:
        # A group an administrator may have given a login to: only the dangerous bits are reset.
        conn.execute(
            sql.SQL("alter role {} with nosuperuser nobypassrls").format(sql.Identifier(name))
        )
    if password is not None:
        conn.execute(
            sql.SQL("alter role {} with password {}").format(
                sql.Identifier(name), sql.Literal(_scram(conn, name, password))
            )
        )


def can_create_roles(url: str) -> bool:
    """True when the user of `url` is a superuser or may create roles."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "select rolsuper or rolcreaterole from pg_roles where rolname = current_user"
        ).fetchone()
    return bool(row and row[0])


def _database_exists(conn: psycopg.Connection[Any], database: str) -> bool:
    return bool(
        conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
    )


def ensure_database(admin_url: str, database: str, owner: str) -> None:
    """Create `database` owned by `owner` if missing; give an existing one to `owner`."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        ident = sql.Identifier(database)
        if not _database_exists(conn, database):
            with contextlib.suppress(
                psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
            ):
                conn.execute(
                    sql.SQL("create database {} owner {}").format(ident, sql.Identifier(owner))
                )
        conn.execute(sql.SQL("alter database {} owner to {}").format(ident, sql.Identifier(owner)))


def _reown_objects(conn: psycopg.Connection[Any], schema_owners: dict[str, str]) -> None:
    """Give schemas and relations made by an earlier, superuser-only version to their role."""
    for schema, owner in schema_owners.items():
        if not conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone():
            continue
        schema_owner = Role.OWNER if schema in SCHEMA_OBJECT_OWNERS else owner
        conn.execute(
            sql.SQL("alter schema {} owner to {}").format(
                sql.Identifier(schema), sql.Identifier(schema_owner)
            )
        )
        rows = conn.execute(
            "select c.relname, c.relkind from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f')"
            " and pg_get_userbyid(c.relowner) <> %s",
            (schema, str(owner)),
        ).fetchall()
        for name, kind in rows:
            keyword = {"v": "view", "m": "materialized view", "f": "foreign table"}.get(
                kind, "table"
            )
            conn.execute(
                sql.SQL("alter {} {}.{} owner to {}").format(
                    sql.SQL(keyword),
                    sql.Identifier(schema),
                    sql.Identifier(name),
                    sql.Identifier(owner),
                )
            )
        functions = conn.execute(
            "select p.oid::regprocedure::text from pg_proc as p"
            " join pg_namespace as n on n.oid = p.pronamespace"
            " where n.nspname = %s and pg_get_userbyid(p.proowner) <> %s",
            (schema, str(owner)),
        ).fetchall()
        for (signature,) in functions:
            conn.execute(
                sql.SQL("alter function {} owner to {}").format(
                    sql.SQL(signature), sql.Identifier(owner)
                )
            )


def bootstrap_roles(
    admin_url: str, settings: Settings, database: str, credentials: Credentials
) -> None:
    """Create the roles, the databases and their ownership (needs administrator rights).

    Idempotent. Passwords come from (and are generated into) `credentials`; on the embedded
    server they are set on every run, so the file and the server always agree.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext('observatorio.roles'))")
        try:
            for role in Role:
                _ensure_role(conn, role, credentials.ensure_password(role), login=True)
            for group in GROUP_ROLES:
                _ensure_role(conn, group, None, login=False)
            for member_of in OWNER_MEMBER_OF:
                conn.execute(
                    sql.SQL("grant {} to {}").format(
                        sql.Identifier(member_of), sql.Identifier(Role.OWNER)
                    )
                )
            ensure_recipient_logins(conn, credentials)
            credentials.mark_logins_applied(logins_digest())
        finally:
            conn.execute("select pg_advisory_unlock(hashtext('observatorio.roles'))")
    ensure_database(admin_url, database, Role.OWNER)
    ensure_database(admin_url, settings.airflow_db, Role.AIRFLOW)
    warehouse_admin = _with_database(admin_url, database)
    with psycopg.connect(warehouse_admin, autocommit=True) as conn:
        db = sql.Identifier(database)
        # Only our roles reach the warehouse database; other users of the server do not.
        conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(db))
        # Temporary tables: dbt unit tests and incremental models, GX, ad-hoc analysis.
        working = [r for r in [*Role, ANALYST_ROLE] if r != Role.AIRFLOW]
        conn.execute(
            sql.SQL("grant connect, temporary on database {} to {}").format(
                db, sql.SQL(", ").join(sql.Identifier(r) for r in working)
            )
        )
        conn.execute(
            sql.SQL("grant connect on database {} to {}").format(db, sql.Identifier(BI_ROLE))
        )
        conn.execute(
            sql.SQL("revoke all on database {} from {}").format(db, sql.Identifier(Role.AIRFLOW))
        )
        conn.execute(sql.SQL("revoke create on schema public from public"))
        _reown_objects(conn, {k: str(v) for k, v in SCHEMA_OBJECT_OWNERS.items()})
    airflow_admin = _with_database(admin_url, settings.airflow_db)
    with psycopg.connect(airflow_admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("revoke connect, temporary on database {} from public").format(
                sql.Identifier(settings.airflow_db)
            )
        )
        _reown_objects(conn, {"public": str(Role.AIRFLOW)})
    credentials.mark_bootstrapped(database)


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def ensure_recipient_logins(
    admin: psycopg.Connection[Any], credentials: Credentials, path: Path = LOGINS_FILE
) -> list[BiLogin]:
    """Create (or reset) each declared login as a member of observatorio_bi; needs admin rights."""
    logins = load_logins(path)
    for item in logins:
        _ensure_role(admin, item.login, credentials.ensure_password(item.login), login=True)
        admin.execute(
            sql.SQL("grant {} to {}").format(sql.Identifier(BI_ROLE), sql.Identifier(item.login))
        )
    return logins
