"""JSON and JSON lines exports reshaped like tabular ones: `unpivot` and a `count` column.

Each case goes through the real loader (`stage_file`, `publish_batch`) against PostgreSQL:
wide keys become one row each, a bad or missing wide value is quarantined under its key's
name, and the ledger adds up rows and the sum of the counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingestion.contract import load_contract
from tests.integration.layout_loading import ledger_row, load, quarantine, write_contract

MONTHS = {"Enero": 1, "Febrero": 2, "Marzo": 3}
COLUMNS: list[dict[str, Any]] = [
    {"name": "municipality_code", "source": "municipio", "type": "text", "required": True,
     "normalise": [{"pad_left": 5}]},
    {"name": "year", "source": "anio", "type": "integer", "required": True},
    {"name": "month", "source": "Mes", "type": "integer", "required": True, "map": MONTHS},
    {"name": "offences", "source": "Cantidad", "type": "integer", "count": True},
]  # fmt: skip
UNPIVOT = {"columns": list(MONTHS), "key": "Mes", "value": "Cantidad"}
RECORDS: list[dict[str, Any]] = [
    {"municipio": "1001", "anio": 2023, "Enero": 3, "Febrero": 0, "Marzo": 4},
    # A negative count and a fraction are quarantined; a null month has no count.
    {"municipio": "1002", "anio": 2023, "Enero": -1, "Febrero": 2.5, "Marzo": None},
    # Marzo is missing from this record: that month is quarantined, naming it.
    {"municipio": "1003", "anio": 2023, "Enero": 7, "Febrero": 1},
]


def _write(path: Path, fmt: str, records: list[dict[str, Any]]) -> Path:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    else:
        path.write_text(json.dumps({"data": {"rows": records}}), "utf-8")
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_json_months_in_keys_become_monthly_counts(
    clean_warehouse, catalog, tmp_path, settings, fmt
):
    extra = {"records_path": "data.rows"} if fmt == "json" else {}
    name = write_contract(
        catalog,
        f"test__wide_{fmt}",
        {"format": fmt, "unpivot": UNPIVOT, "columns": COLUMNS, "quarantine_threshold": 0.5,
         **extra},
    )  # fmt: skip
    result = load(name, _write(tmp_path / f"incidencia.{fmt}", fmt, RECORDS), settings)
    db = clean_warehouse
    assert result.status == "loaded", result
    status, read, loaded, quarantined, footer, count, _error = ledger_row(db, result.batch_id)
    assert (status, read, loaded, quarantined, footer) == ("loaded", 9, 6, 3, 0)
    assert read == loaded + quarantined + footer
    assert count == result.count_loaded == 3 + 0 + 4 + 7 + 1
    rows = db.execute(
        f"select _source_row, municipality_code, year, month, offences from raw.{name}"
        " order by _source_row, month"
    ).fetchall()
    assert [tuple(r) for r in rows] == [
        (1, "01001", 2023, 1, 3),
        (1, "01001", 2023, 2, 0),
        (1, "01001", 2023, 3, 4),
        (2, "01002", 2023, 3, None),
        (3, "01003", 2023, 1, 7),
        (3, "01003", 2023, 2, 1),
    ]
    problems = quarantine(db, result.batch_id)
    assert [(r, c) for r, c, _ in problems] == [(2, "Enero"), (2, "Febrero"), (3, "Marzo")]
    assert "below the minimum 0" in problems[0][2]
    assert "expected a integer" in problems[1][2]
    assert "'Marzo'" in problems[2][2] and "missing" in problems[2][2]


def test_json_count_column_without_unpivot(clean_warehouse, catalog, tmp_path, settings):
    columns = [c for c in COLUMNS if c["name"] != "month"]
    name = write_contract(
        catalog,
        "test__counts_jsonl",
        {"format": "jsonl", "columns": columns, "quarantine_threshold": 0.5},
    )
    records = [
        {"municipio": "1", "anio": 2023, "Cantidad": 5},
        {"municipio": "2", "anio": 2023, "Cantidad": "12"},
        {"municipio": "3", "anio": 2023, "Cantidad": -4},
    ]
    result = load(name, _write(tmp_path / "conteos.jsonl", "jsonl", records), settings)
    status, read, loaded, quarantined, footer, count, _ = ledger_row(
        clean_warehouse, result.batch_id
    )
    assert (status, read, loaded, quarantined, footer, count) == ("loaded", 3, 2, 1, 0, 17)
    assert [(r, c) for r, c, _ in quarantine(clean_warehouse, result.batch_id)] == [(3, "Cantidad")]


def test_a_json_unpivot_contract_loads(catalog):
    name = write_contract(
        catalog, "test__wide_contract", {"format": "jsonl", "unpivot": UNPIVOT, "columns": COLUMNS}
    )
    contract = load_contract(name)
    assert contract.unpivot is not None and contract.unpivot.columns == tuple(MONTHS)
