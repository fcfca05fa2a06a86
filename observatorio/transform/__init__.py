"""Transform: dbt invocation (`dbt.py`) and the one loader of dbt's manifest (`manifest.py`).

Imports `core` only; never Airflow or Cosmos.
"""
