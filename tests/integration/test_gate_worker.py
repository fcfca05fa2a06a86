"""The gate in a second process (`observatorio.orchestration.gate_worker`): the verdicts and
the rows it writes are the gate's own, an error keeps its type, and a worker that dies is
either replaced by the gate in-process (before it is ready) or named (while it gates)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.loader import BatchResult, publish_batch, stage_file, staging_table_for
from ingestion.staged import StagedBatch
from observatorio.orchestration import gate_worker
from observatorio.orchestration.gate_worker import GateWorker, GateWorkerError, gate_worker_for
from observatorio.orchestration.ingest import gate_staged, ingest_file
from tests.police_files import report_row, write_reports

SOURCE = "police__reports"
RESULTS = (
    "select expectation_type, column_name, severity, success, unexpected_count"
    " from ops.validation_results where batch_id = %s order by 1, 2, 3"
)


def _staged(path: Path, settings: object) -> StagedBatch:
    staged = stage_file(SOURCE, path, settings)  # type: ignore[arg-type]
    assert isinstance(staged, StagedBatch), staged
    return staged


def test_the_worker_gives_the_verdict_and_results_of_the_gate_in_process(
    clean_warehouse, tmp_path, settings
):
    # Two files of the same shape (another report numbering): one gated by the worker, the
    # other in this process; the results GX stored for each are the same, row for row.
    first = [report_row(i) for i in range(1, 21)]
    second = [report_row(i) for i in range(101, 121)]
    by_worker = _staged(write_reports(tmp_path / "a.csv", first), settings)
    with GateWorker() as worker:
        assert worker.ready()
        worker.submit([by_worker], settings)
        [verdict] = worker.verdicts()
    in_process = _staged(write_reports(tmp_path / "b.csv", second), settings)
    assert verdict == gate_staged(in_process, settings)
    assert isinstance(verdict, list)
    db = clean_warehouse
    worker_rows = db.execute(RESULTS, (by_worker.batch_id,)).fetchall()
    assert len(worker_rows) >= 12
    assert worker_rows == db.execute(RESULTS, (in_process.batch_id,)).fetchall()
    assert publish_batch(by_worker, verdict, settings).status == "loaded"
    assert db.execute(
        "select count(*) from raw.police__reports where _batch_id = %s", (by_worker.batch_id,)
    ).fetchone() == (20,)


def test_a_batch_the_worker_rejects_comes_back_rejected_and_leaves_no_staged_table(
    clean_warehouse, tmp_path, settings
):
    rows = [report_row(i) for i in range(1, 6)] + [report_row(2)]
    staged = _staged(write_reports(tmp_path / "d.csv", rows), settings)
    with GateWorker() as worker:
        assert worker.ready()
        worker.submit([staged], settings)
        [verdict] = worker.verdicts()
    assert isinstance(verdict, BatchResult)
    assert verdict.status == "rejected"
    assert "expect_key_to_be_unique(report_id,victim_seq,recorded_at)" in verdict.message
    assert clean_warehouse.execute(
        "select to_regclass(format('ingest.%%I', %s::text))", (staged.staging_table,)
    ).fetchone() == (None,)


def test_an_error_in_the_worker_is_raised_here_with_its_type(clean_warehouse, tmp_path, settings):
    staged = _staged(write_reports(tmp_path / "d.csv", [report_row(1)]), settings)
    gone = StagedBatch.from_dict({**staged.to_dict(), "source": "no_such__source"})
    with pytest.raises(Exception) as in_process:
        gate_staged(gone, settings)
    with GateWorker() as worker, pytest.raises(type(in_process.value)) as from_worker:
        assert worker.ready()
        worker.submit([gone], settings)
        worker.verdicts()
    assert str(from_worker.value) == str(in_process.value)


def test_a_worker_that_dies_is_noticed_before_and_while_it_gates(
    clean_warehouse, tmp_path, settings
):
    staged = _staged(write_reports(tmp_path / "d.csv", [report_row(1)]), settings)
    with GateWorker() as before:
        before._process.kill()
        assert not before.ready()  # ingest_file then gates in-process
    with GateWorker() as during:
        assert during.ready()
        during._process.kill()
        with pytest.raises(
            GateWorkerError, match=re.escape("ended without a verdict (exit code -9)")
        ):
            during.submit([staged], settings)
            during.verdicts()


def test_the_worker_is_started_only_where_it_pays(tmp_path, monkeypatch):
    small = write_reports(tmp_path / "d.csv", [report_row(1)])
    assert gate_worker_for(small) is None  # below GATE_WORKER_FROM_BYTES
    monkeypatch.setattr(gate_worker, "GATE_WORKER_FROM_BYTES", 0)
    import great_expectations  # noqa: F401  (as a process that gated a batch already has)

    assert gate_worker_for(small) is None  # the import is paid already: nothing to hide


INGEST_WITH_WORKER = """
import json, sys
from pathlib import Path
import observatorio.orchestration.gate_worker as gate_worker
from ingestion import raw_tables
from observatorio.orchestration.ingest import ingest_file
gate_worker.GATE_WORKER_FROM_BYTES = 0
raw_tables.ATTACH_FROM_ROWS = 5
gate_worker.WARM_MODULES += tuple(sys.argv[2:])
result = ingest_file("police__reports", Path(sys.argv[1]))
print(json.dumps({**result.as_json(), "gx_here": "great_expectations" in sys.modules}))
"""


@pytest.mark.parametrize(
    ("worker_imports", "gated_here", "index"),
    [((), False, "__record"), (("no_such_module_of_the_gate",), True, "_report_id_idx")],
    ids=["by-the-worker", "worker-failed-so-in-process"],
)
def test_ingest_file_gates_a_large_file_in_the_worker_and_publishes_it(
    clean_warehouse, tmp_path, settings, worker_imports, gated_here, index
):
    # A fresh interpreter, as the CLI: the thresholds lowered so a small file counts as large
    # (gated by the worker, attached as a partition). While the worker gates, the batch's
    # index is built (`prepare_publish`: the partition keeps it); a worker that cannot import
    # the gate says so in one line, and this process gates (the attach builds the index).
    ingest_file(SOURCE, write_reports(tmp_path / "first.csv", [report_row(100)]), settings)
    path = write_reports(tmp_path / "d.csv", [report_row(i) for i in range(1, 31)])
    done = subprocess.run(
        [sys.executable, "-c", INGEST_WITH_WORKER, str(path), *worker_imports],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "loaded"
    assert result["gx_here"] is gated_here
    assert "Traceback" not in done.stderr
    if gated_here:
        assert "could not import the gate: ModuleNotFoundError" in done.stderr
        assert "ended before it was ready (exit code 1); gating in this process" in done.stderr
    db = clean_warehouse
    assert db.execute(
        "select count(*) from raw.police__reports where _batch_id = %s", (result["batch_id"],)
    ).fetchone() == (30,)
    assert db.execute(
        "select count(*) > 0 from ops.validation_results where batch_id = %s",
        (result["batch_id"],),
    ).fetchone() == (True,)
    part = staging_table_for(result["batch_id"])
    assert db.execute(
        "select indexrelid::regclass::text from pg_index where indrelid = %s::regclass",
        (f"raw.{part}",),
    ).fetchall() == [(f"raw.{part}{index}",)]
