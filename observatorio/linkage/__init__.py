"""Linkage: record linkage of homicide victims across police, prosecution, forensic and
hospital records (Splink on DuckDB), and the victim register it keeps in the warehouse.

Police reports, prosecution cases, forensic deaths and hospital admissions that ended in death
each record some homicide victims. This package links those records into one register of
victims (Fellegi-Sunter, trained without labels by EM), explains every difference between the
systems, and keeps the register in the warehouse so new records are linked to it
incrementally instead of recomputing everything.

- `records`: the input schema, its validation and preparation, intent classification, and
  the shared types (`LinkageConfig`, `LinkageResult`, `LinkageError`).
- `tables`: the records as DuckDB holds them (pseudonyms as integer codes), `load_records()`.
- `model`: Splink settings, blocking, training, scoring, and which links are accepted.
- `clusters`: from links to victims; `link_records()` and `link_new_records()`.
- `register`: the register in the warehouse; `update_register()` (the Airflow task after
  `build_warehouse`) and `review_list()`.

Imports flow records -> tables -> model -> clusters -> register. Imports `core` (and
`ingestion.pseudonymise`) only.
"""
