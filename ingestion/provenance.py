"""The provenance columns the loader adds to every staged and raw row: the one definition.

`ingestion.loader` creates them on the staging and raw tables, `expectations.generated`
expects them in every staged batch, and dbt's `provenance_columns()` macro renames them in
staging (a test holds the macro to this list).
"""

from __future__ import annotations

# (name, SQL type as the loader declares it), in table order.
PROVENANCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "text not null"),
    ("_source_file", "text"),
    ("_source_query", "text"),
    ("_source_row", "bigint not null"),
    ("_file_sha256", "text"),
    ("_ingested_at", "timestamptz not null"),
)
# Dropped from raw tables that still have it: it held undeclared columns' raw text.
RETIRED_PROVENANCE_COLUMNS: tuple[str, ...] = ("_extra",)
PROVENANCE_NAMES: tuple[str, ...] = tuple(name for name, _ in PROVENANCE_COLUMNS)
