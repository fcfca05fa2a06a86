"""Transform: dbt invocation (`dbt.py`), the one loader of dbt's manifest (`manifest.py`),
the dbt sources generated from the contracts (`sources.py`) and which contracts get a
generated ingest DAG (`contract_dags.py`, read by `dags/ingest_contracts.py`).

Imports `core` and `ingestion` only; never Airflow or Cosmos.
"""
