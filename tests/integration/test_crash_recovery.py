"""A loader killed with SIGKILL in the middle of its COPY leaves nothing behind, and the
re-run loads every row exactly once."""

import os
import signal
import subprocess
import sys
import time

import psycopg

from bench.ingest import write_police_file

ROWS = 150_000


def _wait_for_copy(url: str, process: subprocess.Popen, seconds: float = 120.0) -> int:
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the loader finished before it could be killed"
            # By the statement: the staged table is created in its COPY's transaction, so
            # no other session sees it in pg_class yet.
            row = conn.execute(
                "select p.tuples_processed from pg_stat_progress_copy p"
                " join pg_stat_activity a on a.pid = p.pid"
                " where a.query ilike 'copy ingest.%' and p.command = 'COPY FROM'"
                " and p.tuples_processed > 1000"
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("no COPY into ingest seen")


def test_sigkill_mid_copy_then_rerun_loads_each_row_once(clean_warehouse, warehouse_url, tmp_path):
    path = tmp_path / "denuncias_crash.csv"
    write_police_file(path, ROWS, seed=9)
    command = [
        sys.executable,
        "-m",
        "observatorio.cli.app",
        "ingest",
        "police__reports",
        str(path),
        "--json",
    ]
    loader = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy()
    )
    copied = _wait_for_copy(warehouse_url, loader)
    loader.send_signal(signal.SIGKILL)
    loader.wait(timeout=30)
    assert loader.returncode == -signal.SIGKILL
    assert 0 < copied < ROWS

    db = clean_warehouse
    raw = db.execute("select to_regclass('raw.police__reports')").fetchone()[0]
    if raw is not None:
        assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 0
    assert db.execute("select status from ops.batch_ledger").fetchone()[0] == "loading"

    rerun = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    counts = db.execute(
        "select count(*), count(distinct (report_id, victim_seq, recorded_at))"
        " from raw.police__reports"
    ).fetchone()
    assert counts == (ROWS, ROWS)
    ledger = db.execute("select status, rows_read, rows_loaded from ops.batch_ledger").fetchall()
    assert ledger == [("loaded", ROWS, ROWS)]
    leftovers = db.execute("select count(*) from pg_tables where schemaname = 'ingest'").fetchone()[
        0
    ]
    assert leftovers == 0
