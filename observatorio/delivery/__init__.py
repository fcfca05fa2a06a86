"""Delivery: what leaves the warehouse.

- `specs`: the extract specs under `extracts/` and their column glossary, read and validated.
- `datasets`: a dataset's rows from its mart, under disclosure control for the recipient's
  level (`disclosure`), codes named (`labels`).
- `writers`: CSV, XLSX and Parquet files, safe for spreadsheets.
- `dictionary`, `manifest`: the data dictionary, the lineage and the manifest of a delivery.
- `channels`: outbox, SFTP and email; `audit`: `ops.deliveries`.
- `extracts`: one delivery from spec to audit (the CLI and the `deliver_extracts` DAG call it).
- `bulletin`: the monthly bulletin (HTML and PDF).

Imports `core`, `indicators` (names, units and publication rules), `transform` and
`lineage`; never Airflow at module level, never `cli`.
"""
