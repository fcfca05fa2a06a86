"""Lineage: OpenLineage events for the gate and dbt (`openlineage.py`), and `explain`: a
published indicator cell back to the fact rows, batches, files and models behind it.

Imports `core` and `transform`; never Airflow at module level, never `delivery` or `cli`.
"""
