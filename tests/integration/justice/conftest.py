"""Fixtures for the justice pipeline: a simulated country, real source databases, clean state.

The source databases are real servers (PostgreSQL 15 on 127.0.0.1:5432, MariaDB on
127.0.0.1:3306); each test gets its own `justice_src_<random>` database, dropped after.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

TABLES = ("cases", "parties", "hearings", "judgements")
SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306",
}
# One year of the tiny country: ~240 cases, a few judgements, every status reached.
START = date(2024, 1, 1)
DAYS = 365


@pytest.fixture(scope="session")
def justice_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulator import generate

    out = tmp_path_factory.mktemp("justice_sim")
    generate(out, seed=7, scale="tiny", start=START, days=DAYS)
    return out


def _source_database(kind: str) -> Iterator[str]:
    if kind == "mariadb":
        pytest.importorskip("pymysql", reason="the mysql extra (pymysql) is not installed")
    server = SERVERS[kind]
    name = f"justice_src_{secrets.token_hex(4)}"
    admin = sa.create_engine(
        f"{server}/postgres" if kind == "postgresql" else f"{server}/",
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"create database {name}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"{kind} server not reachable at {server}: {exc.orig}")
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            suffix = " with (force)" if kind == "postgresql" else ""
            conn.execute(sa.text(f"drop database if exists {name}{suffix}"))
        admin.dispose()


@pytest.fixture(params=sorted(SERVERS))
def source_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty justice source database on each server (PostgreSQL and MariaDB)."""
    yield from _source_database(request.param)


@pytest.fixture
def pg_source_db() -> Iterator[str]:
    """A fresh, empty justice source database on PostgreSQL."""
    yield from _source_database("postgresql")


@pytest.fixture
def justice_state(clean_warehouse, settings):  # type: ignore[no-untyped-def]
    """A warehouse with no justice watermarks, landed files or archives."""
    from ingestion.landing import claimed_dir, inbox

    db = clean_warehouse
    db.execute("delete from ops.watermarks where source like 'justice%%'")
    for table in TABLES:
        source = f"justice__{table}"
        for folder in (
            inbox(source, settings),
            claimed_dir(source, settings),
            settings.archive_dir / source,
            settings.rejected_dir / source,
        ):
            shutil.rmtree(folder, ignore_errors=True)
    return db
