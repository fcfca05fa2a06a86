"""The justice database loader against real PostgreSQL and MariaDB (tests/local_servers.py)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from simulator.justice import TABLE_COLUMNS, load_database, snapshot
from tests.local_servers import scratch_database

# The session fixture that gives each kind's server (tests/conftest.py).
SERVER_FIXTURES = {"mariadb": "mariadb_url", "postgresql": "postgres_server_url"}


@pytest.fixture(params=sorted(SERVER_FIXTURES))
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    server = request.getfixturevalue(SERVER_FIXTURES[request.param])
    with scratch_database(request.param, server, "sim_test") as url:
        yield url


def test_final_state_csv_is_the_last_version(tiny_run):
    folder = tiny_run.out / "exports" / "justice"
    for table, columns in TABLE_COLUMNS.items():
        with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
            final = list(csv.DictReader(handle))
        assert list(final[0]) == list(columns)
        assert len(final) == len(snapshot(tiny_run.out, table, None))
    statuses = {row["status"] for row in csv.DictReader((folder / "cases.csv").open())}
    assert {"en_investigacion", "archivada", "acusada"} <= statuses


def test_load_replays_history_incrementally(tiny_run, database_url):
    mid = load_database(tiny_run.out, database_url, as_of=date(2024, 6, 30))
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            before = dict(conn.execute(sa.text("select case_id, status from cases")).all())
            latest = conn.execute(sa.text("select max(updated_at) from cases")).scalar_one()
        assert len(before) == mid["cases"] > 0
        assert latest < datetime(2024, 7, 1)
        final = load_database(tiny_run.out, database_url)
        with engine.connect() as conn:
            after = dict(conn.execute(sa.text("select case_id, status from cases")).all())
            counts = {
                t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
                for t in TABLE_COLUMNS
            }
        # Nothing is deleted, statuses move on, and the final load equals the final export.
        assert set(before) <= set(after)
        assert any(before[c] != after[c] for c in before)
        assert counts == final == {t: len(snapshot(tiny_run.out, t, None)) for t in TABLE_COLUMNS}
        assert load_database(tiny_run.out, database_url) == final  # idempotent
    finally:
        engine.dispose()
