"""Lineage: OpenLineage events for the gate and dbt (`openlineage`), and explain: a
published indicator cell back to the fact rows, batches, files and models behind it
(`explain`, which reads the warehouse; `recompute`, the per-kind recomputation of a cell from
its rows; `graph`, the dbt models between the mart and the sources).

Imports `core` and `transform`; never Airflow at module level, never `delivery` or `cli`.
"""
