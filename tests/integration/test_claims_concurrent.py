"""Claims are scoped to the run (issue 17): two concurrent runs of one source over the same
landed file load it once, and neither stages (or drops the staging table of) the other's."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestion.landing import ABANDONED_AFTER, claim_files, claimed_dir, inbox
from observatorio.orchestration import ingest as tasks
from tests.police_files import report_row, write_reports

SOURCE = "police__reports"


@pytest.fixture
def landing(settings) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    def clear() -> None:
        for folder in (
            inbox(SOURCE, settings),
            claimed_dir(SOURCE, settings),
            settings.archive_dir / SOURCE,
            settings.rejected_dir / SOURCE,
        ):
            shutil.rmtree(folder, ignore_errors=True)

    clear()
    folder = inbox(SOURCE, settings)
    folder.mkdir(parents=True)
    yield folder
    clear()


def test_two_concurrent_runs_load_a_landed_file_once(landing, clean_warehouse, settings):
    write_reports(landing / "denuncias_20240601.csv", [report_row(i) for i in range(1, 40)])
    both_claimed = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def run(run_id: str) -> None:
        try:
            paths = tasks.claim(SOURCE, run_id)
            outcomes[f"{run_id}.claimed"] = [Path(p).name for p in paths]
            # Both runs hold their claims before either stages, the window in which a shared
            # claim folder made the second run stage (and drop) the first run's batch.
            both_claimed.wait(timeout=60)
            step = tasks.stage(SOURCE, paths)
            outcomes[run_id] = tasks.report(tasks.publish(tasks.gate(step)))
        except Exception as exc:  # any error in either run fails the test below
            both_claimed.abort()
            outcomes[run_id] = exc

    threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert not any(isinstance(v, BaseException) for v in outcomes.values()), outcomes
    claimed = [outcomes["run-1.claimed"], outcomes["run-2.claimed"]]
    assert sorted(claimed, key=len) == [[], ["denuncias_20240601.csv"]]
    assert sorted(outcomes[r]["loaded"] for r in ("run-1", "run-2")) == [0, 1]
    assert all(outcomes[r]["rejected"] == 0 for r in ("run-1", "run-2"))
    db = clean_warehouse
    batches = db.execute(
        "select status, count(*) from ops.batch_ledger where source = %s group by status",
        (SOURCE,),
    ).fetchall()
    assert batches == [("loaded", 1)]
    assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 39
    assert [p.name for p in (settings.archive_dir / SOURCE).iterdir()] == ["denuncias_20240601.csv"]
    assert not any(p.is_file() for p in claimed_dir(SOURCE, settings).rglob("*"))


def test_a_retry_takes_its_own_claims_and_abandoned_ones_are_taken_over(landing, settings):
    write_reports(landing / "denuncias_20240602.csv", [report_row(1)])
    write_reports(landing / "denuncias_20240603.csv", [report_row(2)])
    first = claim_files(SOURCE, settings, "run-a")
    assert [Path(p).name for p in first] == ["denuncias_20240602.csv", "denuncias_20240603.csv"]
    # Another live run sees none of them; the same run, retried, gets them all back.
    assert claim_files(SOURCE, settings, "run-b") == []
    assert claim_files(SOURCE, settings, "run-a") == first
    # Run a dies: once its folder is untouched for ABANDONED_AFTER, the next run takes over.
    old = time.time() - ABANDONED_AFTER.total_seconds() - 60
    os.utime(claimed_dir(SOURCE, settings, "run-a"), (old, old))
    taken = claim_files(SOURCE, settings, "run-c")
    assert [Path(p).name for p in taken] == ["denuncias_20240602.csv", "denuncias_20240603.csv"]
    assert not claimed_dir(SOURCE, settings, "run-a").exists()
