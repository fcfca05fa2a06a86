"""The format cases of `make bench-ingest`: the same rows as CSV, XLSX and DBF, staged.

One bench contract per format (same columns, same value rules: a strict ddmmyyyy date, a
value map, a code normaliser, a count) is written to a temporary catalog; each file is
staged in its own child process (read, prepare, type, quarantine, COPY: the part whose
memory could grow with the file) and its rows per second compared with the CSV's.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.layouts.dbase import Field, write_dbf

COLUMNS: list[dict[str, Any]] = [
    {"name": "municipality_code", "source": "CODMUN", "type": "text", "required": True,
     "normalise": [{"substring": [0, 6]}], "pattern": "^[0-9]{6}$"},
    {"name": "event_date", "source": "DTEVENTO", "type": "date", "format": "%d%m%Y",
     "required": True},
    {"name": "age", "source": "IDADE", "type": "integer", "min": 0, "max": 130},
    {"name": "sex", "source": "SEXO", "type": "text", "map": {"1": "M", "2": "F", "9": None}},
    {"name": "cause", "source": "CAUSA", "type": "text", "pattern": "^[A-Z][0-9]{3}$"},
    {"name": "place", "source": "LOCAL", "type": "text"},
    {"name": "events", "source": "QTD", "type": "integer", "count": True},
]  # fmt: skip
FIELDS = [
    Field("CODMUN", "C", 7),
    Field("DTEVENTO", "C", 8),
    Field("IDADE", "C", 3),
    Field("SEXO", "C", 1),
    Field("CAUSA", "C", 4),
    Field("LOCAL", "C", 24),
    Field("QTD", "C", 3),
]
PLACES = ["via publica", "domicilio", "hospital", "outro estabelecimento", "outros"]


def rows(count: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    causes = [f"{letter}{n:03d}" for letter in "VXY" for n in range(0, 999, 7)]
    munis = [f"{rng.randrange(110000, 530000)}{rng.randrange(10)}" for _ in range(5000)]
    return [
        [
            rng.choice(munis),
            f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}2023",
            str(rng.randint(0, 99)),
            rng.choice("129"),
            rng.choice(causes),
            rng.choice(PLACES),
            str(rng.randint(1, 3)),
        ]
        for _ in range(count)
    ]


def write_files(folder: Path, count: int) -> dict[str, Path]:
    data = rows(count)
    header = [f.name for f in FIELDS]
    csv_path = folder / "bench_formats.csv"
    with csv_path.open("w", encoding="latin-1", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(data)
    dbf_path = write_dbf(folder / "bench_formats.dbf", FIELDS, data)
    xlsx_path = folder / "bench_formats.xlsx"
    import xlsxwriter

    book = xlsxwriter.Workbook(str(xlsx_path), {"constant_memory": True})
    sheet = book.add_worksheet("dados")
    sheet.write_row(0, 0, header)
    for r, row in enumerate(data, start=1):
        sheet.write_row(r, 0, row)
    book.close()
    return {"csv": csv_path, "xlsx": xlsx_path, "dbf": dbf_path}


def write_contracts(catalog: Path) -> None:
    folder = catalog / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    for fmt in ("csv", "xlsx", "dbf"):
        body: dict[str, Any] = {
            "source": "bench",
            "entity": f"events_{fmt}",
            "format": fmt,
            "encoding": "latin-1",
            "columns": COLUMNS,
        }
        (folder / f"bench__events_{fmt}.yaml").write_text(yaml.safe_dump(body), "utf-8")


def cached_files(count: int) -> dict[str, Path]:
    """The three files, written once per row count by a child process and then reused.

    A child writes them so this process never holds the rows: a staging child forked from
    a big parent would inherit its peak RSS and report it as its own.
    """
    folder = Path(tempfile.gettempdir()) / f"observatorio-bench-formats-{count}"
    names = {"csv": "bench_formats.csv", "xlsx": "bench_formats.xlsx", "dbf": "bench_formats.dbf"}
    if not (folder / "done").exists():
        folder.mkdir(parents=True, exist_ok=True)
        code = "import sys; from pathlib import Path; from bench.formats import write_files;"
        code += "write_files(Path(sys.argv[1]), int(sys.argv[2]))"
        subprocess.run([sys.executable, "-c", code, str(folder), str(count)], check=True)
        (folder / "done").write_text("")
    return {fmt: folder / name for fmt, name in names.items()}


STAGE = (
    "import json, sys, time; from pathlib import Path; import ingestion.contract as c;"
    "c.CATALOG_DIR = Path(sys.argv[2]);"
    "from ingestion.loader import stage_file, reject_batch;"
    "t = time.perf_counter(); s = stage_file(sys.argv[3], Path(sys.argv[1]));"
    "seconds = time.perf_counter() - t;"
    "reject_batch(s, 'bench: format staging probe') if hasattr(s, 'staging_table') else None;"
    "print(json.dumps({'rows_read': s.rows_read, 'rows_staged': getattr(s, 'rows_staged', 0),"
    " 'seconds': seconds}))"
)


def bench_formats(workdir: Path, count: int, child: Any) -> dict[str, Any]:
    """Stage the same `count` rows as CSV, XLSX and DBF; rates, ratios to CSV, peak RSS."""
    import os

    load_at_start = round(os.getloadavg()[0], 1)
    started = time.perf_counter()
    files = cached_files(count)
    written = time.perf_counter() - started
    catalog = workdir / "catalog"
    write_contracts(catalog)
    out: dict[str, Any] = {
        "rows": count,
        "files_written_s": round(written, 1),
        "load_average_1min_at_start": load_at_start,
    }
    for fmt, path in files.items():
        result, peak = child(STAGE, str(path), str(catalog), f"bench__events_{fmt}")
        if result["rows_staged"] != count:
            raise RuntimeError(f"{fmt}: staged {result['rows_staged']} of {count} rows")
        out[fmt] = {
            "file_bytes": path.stat().st_size,
            "staging_rows_per_s": round(count / result["seconds"]),
            "peak_rss_staging_mb": round(peak, 1),
        }
    for fmt in ("xlsx", "dbf"):
        ratio = out[fmt]["staging_rows_per_s"] / out["csv"]["staging_rows_per_s"]
        out[fmt]["ratio_vs_csv"] = round(ratio, 2)
    out["goal"] = "ratio_vs_csv >= 0.25 and peak_rss_staging_mb <= 300"
    return out
