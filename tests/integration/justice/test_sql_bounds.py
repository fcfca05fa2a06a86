"""The SQL connector reads only what the contract declares and never waits forever (issue 17)."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingestion.connectors import sql as connector
from ingestion.landing import inbox
from simulator.justice import load_database

SOURCE = "justice__cases"
PLANTED = "Calle Falsa 123, apto 4"


def test_a_column_added_at_the_source_is_never_read(
    source_db, justice_sim, justice_state, settings, caplog
):
    load_database(justice_sim, source_db)
    engine = sa.create_engine(source_db)
    with engine.begin() as conn:
        conn.execute(sa.text("alter table cases add column direccion_victima varchar(200)"))
        conn.execute(sa.text("update cases set direccion_victima = :v"), {"v": PLANTED})
    engine.dispose()
    with caplog.at_level(logging.WARNING, logger=connector.log.name):
        result = connector.extract(SOURCE, source_db, settings=settings)
    assert result.status == "landed" and result.rows > 100
    text = Path(str(result.file)).read_text(encoding="utf-8")
    assert PLANTED not in text
    assert all("direccion_victima" not in json.loads(line) for line in text.splitlines())
    # The column's name is said, so the contract can be extended on purpose; its values never.
    assert "direccion_victima" in caplog.text and PLANTED not in caplog.text


def test_a_source_that_hangs_fails_the_pull_at_the_statement_timeout(
    source_db, justice_sim, justice_state, settings
):
    load_database(justice_sim, source_db)
    engine = sa.create_engine(source_db)
    locked, release = threading.Event(), threading.Event()

    def hold_the_table() -> None:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("begin"))
                conn.execute(sa.text("lock table cases in access exclusive mode"))
            else:
                conn.execute(sa.text("lock tables cases write"))
            locked.set()
            release.wait(60)
            conn.execute(
                sa.text("rollback" if engine.dialect.name == "postgresql" else "unlock tables")
            )

    holder = threading.Thread(target=hold_the_table, daemon=True)
    holder.start()
    assert locked.wait(30)
    started = time.monotonic()
    try:
        with pytest.raises(sa.exc.OperationalError):
            connector.extract(SOURCE, source_db, settings=settings, statement_timeout=2)
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(30)
        engine.dispose()
    assert waited < 20
    # Nothing half-written is left for the loader.
    assert [p.name for p in inbox(SOURCE, settings).iterdir()] == []
