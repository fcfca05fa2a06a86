"""Fixtures for the justice pipeline: a simulated country, real source databases, clean state.

The source databases are real servers: the test session's own PostgreSQL (the warehouse's
server) and MariaDB (the machine's on 127.0.0.1:3306, or one the session starts, see
`tests/local_servers.py`); each test gets its own `justice_src_<random>` database, dropped
after.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.local_servers import scratch_database

TABLES = ("cases", "parties", "hearings", "judgements")
# The session fixture that gives each kind's server (tests/conftest.py).
SERVER_FIXTURES = {"mariadb": "mariadb_url", "postgresql": "postgres_server_url"}
# One year of the tiny country: ~240 cases, a few judgements, every status reached.
START = date(2024, 1, 1)
DAYS = 365


@pytest.fixture(scope="session")
def justice_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulator import generate

    out = tmp_path_factory.mktemp("justice_sim")
    generate(out, seed=7, scale="tiny", start=START, days=DAYS)
    return out


@pytest.fixture(params=sorted(SERVER_FIXTURES))
def source_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty justice source database on each server (PostgreSQL and MariaDB)."""
    server = request.getfixturevalue(SERVER_FIXTURES[request.param])
    with scratch_database(request.param, server, "justice_src") as url:
        yield url


@pytest.fixture
def pg_source_db(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty justice source database on PostgreSQL."""
    with scratch_database("postgresql", postgres_server_url, "justice_src") as url:
        yield url


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
