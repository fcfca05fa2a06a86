"""The justice database loader against real PostgreSQL 15 and (if available) MariaDB."""

from __future__ import annotations

import csv
import secrets
from collections.abc import Iterator
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from simulator.justice import TABLE_COLUMNS, load_database, snapshot

SERVERS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306",
}


@pytest.fixture(params=sorted(SERVERS))
def database_url(request) -> Iterator[str]:
    if request.param == "mariadb":
        pytest.importorskip("pymysql")
    server = SERVERS[request.param]
    name = f"sim_test_{secrets.token_hex(4)}"
    admin = sa.create_engine(
        f"{server}/postgres" if request.param == "postgresql" else f"{server}/",
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"create database {name}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"{request.param} not reachable: {exc}")
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            if request.param == "postgresql":
                conn.execute(sa.text(f"drop database {name} with (force)"))
            else:
                conn.execute(sa.text(f"drop database {name}"))
        admin.dispose()


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
