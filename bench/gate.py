"""Issue 4's figure: Great Expectations validation time ÷ load (staging) time on one batch.

`python -m bench.gate --rows 1000000` stages a generated police file (parse, pseudonymise,
COPY into `ingest`), runs the gate on it inside PostgreSQL, and writes
`bench/results/gate.json` with both timings and their ratio (goal ≤ 1). The batch is then
rejected, so nothing reaches `raw`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "gate.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    from bench.ingest import forget_earlier_runs, write_police_file
    from expectations.gate import validate_batch
    from ingestion.loader import reject_batch, stage_file
    from ingestion.staged import StagedBatch
    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import connect, ensure_warehouse

    settings = get_settings()
    ensure_warehouse(settings)
    path = Path(tempfile.mkdtemp(prefix="bench-gate-")) / f"denuncias_gate_{args.rows}.csv"
    write_police_file(path, args.rows, seed=2)
    with connect(settings) as conn:
        forget_earlier_runs(conn, path)
    started = time.perf_counter()
    staged = stage_file("police__reports", path, settings)
    load_seconds = time.perf_counter() - started
    assert isinstance(staged, StagedBatch), staged
    started = time.perf_counter()
    outcome = validate_batch(staged, settings)
    validate_seconds = time.perf_counter() - started
    reject_batch(staged, "benchmark batch, not for publication", settings)
    results = {
        "rows": staged.rows_read,
        "load_seconds": round(load_seconds, 2),
        "validation_seconds": round(validate_seconds, 2),
        "validation_over_load": round(validate_seconds / load_seconds, 3),
        "expectations": len(outcome.results),
        "critical_failures": len(outcome.failed("critical")),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
