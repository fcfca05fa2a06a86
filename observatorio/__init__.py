"""Observatorio: a citizen-security data warehouse for Latin America and the Caribbean.

The product, one subpackage per concern; import arrows run one way, top to bottom:

- `cli`: the `observatorio` command (uses everything below, nothing uses it).
- `orchestration`: Airflow wiring: DAG defaults, the Airflow environment, Cosmos task
  groups and watchers, alerts, the in-process runner behind `make run`, `compat`.
- `delivery`: extract specs, writers, disclosure control, channels, audit, the bulletin.
- `lineage`: OpenLineage events and `explain` (a published cell back to its rows).
- `indicators`: the one definition of every indicator, and what dbt is generated from it.
- `linkage`: record linkage of homicide victims across institutions (Splink).
- `transform`: dbt invocation and the one manifest loader.
- `core`: settings, the warehouse connection (embedded or external), migrations.

`ingestion/` (top level, beside this package) uses `core` only; `expectations/` reads the
contracts and staged batches of `ingestion`; they meet in `orchestration.ingest`. The demo
country (`simulator/`) and the benchmarks (`bench/`) depend on the product, never the reverse.
`tests/unit/test_import_rules.py` holds these arrows.
"""

__version__ = "0.1.0"
