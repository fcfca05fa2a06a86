"""Loading a catalog contract's file through the real loader, for the layout tests.

Catalog contracts have no hand-written Great Expectations suite, so these tests run the
loader's own steps around the gate: `stage_file` (read, type, quarantine, stage) then
`publish_batch` (raw table, ledger) against the test warehouse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingestion.contract import CATALOG_DIR
from ingestion.loader import BatchResult, publish_batch, stage_file

LAYOUTS = Path(__file__).parents[1] / "fixtures" / "layouts"
SHIPPED_CATALOG = CATALOG_DIR


def load(source: str, path: Path, settings: Any) -> BatchResult:
    staged = stage_file(source, path, settings)
    if isinstance(staged, BatchResult):
        return staged
    return publish_batch(staged, [], settings)


def ledger_row(db: Any, batch_id: str) -> tuple[Any, ...]:
    """(status, rows_read, rows_loaded, rows_quarantined, rows_footer, count_loaded, error)."""
    row = db.execute(
        "select status, rows_read, rows_loaded, rows_quarantined, rows_footer, count_loaded,"
        " error from ops.batch_ledger where batch_id = %s",
        (batch_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def quarantine(db: Any, batch_id: str) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in db.execute(
            "select source_row, column_name, reason from ops.quarantine where batch_id = %s"
            " order by source_row, quarantine_id",
            (batch_id,),
        ).fetchall()
    ]


def write_contract(catalog: Path, name: str, data: dict[str, Any]) -> str:
    """A contract file under a test catalog (see the `catalog` fixture); returns its name."""
    import yaml

    source, entity = name.split("__")
    folder = catalog / "test"
    folder.mkdir(parents=True, exist_ok=True)
    body = {"source": source, "entity": entity, **data}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(body, allow_unicode=True), "utf-8")
    return name


def catalog_variant(catalog: Path, base: str, name: str, **overrides: Any) -> str:
    """A copy of a shipped catalog contract under a new name, with some keys changed."""
    import yaml

    (path,) = SHIPPED_CATALOG.glob(f"*/{base}.yaml")
    data = yaml.safe_load(path.read_text("utf-8"))
    data.pop("source"), data.pop("entity")
    return write_contract(catalog, name, {**data, **overrides})
