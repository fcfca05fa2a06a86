"""`make bench-ingest`: four loaders on one 1,000,000-row police file, in one run, one database.

(a) plain PostgreSQL COPY of the same rows already clean (the ceiling);
(b) Observatorio's full ingestion of the raw export (encoding detection, typed parsing,
    pseudonymisation, quarantine, COPY to staging, the Great Expectations gate, publish);
(c) dlt loading the raw file into the same PostgreSQL;
(d) pandas `read_csv` + `to_sql(method="multi")`.

Slow loaders (c, d) are timed on a sample of the same file (`--sample`, default 50,000 rows)
and reported in rows per second: a ratio of throughputs is what is compared. Peak RSS of (b)
is measured in a child process. Results go to `bench/results/ingest.json`.

`--rss-only` runs (b) alone (for the 10M-row memory bound: `--rows 10000000 --rss-only`)
and writes `bench/results/ingest_<rows>.json` (`ingest_10m.json` for 10M rows); with
`--copy`, (a) too, before (b) as in the full run, for the ingest ÷ COPY ratio at that size.
`--keep-file` reuses a file already written (`bench.e2e` writes the same rows: same seed).

Then the format cases (`bench/formats.py`): the same `--format-rows` rows (default 1M) as
CSV, XLSX and DBF, each staged in its own process, as a ratio to the CSV's rate, with
their staging peak RSS, in `bench/results/ingest_formats.json`; `--formats-only` runs
only these.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results") / "ingest.json"


def write_police_file(
    path: Path, rows: int, seed: int = 1, first: int = 1, month: int | None = None
) -> None:
    """A police export in the real layout (cp1252, `;`, dd/mm/yyyy), from the simulator's world.

    Report numbers run from `first` (a later file with a higher `first` brings new reports).
    Incidents fall on any day of 2024, or only in `month` (a drop of the latest days)."""
    from ingestion.pseudonymise import national_id_check_digit
    from simulator.police import REPORT_COLUMNS
    from simulator.reference import municipalities, penal_code

    rng = random.Random(seed)
    munis = [(m.code, m.name) for m in municipalities()]
    offences = [(code, o.name_es) for code, o in penal_code().items() if o.iccs_code]
    names = ["José", "María", "Ana", "Luis", "Carmen", "Pedro", "Lucía", "Jorge"]
    surnames = ["Pérez", "Gómez", "Núñez", "Rojas", "Díaz", "Vega", "Ríos", "Ibáñez"]
    with path.open("w", encoding="cp1252", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(REPORT_COLUMNS)
        for n in range(first, first + rows):
            day = rng.randint(1, 28)
            incident_month = rng.randint(1, 12) if month is None else month
            code, name = rng.choice(munis)
            offence, offence_name = rng.choice(offences)
            body = f"{rng.randrange(100_000_000, 999_999_999)}"
            writer.writerow(
                [
                    # Seven digits, as the contract requires, past ten million rows too.
                    f"DEN-{2024 + n // 10_000_000}-{n % 10_000_000:07d}",
                    "1",
                    f"{day:02d}/{incident_month:02d}/2024 10:{n % 60:02d}",
                    f"{day:02d}/{incident_month:02d}/2024",
                    "21:30",
                    code,
                    name,
                    offence,
                    offence_name,
                    f"{body}-{national_id_check_digit(body)}",
                    f"{rng.choice(names)} {rng.choice(surnames)} {rng.choice(surnames)}",
                    rng.choice("MF"),
                    str(rng.randint(0, 90)),
                    "",
                    "desconocido",
                    "ninguna",
                    "vía pública",
                ]
            )


def clean_copy_file(raw: Path, clean: Path) -> None:
    """The same rows, already clean for COPY (UTF-8, ISO dates): the ceiling (a)."""
    with raw.open(encoding="cp1252", newline="") as src, clean.open("w", encoding="utf-8") as dst:
        reader = csv.reader(src, delimiter=";")
        next(reader)
        writer = csv.writer(dst)
        for r in reader:
            d, m, y = r[3].split("/")
            writer.writerow(
                [
                    r[0],
                    r[1],
                    f"{y}-{m}-{d} {r[2][11:]}",
                    f"{y}-{m}-{d}",
                    r[4],
                    r[5],
                    r[6],
                    r[7],
                    r[8],
                    r[9],
                    r[10],
                    r[11],
                    r[12],
                    r[14],
                    r[15],
                    r[16],
                ]
            )


def forget_earlier_runs(conn: Any, raw: Path) -> None:
    """The bench file is deterministic: drop an earlier run's batch so (b) loads it again."""
    import hashlib

    from ingestion.contract import load_contract
    from ingestion.loader import batch_id_for, staging_table_for

    digest = hashlib.sha256()
    with raw.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    batch_id = batch_id_for(load_contract("police__reports"), digest.hexdigest())
    # A large batch is a partition of its own (ingestion.raw_tables.ATTACH_FROM_ROWS).
    conn.execute(f"drop table if exists raw.{staging_table_for(batch_id)}")
    if conn.execute("select to_regclass('raw.police__reports')").fetchone()[0]:
        conn.execute("delete from raw.police__reports where _batch_id = %s", (batch_id,))
    for table in ("batch_ledger", "quarantine", "validation_results", "file_receipts"):
        conn.execute(f"delete from ops.{table} where batch_id = %s", (batch_id,))


def bench_copy(conn: Any, clean: Path, rows: int) -> float:
    conn.execute("drop table if exists bench.copy_target")
    conn.execute(
        "create table bench.copy_target (report_id text, victim_seq int, recorded_at timestamp,"
        " incident_date date, incident_time time, municipality text, municipality_name text,"
        " offence_code text, offence_name text, national_id text, victim_name text, sex text,"
        " age int, relationship text, weapon text, place text)"
    )
    started = time.perf_counter()
    with (
        conn.cursor().copy("copy bench.copy_target from stdin (format csv)") as copy,
        clean.open("rb") as handle,
    ):
        while chunk := handle.read(1 << 20):
            copy.write(chunk)
    conn.commit()
    return rows / (time.perf_counter() - started)


def _child(code: str, *args: str) -> tuple[dict[str, Any], float]:
    """Run `code` in a fresh interpreter; its last stdout line (JSON) and its peak RSS in MB.

    The child reports the peak of its own process and of each it waited for (`ru_maxrss`,
    read as it ends): `ingest_file` gates a large file in a worker process of its own.
    """
    probe = (
        ";import resource as _r;"
        "print(max(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss,"
        " _r.getrusage(_r.RUSAGE_CHILDREN).ru_maxrss))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + probe, *args], capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"the child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    *_, result, peak_kb = done.stdout.strip().splitlines()
    return json.loads(result), int(peak_kb) / 1024


# Staging alone (parse, type, pseudonymise, quarantine, COPY): the part whose memory could
# grow with the file. In the DAGs it is its own task, so its own process. The batch is then
# closed as rejected, and `forget_earlier_runs` clears it before the full run.
STAGE_ONLY = (
    "import json, sys; from pathlib import Path;"
    "from ingestion.loader import stage_file, reject_batch;"
    "s = stage_file('police__reports', Path(sys.argv[1]));"
    "reject_batch(s, 'bench: staging-only memory probe') if hasattr(s, 'staging_table') else None;"
    "print(json.dumps({'rows_read': s.rows_read}))"
)
FULL = (
    "import json, sys, time; from pathlib import Path;"
    "from observatorio.orchestration.ingest import ingest_file;"
    "t = time.perf_counter(); r = ingest_file('police__reports', Path(sys.argv[1]));"
    "print(json.dumps({'seconds': time.perf_counter() - t, **r.as_json()}))"
)


def gx_import_rss_mb() -> float:
    """What importing Great Expectations alone costs, whatever the file: the gate's floor."""
    _, peak = _child("import great_expectations; print('{}')")
    return peak


def bench_observatorio(raw: Path, conn: Any) -> tuple[float, dict[str, float], dict[str, Any]]:
    """Full ingestion in a child process, after a staging-only child for its memory.

    Returns rows per second of the full ingestion, the peak RSS of the full ingestion in
    one process, of staging alone and of the bare Great Expectations import, and the result.
    """
    gx_floor = gx_import_rss_mb()
    _, staging_peak = _child(STAGE_ONLY, str(raw))
    forget_earlier_runs(conn, raw)
    conn.commit()
    result, full_peak = _child(FULL, str(raw))
    peaks = {
        "peak_rss_mb": round(full_peak, 1),
        "peak_rss_staging_mb": round(staging_peak, 1),
        "gx_import_rss_mb": round(gx_floor, 1),
    }
    return result["rows_read"] / result["seconds"], peaks, result


def sample_file(raw: Path, rows: int, target: Path) -> Path:
    with raw.open("rb") as src, target.open("wb") as dst:
        for i, line in enumerate(src):
            if i > rows:
                break
            dst.write(line)
    return target


def bench_pandas(sample: Path, rows: int, url: str) -> float:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    started = time.perf_counter()
    frame = pd.read_csv(sample, sep=";", encoding="cp1252", dtype=str)
    frame.to_sql(
        "pandas_target",
        engine,
        schema="bench",
        if_exists="replace",
        index=False,
        method="multi",
        chunksize=1000,
    )
    return rows / (time.perf_counter() - started)


def bench_dlt(sample: Path, rows: int, url: str) -> float | None:
    from sqlalchemy.engine import make_url

    try:
        import dlt
        from dlt.sources.filesystem import readers  # noqa: F401
    except ImportError:
        return None

    def records() -> Any:
        with sample.open(encoding="cp1252", newline="") as handle:
            yield from csv.DictReader(handle, delimiter=";")

    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    # dlt insists on a password; the embedded server trusts local connections and ignores it.
    parsed = make_url(url)
    if not parsed.password:
        url = parsed.set(password="unused").render_as_string(hide_password=False)
    pipeline = dlt.pipeline(
        pipeline_name="bench_police",
        destination=dlt.destinations.postgres(url),
        dataset_name="bench_dlt",
        pipelines_dir=tempfile.mkdtemp(),
    )
    started = time.perf_counter()
    pipeline.run(records(), table_name="police_reports", write_disposition="replace")
    return rows / (time.perf_counter() - started)


def rss_results_path(rows: int) -> Path:
    label = f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else str(rows)
    return RESULTS.with_name(f"ingest_{label}.json")


def rss_only(raw: Path, rows: int, clean: Path | None = None) -> dict[str, Any]:
    """(b) alone on a big file: its throughput and, above all, its peak RSS; with `clean`
    (the same rows as `clean_copy_file` writes them), (a) first, and the ratio."""
    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import connect

    copy: dict[str, Any] = {}
    with connect(get_settings()) as conn:
        if clean is not None:
            conn.execute("create schema if not exists bench")
            conn.commit()
            copy["copy_rows_per_s"] = bench_copy(conn, clean, rows)
            conn.execute("drop table bench.copy_target")  # its disk, before (b) writes
            conn.commit()
        forget_earlier_runs(conn, raw)
        conn.commit()
        obs_rps, peaks, obs_result = bench_observatorio(raw, conn)
    if copy:
        copy["ratio_vs_copy"] = round(obs_rps / copy["copy_rows_per_s"], 3)
        copy["copy_rows_per_s"] = round(copy["copy_rows_per_s"])
    return {
        "rows": rows,
        "file_bytes": raw.stat().st_size,
        "observatorio_rows_per_s": round(obs_rps),
        **copy,
        **peaks,
        "rss_bound_mb": 300,
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
        "observatorio_result": obs_result,
    }


# What each run of the four loaders measures (`loaders_once`); the results give their medians.
RUN_FIGURES = (
    "copy_rows_per_s",
    "observatorio_rows_per_s",
    "dlt_rows_per_s",
    "pandas_rows_per_s",
    "ratio_vs_copy",
    "ratio_vs_dlt",
    "ratio_vs_pandas",
)


def _median(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


# (c) and (d) each in a child: this process stays free of dlt and pandas, so the next run's
# children of (b) report their own peak RSS (see the note on the formats in `main`).
SLOW_LOADER = (
    "import json, sys; from pathlib import Path; import bench.ingest as b;"
    "rps = getattr(b, sys.argv[1])(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]);"
    "print(json.dumps({'rows_per_s': rps}))"
)


def _slow_loader(name: str, sample: Path, rows: int, url: str) -> float | None:
    result, _ = _child(SLOW_LOADER, name, str(sample), str(rows), url)
    rps = result["rows_per_s"]
    return float(rps) if rps is not None else None


def loaders_once(
    settings: Any, url: str, raw: Path, clean: Path, sample: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One run of (a), (b), (c) and (d) in turn, each on the same rows as before."""
    from observatorio.core.warehouse import connect

    with connect(settings) as conn:
        conn.execute("create schema if not exists bench")
        forget_earlier_runs(conn, raw)
        conn.commit()
        copy_rps = bench_copy(conn, clean, args.rows)
        obs_rps, peaks, obs_result = bench_observatorio(raw, conn)
    pandas_rps = _slow_loader("bench_pandas", sample, args.sample, url)
    if pandas_rps is None:
        raise RuntimeError("the pandas loader measured nothing")
    dlt_rps = _slow_loader("bench_dlt", sample, args.sample, url)
    return {
        "copy_rows_per_s": round(copy_rps),
        "observatorio_rows_per_s": round(obs_rps),
        "dlt_rows_per_s": round(dlt_rps) if dlt_rps else None,
        "pandas_rows_per_s": round(pandas_rps),
        "ratio_vs_copy": round(obs_rps / copy_rps, 3),
        "ratio_vs_dlt": round(obs_rps / dlt_rps, 2) if dlt_rps else None,
        "ratio_vs_pandas": round(obs_rps / pandas_rps, 2),
        **peaks,
        "observatorio_seconds": round(obs_result["seconds"], 2),
        "observatorio_result": obs_result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of the four loaders; the results give medians"
    )
    parser.add_argument(
        "--rss-only", action="store_true", help="run Observatorio's ingestion alone (10M check)"
    )
    parser.add_argument(
        "--copy", action="store_true", help="with --rss-only: plain COPY too, and the ratio"
    )
    parser.add_argument("--keep-file", type=Path, help="reuse (or create) the raw file here")
    parser.add_argument("--format-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--formats-only", action="store_true", help="only the XLSX and DBF cases against CSV"
    )
    args = parser.parse_args(argv)

    from observatorio.core.settings import get_settings
    from observatorio.core.warehouse import ensure_warehouse

    settings = get_settings()
    url = ensure_warehouse(settings)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    if args.formats_only:
        return run_formats(workdir, args.format_rows)
    raw, clean = workdir / f"denuncias_bench_{args.rows}.csv", workdir / "clean.csv"
    if args.keep_file:
        raw = args.keep_file
    if not raw.exists():
        write_police_file(raw, args.rows)
    if args.rss_only:
        if args.copy:
            clean_copy_file(raw, clean)
        results = rss_only(raw, args.rows, clean if args.copy else None)
        target = rss_results_path(args.rows)
        target.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
        return 0
    clean_copy_file(raw, clean)
    sample = sample_file(raw, args.sample, workdir / "denuncias_sample.csv")
    runs = [loaders_once(settings, url, raw, clean, sample, args) for _ in range(args.runs)]
    results = {
        "rows": args.rows,
        "file_bytes": raw.stat().st_size,
        # Each figure the median of the runs (the machine's speed drifts between them).
        **{key: _median([r[key] for r in runs]) for key in RUN_FIGURES},
        **{
            key: max(r[key] for r in runs)
            for key in ("peak_rss_mb", "peak_rss_staging_mb", "gx_import_rss_mb")
        },
        "slow_loaders_sample_rows": args.sample,
        # The ratios are only comparable between runs on a similarly loaded machine.
        "load_average_1min_at_end": round(os.getloadavg()[0], 1),
        "observatorio_result": runs[-1]["observatorio_result"],
        "runs": [{k: v for k, v in r.items() if k != "observatorio_result"} for r in runs],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    # In a fresh interpreter: this one has grown with dlt and pandas, and a staging child
    # forked from it reports that growth as its own peak (Linux keeps ru_maxrss across fork
    # and exec): 391 MB for every format, measured, against 172-244 MB alone.
    formats = [sys.executable, "-m", "bench.ingest", "--formats-only"]
    return subprocess.run([*formats, "--format-rows", str(args.format_rows)]).returncode


def run_formats(workdir: Path, rows: int) -> int:
    """The XLSX and DBF cases, as ratios to the same rows as CSV (bench/formats.py)."""
    from bench.formats import bench_formats

    results = bench_formats(workdir, rows, _child)
    results["load_average_1min_at_end"] = round(os.getloadavg()[0], 1)
    target = RESULTS.with_name("ingest_formats.json")
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
