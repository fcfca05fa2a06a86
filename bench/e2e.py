"""End to end at national scale: simulate, ingest, gate, build and deliver, stage by stage.

    python -m bench.e2e --rows 1000000 [--rows 3000000 ...] [--municipalities 5570
        --departments 27] [--results FILE] [--keep]

Each case (a row count, on the demo geography or a larger one) gets its own scratch
OBSERVATORIO_HOME under `.observatorio/bench/e2e/` (an earlier run's, kept or not, is removed
first: a case starts from nothing) and so its own embedded warehouse on
OBSERVATORIO_WAREHOUSE_PORT (stopped when the case ends, unless `--keep`), or the warehouse of
OBSERVATORIO_WAREHOUSE_URL (an external PostgreSQL: the case then runs in that database, which
should be empty). Every stage runs in its own interpreter, as each is its own Airflow task, and
reports its wall time and its own peak RSS (`ru_maxrss`; the PostgreSQL server is not counted):

- `simulate`: a police export of N victim rows from the simulator's world (its municipalities,
  penal code and ID rules; `bench.ingest.write_police_file`), and for a larger geography its
  reference seeds (`simulator.reference.write_seeds`). Excluded from the goal, as in the issue.
- `reference`: `dbt parse` (the manifest the delivery reads) and `dbt seed`; a larger
  geography then replaces the municipality, population and alias seed tables with its own
  files by COPY (dbt's CSV seeding takes minutes for the 2.5M-row population table, and the
  project's seeds stay the demo's).
- `stage`, `gate`, `publish`: `ingestion.loader.stage_file`, the Great Expectations gate
  (`observatorio.orchestration.gating.gate_batches`), `ingestion.loader.publish_batch`.
- `build`: `dbt build` without the seeds (already loaded by `reference`), planned and recorded
  as `build_warehouse` does (`observatorio.transform.builds`: `--full-refresh` for the first
  build); its result lists the slowest nodes (models, snapshots, tests) and the seconds spent
  in tests.
- `deliver`: the `unidad_analitica` extract (`observatorio.delivery.extracts.deliver`).
- `delta_ingest`, `delta_build`: +1 % new rows ingested, then the same build again, which is
  incremental for the incremental models (`incremental_models` lists them: the police facts,
  the person dimension, the indicator contributions and marts; the tests of models whose meta names
  `changed_records` check only the records the batch changed). The new rows' incidents are spread
  over the same year as the first file's, so they touch every municipality-month: the worst
  case for the indicator marts, which recompute the municipality-months a batch touches.
- `recent_simulate`, `recent_ingest`, `recent_build`: another +1 % as a police drop brings it,
  new reports of the latest days (all in the year's last month, RECENT_MONTH), built likewise.

Then, in the bench's own process: the database size, the dense indicator mart's rows and bytes
and a BI query (one indicator, one year) without and with an index, and, with `--partitions`,
the month-partitioned raw and fact tables against unpartitioned copies (`bench.partitions`).
Results (with the load average, as the machine is shared, at the end of every stage and of
the case) go to `bench/results/e2e.json`, one entry per case, merged with the cases already
there. The entry is rewritten after every stage with `completed: false`, so a run that dies or
is stopped (hours at 10M rows) still leaves the stages it finished; `completed: true` marks a
case that ran to the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "e2e.json"
SOURCE = "police__reports"
DELIVERY_SPEC = "unidad_analitica"
REPLACED_SEEDS = ("ref_municipalities", "ref_population", "ref_municipality_aliases")
# The BI query: one indicator, one year, every municipality and group (what a dashboard
# filtered on an indicator and a year asks).
BI_QUERY = (
    "select municipality_code, month, sex, age_group, numerator, denominator"
    " from marts.mart_indicators_monthly"
    " where indicator_code = %s and month between %s and %s"
)
BI_INDICATOR = "homicide_rate_police"
# The month the `recent_` stages' incidents fall in: the last of the simulated year's.
RECENT_MONTH = 12

SIMULATE = """
import json, sys
from pathlib import Path
from bench.ingest import write_police_file
from simulator.reference import Geography, use_geography, write_seeds
rows, first, munis, depts, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), Path(sys.argv[5])
month = int(sys.argv[6]) if len(sys.argv) > 6 else None
geography = Geography(munis, depts)
use_geography(geography)
out.mkdir(parents=True, exist_ok=True)
if not geography.is_demo:
    write_seeds(out / "reference")
name = out / f"denuncias_e2e_{first}_{rows}.csv"
write_police_file(name, rows, seed=first, first=first, month=month)
print(json.dumps({"file": str(name), "bytes": name.stat().st_size}))
"""
REFERENCE = """
import json, sys
from pathlib import Path
from observatorio.core.settings import get_settings
from observatorio.core.warehouse import connect, ensure_warehouse
from observatorio.transform.dbt import run_dbt
from observatorio.transform.manifest import refresh
settings = get_settings()
ensure_warehouse(settings)
refresh(settings)  # the manifest the delivery reads
run_dbt(["seed"], settings)
rows = {}
folder = Path(sys.argv[1]) / "reference"
if folder.is_dir():
    with connect(settings) as conn:
        for table in sys.argv[2].split(","):
            path = folder / f"{table}.csv"
            header = path.open(encoding="utf-8").readline().strip()
            conn.execute(f"truncate reference.{table}")
            with conn.cursor().copy(
                f"copy reference.{table} ({header}) from stdin (format csv, header)"
            ) as copy, path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            rows[table] = conn.execute(f"select count(*) from reference.{table}").fetchone()[0]
        conn.commit()
print(json.dumps({"replaced": rows}))
"""
STAGE = """
import json, sys
from pathlib import Path
from ingestion.loader import stage_file
s = stage_file(sys.argv[1], Path(sys.argv[2]))
Path(sys.argv[3]).write_text(json.dumps(s.to_dict()))
print(json.dumps({"rows_staged": s.rows_staged, "rows_read": s.rows_read}))
"""
GATE = """
import json, sys
from pathlib import Path
from ingestion.staged import StagedBatch
from observatorio.orchestration.ingest import gate_batches
staged = StagedBatch.from_dict(json.loads(Path(sys.argv[1]).read_text()))
verdict = gate_batches([staged])[0]
if not isinstance(verdict, list):
    raise SystemExit(f"the gate rejected the batch: {verdict.message}")
Path(sys.argv[2]).write_text(json.dumps(verdict))
print(json.dumps({"warnings": len(verdict)}))
"""
PUBLISH = """
import json, sys
from pathlib import Path
from ingestion.loader import publish_batch
from ingestion.staged import StagedBatch
staged = StagedBatch.from_dict(json.loads(Path(sys.argv[1]).read_text()))
result = publish_batch(staged, json.loads(Path(sys.argv[2]).read_text()))
print(json.dumps(result.as_json()))
"""
INGEST = """
import json, sys
from pathlib import Path
from observatorio.orchestration.ingest import ingest_file
print(json.dumps(ingest_file(sys.argv[1], Path(sys.argv[2])).as_json()))
"""
# As build_warehouse builds: planned (`--full-refresh` when nothing was built yet or the project
# changed), then recorded, the watermark the next build's plan and scoped tests start from.
BUILD = """
import json
from observatorio.transform.builds import plan_build, record_build
from observatorio.transform.dbt import run_dbt
plan = plan_build()
full_refresh = ["--full-refresh"] if plan.is_full_refresh else []
results = run_dbt(["build", "--exclude", "resource_type:seed", *full_refresh])
record_build(plan.as_json(), "bench")
timed = sorted(
    ((r.node.unique_id, round(r.execution_time, 1)) for r in results.results),
    key=lambda item: -item[1],
)
tests = sum(t for n, t in timed if n.startswith("test.") or n.startswith("unit_test."))
print(json.dumps({
    "plan": plan.reason,
    "nodes": len(results.results),
    "tests_s": round(tests, 1),
    "slowest_nodes_s": dict(timed[:15]),
    "incremental_models": sorted(
        r.node.name for r in results.results
        if getattr(r.node.config, "materialized", None) == "incremental"
    ),
}))
"""
DELIVER = """
import json, sys
from observatorio.delivery.extracts import deliver
delivery = deliver(sys.argv[1], triggered_by="bench")
print(json.dumps({"folder": str(delivery.folder)}))
"""
URL = """
import json
from observatorio.core.warehouse import ensure_warehouse
print(json.dumps(ensure_warehouse()))
"""
STOP = """
import json
from observatorio.core.warehouse import stop_embedded
print(json.dumps({"stopped": stop_embedded()}))
"""


def child(name: str, code: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one stage in a fresh interpreter: its result, wall seconds and own peak RSS (MB)."""
    probe = "\nimport resource as _r; print(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss)\n"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + probe, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"stage {name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    *_, result, peak_kb = done.stdout.strip().splitlines()
    stage = {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(int(peak_kb) / 1024, 1),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(f"  {name}: {stage}", flush=True)
    return {**stage, "result": json.loads(result)}


def database_bytes(url: str) -> int:
    """The warehouse database's size on disk."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def mart_figures(url: str) -> dict[str, Any]:
    """Rows and bytes of the dense indicator mart, and the BI query without and with an index."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows, size = conn.execute(
            "select count(*), pg_total_relation_size('marts.mart_indicators_monthly')"
            " from marts.mart_indicators_monthly"
        ).fetchone() or (0, 0)
        year = conn.execute(
            "select max(left(month, 4)) from marts.mart_indicators_monthly"
            " where indicator_code = %s",
            (BI_INDICATOR,),
        ).fetchone() or ("",)
        first, last = f"{year[0]}-01", f"{year[0]}-12"
        conn.execute("analyze marts.mart_indicators_monthly")

        def timed() -> tuple[float, int]:
            best, count = float("inf"), 0
            for _ in range(3):
                started = time.perf_counter()
                count = len(conn.execute(BI_QUERY, (BI_INDICATOR, first, last)).fetchall())
                best = min(best, time.perf_counter() - started)
            return best * 1000, count

        without_ms, result_rows = timed()
        conn.execute(
            "create index if not exists bench_e2e_indicator_month"
            " on marts.mart_indicators_monthly (indicator_code, month)"
        )
        with_ms, _ = timed()
        conn.execute("drop index marts.bench_e2e_indicator_month")
        database = conn.execute("select pg_database_size(current_database())").fetchone()
    return {
        "rows": rows,
        "bytes": size,
        "bi_query": {
            "indicator": BI_INDICATOR,
            "year": year[0],
            "result_rows": result_rows,
            "ms_without_index": round(without_ms, 1),
            "ms_with_index": round(with_ms, 1),
        },
        "database_bytes": database[0] if database else None,
    }


def warehouse_kind() -> str:
    """Where a case runs: the embedded warehouse, or the one OBSERVATORIO_WAREHOUSE_URL names."""
    return "external" if os.environ.get("OBSERVATORIO_WAREHOUSE_URL") else "embedded"


def save(results_file: Path, key: str, case: dict[str, Any]) -> None:
    """Merge one case into the results file, keeping every other case there."""
    # Read just before writing: another case may have finished meanwhile.
    results: dict[str, Any] = (
        json.loads(results_file.read_text()) if results_file.exists() else {"cases": {}}
    )
    results["cases"][key] = case
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2) + "\n")


def run_case(
    rows: int,
    geography: tuple[int, int],
    base: Path,
    partitions: bool,
    progress: Callable[[dict[str, Any]], None],
    keep: bool = False,
) -> dict[str, Any]:
    """One case end to end; returns its figures, and hands `progress` the partial case after
    every stage."""
    from simulator.reference import Geography

    municipalities, departments = geography
    label = f"{rows}_rows_{municipalities}_municipalities"
    # Short: the server's Unix socket lives in the home, and its path is capped at 107 bytes.
    home = base / f"{rows}r{municipalities}m"
    env = {**os.environ, "OBSERVATORIO_DEMO": "1"}
    if not os.environ.get("OBSERVATORIO_WAREHOUSE_URL"):
        env["OBSERVATORIO_HOME"] = str(home / "h")
    Geography(municipalities, departments)  # fails early on an impossible geography
    if home.exists():
        # A case starts from nothing: an earlier run's warehouse (kept with `--keep`) would
        # make the first build incremental and hold its rows too.
        if (home / "h").exists() and not os.environ.get("OBSERVATORIO_WAREHOUSE_URL"):
            child("stop_earlier", STOP, env=env)
        shutil.rmtree(home)
    work = home / "work"
    print(f"case {label} in {home}", flush=True)
    stages: dict[str, dict[str, Any]] = {}
    header: dict[str, Any] = {
        "rows": rows,
        "municipalities": municipalities,
        "departments": departments,
        "warehouse": warehouse_kind(),
    }

    def stage(name: str, code: str, *args: str) -> dict[str, Any]:
        stages[name] = child(name, code, *args, env=env)
        progress(
            {
                **header,
                "completed": False,
                "stages": stages,
                "cpus": os.cpu_count(),
                "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        return stages[name]

    geo = (str(municipalities), str(departments), str(work))
    source_file = stage("simulate", SIMULATE, str(rows), "1", *geo)["result"]["file"]
    stage("reference", REFERENCE, str(work), ",".join(REPLACED_SEEDS))
    staged, verdict = work / "staged.json", work / "verdict.json"
    stage("stage", STAGE, SOURCE, source_file, str(staged))
    stage("gate", GATE, str(staged), str(verdict))
    stage("publish", PUBLISH, str(staged), str(verdict))
    stage("build", BUILD)
    stage("deliver", DELIVER, DELIVERY_SPEC)
    url = child("url", URL, env=env)["result"]
    # Before the delta stages, so a run stopped during them still says how large 1x is.
    header["database_bytes_after_build"] = database_bytes(url)
    delta = max(1, rows // 100)
    delta_file = stage("delta_simulate", SIMULATE, str(delta), str(rows + 1), *geo)["result"]
    stage("delta_ingest", INGEST, SOURCE, delta_file["file"])
    stage("delta_build", BUILD)
    # The same +1 % as a drop of the latest days: new reports of the period's last month.
    recent_file = stage(
        "recent_simulate", SIMULATE, str(delta), str(rows + delta + 1), *geo, str(RECENT_MONTH)
    )["result"]
    stage("recent_ingest", INGEST, SOURCE, recent_file["file"])
    stage("recent_build", BUILD)
    mart = mart_figures(url)
    partition = None
    if partitions:
        from bench.partitions import compare

        partition = compare(url)
    if not keep and not os.environ.get("OBSERVATORIO_WAREHOUSE_URL"):
        child("stop", STOP, env=env)
    pipeline = ("stage", "gate", "publish", "build", "deliver")
    full, delta_build = stages["build"]["seconds"], stages["delta_build"]["seconds"]
    return {
        **header,
        "completed": True,
        "stages": stages,
        "end_to_end_s_simulate_excluded": round(
            stages["reference"]["seconds"] + sum(stages[s]["seconds"] for s in pipeline), 1
        ),
        "peak_rss_mb_max": max(s["peak_rss_mb"] for s in stages.values()),
        "delta_rows": delta,
        "incremental_models": stages["delta_build"]["result"]["incremental_models"],
        "delta_build_over_full_build": round(delta_build / full, 3),
        "recent_build_over_full_build": round(stages["recent_build"]["seconds"] / full, 3),
        "database_bytes": mart.pop("database_bytes"),
        "indicator_mart": mart,
        "partitioning": partition,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, action="append", help="source rows (repeatable)")
    parser.add_argument("--municipalities", type=int, default=60)
    parser.add_argument("--departments", type=int, default=5)
    parser.add_argument("--partitions", action="store_true", help="also measure partitioning")
    parser.add_argument("--out", type=Path, default=ROOT / ".observatorio" / "bench" / "e2e")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--keep", action="store_true", help="leave the embedded warehouse running at the end"
    )
    args = parser.parse_args(argv)
    for rows in args.rows or [1_000_000, 3_000_000, 10_000_000]:
        key = f"{rows}_rows_{args.municipalities}_municipalities_{warehouse_kind()}"
        case = run_case(
            rows,
            (args.municipalities, args.departments),
            args.out,
            args.partitions,
            partial(save, args.results, key),
            args.keep,
        )
        save(args.results, key, case)
        print(json.dumps({k: v for k, v in case.items() if k != "stages"}, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
